"""signer.verify.tlog: JCS, SETs, RFC 6962 proofs and checkpoints."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from signer.errors import VerificationError
from signer.verify import tlog

# ------------------------------------------------------------------ JCS


def test_canonical_json_sorts_keys_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3 sorting example.
    obj = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7}
    keys = list(json.loads(tlog.canonical_json(obj)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


@pytest.mark.parametrize(("value", "expected"), [
    (1e30, "1e+30"), (4.50, "4.5"), (2e-3, "0.002"), (1e-27, "1e-27"), (-0.0, "0"),
    (333333333.33333329, "333333333.3333333"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
    (1e-7, "1e-7"), (1.5e-6, "0.0000015"), (-5e-324, "-5e-324"), (10, "10"),
])
def test_canonical_json_numbers(value: float, expected: str) -> None:
    assert tlog.canonical_json(value) == expected.encode()


def test_canonical_json_strings_escape_only_what_json_requires() -> None:
    text = 'a"b\\c\n\x01\u2028\u00e9/'
    assert tlog.canonical_json(text) == '"a\\"b\\\\c\\n\\u0001\u2028\u00e9/"'.encode()


def test_canonical_json_nested_and_compact() -> None:
    obj = {"b": [1, True, None, {"z": "y", "a": False}], "a": {}}
    assert tlog.canonical_json(obj) == b'{"a":{},"b":[1,true,null,{"a":false,"z":"y"}]}'


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {1: 2}, object()])
def test_canonical_json_rejects_what_json_cannot_hold(bad: object) -> None:
    with pytest.raises(ValueError):
        tlog.canonical_json(bad)


# --------------------------------------------------------------- Merkle
# Reference tree from RFC 6962 §2.1 (server side), independent of the verifier.


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return tlog.leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return tlog.node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) <= 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), _mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


# The eight-leaf test tree used across Certificate Transparency implementations.
_CT_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
_CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_reference_tree_matches_published_ct_roots() -> None:
    for size, root in enumerate(_CT_ROOTS, start=1):
        assert _mth(_CT_LEAVES[:size]).hex() == root


def test_inclusion_proofs_for_every_leaf_of_small_trees() -> None:
    leaves = [bytes([i]) * (i % 5) for i in range(19)]
    for n in range(1, len(leaves) + 1):
        root = _mth(leaves[:n])
        for m in range(n):
            proof = _path(m, leaves[:n])
            tlog.verify_inclusion(tlog.leaf_hash(leaves[m]), m, n, proof, root)


def test_inclusion_proof_against_ct_root() -> None:
    root = bytes.fromhex(_CT_ROOTS[-1])
    for m in range(8):
        tlog.verify_inclusion(tlog.leaf_hash(_CT_LEAVES[m]), m, 8, _path(m, _CT_LEAVES), root)


@pytest.mark.parametrize("tamper", ["leaf", "index", "size", "hash", "short", "long", "root"])
def test_inclusion_proof_tampering_is_detected(tamper: str) -> None:
    leaves = [str(i).encode() for i in range(13)]
    m, n = 5, 13
    leaf, proof, root = tlog.leaf_hash(leaves[m]), _path(m, leaves), _mth(leaves)
    if tamper == "leaf":
        leaf = tlog.leaf_hash(b"other")
    elif tamper == "index":
        m = 4
    elif tamper == "size":
        n = 20  # a different tree shape needs a different number of hashes
    elif tamper == "hash":
        proof[1] = bytes([proof[1][0] ^ 1]) + proof[1][1:]
    elif tamper == "short":
        proof = proof[:-1]
    elif tamper == "long":
        proof = [*proof, proof[0]]
    elif tamper == "root":
        root = hashlib.sha256(root).digest()
    with pytest.raises(VerificationError, match="inclusion proof"):
        tlog.verify_inclusion(leaf, m, n, proof, root)


@pytest.mark.parametrize(("index", "size"), [(-1, 5), (5, 5), (0, 0)])
def test_inclusion_proof_index_outside_tree(index: int, size: int) -> None:
    with pytest.raises(VerificationError, match="inclusion proof"):
        tlog.verify_inclusion(b"\0" * 32, index, size, [], b"\0" * 32)


def test_consistency_proofs_for_all_pairs_of_small_trees() -> None:
    leaves = [f"leaf-{i}".encode() for i in range(17)]
    for second in range(1, len(leaves) + 1):
        second_root = _mth(leaves[:second])
        for first in range(1, second + 1):
            proof = _subproof(first, leaves[:second], True) if first < second else []
            tlog.verify_consistency(first, second, proof, _mth(leaves[:first]), second_root)


def test_consistency_proof_tampering_is_detected() -> None:
    leaves = [f"leaf-{i}".encode() for i in range(11)]
    proof = _subproof(6, leaves, True)
    first_root, second_root = _mth(leaves[:6]), _mth(leaves)
    bad = [*proof]
    bad[0] = hashlib.sha256(bad[0]).digest()
    cases = [
        (6, 11, bad, first_root, second_root),
        (6, 11, proof[:-1], first_root, second_root),
        (6, 11, [*proof, proof[0]], first_root, second_root),
        (6, 11, proof, second_root, second_root),
        (7, 11, proof, first_root, second_root),
        (11, 6, proof, first_root, second_root),
        (6, 6, [], first_root, second_root),
    ]
    for first, second, p, r1, r2 in cases:
        with pytest.raises(VerificationError, match="consistency proof"):
            tlog.verify_consistency(first, second, p, r1, r2)


# ----------------------------------------------------------------- SET


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _trusted_tlog_key(trusted_root: Path, log_id_b64: str) -> object:
    root = json.loads(trusted_root.read_text())
    for log in root["tlogs"]:
        if log["logId"]["keyId"] == log_id_b64:
            return serialization.load_der_public_key(base64.b64decode(log["publicKey"]["rawBytes"]))
    raise AssertionError("log not in trusted root")


def test_set_round_trip_with_generated_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    fields = {"body": _b64(b'{"kind":"x"}'), "integrated_time": 1700000000,
              "log_id": "ab" * 32, "log_index": 42}
    payload = tlog.set_payload(fields["body"], 1700000000, "ab" * 32, 42)  # type: ignore[arg-type]
    assert payload == (b'{"body":"' + fields["body"].encode()  # type: ignore[union-attr]
                       + b'","integratedTime":1700000000,"logID":"' + b"ab" * 32
                       + b'","logIndex":42}')
    sig = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    tlog.verify_set({**fields, "signed_entry_timestamp": sig}, key.public_key())
    with pytest.raises(VerificationError, match="SET"):
        tlog.verify_set({**fields, "log_index": 43, "signed_entry_timestamp": sig},
                        key.public_key())
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(VerificationError, match="SET"):
        tlog.verify_set({**fields, "signed_entry_timestamp": sig}, other)
    with pytest.raises(VerificationError, match="SET"):
        tlog.verify_set({**fields, "signed_entry_timestamp": sig},
                        ed25519.Ed25519PrivateKey.generate().public_key())


def test_set_of_real_public_good_entry(conformance_dir: Path) -> None:
    bundle = json.loads((conformance_dir / "bundles/sc-happy-path-v0.3/bundle.json").read_text())
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    key = _trusted_tlog_key(conformance_dir / "trust/public-good-trusted_root.json",
                            entry["logId"]["keyId"])
    fields = {
        "signed_entry_timestamp": base64.b64decode(
            entry["inclusionPromise"]["signedEntryTimestamp"]),
        "body": entry["canonicalizedBody"],
        "integrated_time": int(entry["integratedTime"]),
        "log_index": int(entry["logIndex"]),
        "log_id": base64.b64decode(entry["logId"]["keyId"]).hex(),
    }
    tlog.verify_set(fields, key)
    with pytest.raises(VerificationError, match="SET"):
        tlog.verify_set({**fields, "integrated_time": fields["integrated_time"] + 1}, key)


def test_set_accepts_legacy_rekor_bundle(conformance_dir: Path) -> None:
    from signer.formats.legacy import parse_rekor_bundle
    from signer.keys import load_public_key_pem

    case = conformance_dir / "cosign-legacy/srs-cosign-sign-blob-bundle-2022-valid"
    rekor_bundle = parse_rekor_bundle((case / "bundle.json").read_bytes())
    key = load_public_key_pem((conformance_dir / "trust/legacy/rekor.pub").read_bytes())
    tlog.verify_set(rekor_bundle, key)


# ---------------------------------------------------------- checkpoints


def test_real_rekor_v1_checkpoint_and_inclusion_proof(conformance_dir: Path) -> None:
    bundle = json.loads((conformance_dir / "bundles/sc-happy-path-v0.3/bundle.json").read_text())
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    proof = entry["inclusionProof"]
    key = _trusted_tlog_key(conformance_dir / "trust/public-good-trusted_root.json",
                            entry["logId"]["keyId"])
    checkpoint = tlog.verify_checkpoint(proof["checkpoint"]["envelope"], key)
    assert checkpoint.origin == "rekor.sigstore.dev - 2605736670972794746"
    assert checkpoint.tree_size == int(proof["treeSize"])
    assert checkpoint.root_hash == base64.b64decode(proof["rootHash"])
    assert checkpoint.signatures[0].name == "rekor.sigstore.dev"
    leaf = tlog.leaf_hash(base64.b64decode(entry["canonicalizedBody"]))
    tlog.verify_inclusion(leaf, int(proof["logIndex"]), int(proof["treeSize"]),
                          [base64.b64decode(h) for h in proof["hashes"]], checkpoint.root_hash)
    # the same key under a different name only matters when a name is required
    with pytest.raises(VerificationError, match="checkpoint"):
        tlog.verify_checkpoint(proof["checkpoint"]["envelope"], key, "rekor.example")


def test_real_rekor_v2_checkpoint_with_c2sp_key_id(conformance_dir: Path) -> None:
    case = conformance_dir / "bundles/sc-rekor2-happy-path"
    entry = json.loads((case / "bundle.json").read_text())["verificationMaterial"]["tlogEntries"][0]
    key = _trusted_tlog_key(case / "trusted_root.json", entry["logId"]["keyId"])
    assert isinstance(key, ed25519.Ed25519PublicKey)
    name = "log2025-alpha1.rekor.sigstage.dev"
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert tlog.c2sp_key_id(name, raw) == base64.b64decode(entry["logId"]["keyId"])
    envelope = entry["inclusionProof"]["checkpoint"]["envelope"]
    checkpoint = tlog.verify_checkpoint(envelope, key, name)
    assert (checkpoint.origin, checkpoint.tree_size) == (name, 736)
    with pytest.raises(VerificationError, match="checkpoint"):
        tlog.verify_checkpoint(envelope, key, "log2025-alpha1.rekor.github.dev")


def _note(body: str, signers: list[tuple[str, bytes, object]]) -> str:
    lines = []
    for name, hint, private in signers:
        if isinstance(private, ed25519.Ed25519PrivateKey):
            sig = private.sign(body.encode())
        else:
            assert isinstance(private, ec.EllipticCurvePrivateKey)
            sig = private.sign(body.encode(), ec.ECDSA(hashes.SHA256()))
        lines.append(f"\u2014 {name} {_b64(hint + sig)}\n")
    return body + "\n" + "".join(lines)


def _ed25519_hint(name: str, private: ed25519.Ed25519PrivateKey) -> bytes:
    raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    return tlog.c2sp_key_id(name, raw)[:4]


def test_generated_checkpoint_ignores_witness_and_foreign_lines() -> None:
    name = "log.example.dev"
    log_key = ed25519.Ed25519PrivateKey.generate()
    witness = ed25519.Ed25519PrivateKey.generate()
    foreign = ec.generate_private_key(ec.SECP256R1())
    body = f"{name}\n7\n{_b64(b'r' * 32)}\n"
    text = _note(body, [("witness.example", _ed25519_hint("witness.example", witness), witness),
                        (name, b"\x01\x02\x03\x04", foreign),
                        (name, _ed25519_hint(name, log_key), log_key)])
    checkpoint = tlog.verify_checkpoint(text, log_key.public_key(), name)
    assert checkpoint.tree_size == 7 and len(checkpoint.signatures) == 3
    # no line from the log key -> failure that names the checkpoint
    only_witness = _note(body, [("witness.example", _ed25519_hint("witness.example", witness),
                                 witness)])
    with pytest.raises(VerificationError, match="checkpoint"):
        tlog.verify_checkpoint(only_witness, log_key.public_key(), name)


def test_generated_ecdsa_checkpoint_with_extra_line_and_bad_signature() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    hint = tlog.checkpoint_key_hint(key.public_key())
    body = f"rekor.local - 42\n3\n{_b64(b'x' * 32)}\nTimestamp: 1689177396000000000\n"
    text = _note(body, [("rekor.local", hint, key)])
    assert tlog.verify_checkpoint(text, key.public_key()).extra_lines == (
        "Timestamp: 1689177396000000000",)
    tampered = text.replace("\n3\n", "\n4\n")
    with pytest.raises(VerificationError, match="checkpoint: signature does not verify"):
        tlog.verify_checkpoint(tampered, key.public_key())


@pytest.mark.parametrize("text", [
    "",  # nothing
    "origin\n3\nAAAA\n",  # no signatures
    f"3\n{_b64(b'x' * 32)}\n\n\u2014 o {_b64(b'x' * 40)}\n",  # origin missing
    f"o\n{_b64(b'x' * 32)}\n\n\u2014 o {_b64(b'x' * 40)}\n",  # size missing
    "o\n3\n\n\u2014 o AAAAAAAA\n",  # root hash missing
    f"o\n-3\n{_b64(b'x' * 32)}\n\n\u2014 o {_b64(b'x' * 40)}\n",  # negative size
    f"o\n3\n{_b64(b'x' * 31)}\n\n\u2014 o {_b64(b'x' * 40)}\n",  # short root
    f"o\n3\n{_b64(b'x' * 32)}\n\n",  # no signature lines
    f"o\n3\n{_b64(b'x' * 32)}\n\n- o {_b64(b'x' * 40)}\n",  # not an em dash
    f"o\n3\n{_b64(b'x' * 32)}\n\n\u2014 o {_b64(b'x' * 40)}",  # no final newline
    f"o\n3\n{_b64(b'x' * 32)}\n\n\u2014 o AAAA\n",  # signature too short
])
def test_malformed_checkpoints_are_rejected(text: str) -> None:
    with pytest.raises(VerificationError, match="checkpoint"):
        tlog.parse_checkpoint(text)


def test_set_with_any_key_tries_each_key_and_reports_the_last_failure() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    entry = {"body": _b64(b"{}"), "integrated_time": 1700000000, "log_id": "cd" * 32,
             "log_index": 7}
    payload = tlog.set_payload(_b64(b"{}"), 1700000000, "cd" * 32, 7)
    entry["signed_entry_timestamp"] = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    tlog.verify_set_with_any_key(entry, [other, key.public_key()])
    with pytest.raises(VerificationError, match="does not verify"):
        tlog.verify_set_with_any_key(entry, [other])
    with pytest.raises(VerificationError, match="no transparency log key"):
        tlog.verify_set_with_any_key(entry, [])
