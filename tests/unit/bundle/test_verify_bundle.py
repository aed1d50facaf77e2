"""signer.verify.bundle and signer.verify.tsa: branches the corpus does not reach alone."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from signer.digest import parse_digest
from signer.errors import VerificationError
from signer.formats.bundle import parse_bundle, parse_legacy_blob_bundle
from signer.keys import load_public_key_pem
from signer.trust import TrustedRoot, ValidityPeriod
from signer.verify.bundle import (
    Artifact,
    BundleOptions,
    KeyPolicy,
    certificate_identity,
    verify_bundle,
    verify_legacy_blob_bundle,
)
from signer.verify.policy import IdentityPolicy
from signer.verify.tsa import verify_timestamps

BEACON = ("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
          ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main")
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


def _case(conformance_dir: Path, name: str) -> Path:
    return conformance_dir / "bundles" / name


def _document(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((path / "bundle.json").read_text())
    return data


def _trust(path: Path) -> TrustedRoot:
    expected = json.loads((path / "expected.json").read_text())
    return TrustedRoot.from_file(path / expected["trusted_root"])


def _artifact(path: Path) -> Artifact:
    return Artifact.from_bytes((path / "artifact").read_bytes())


def test_managed_key_bundle(conformance_dir: Path) -> None:
    path = _case(conformance_dir, "sc-managed-key-happy-path")
    key = load_public_key_pem((path / "key.pub").read_bytes())
    result = verify_bundle(parse_bundle(_document(path)), _artifact(path), _trust(path),
                           KeyPolicy(key))
    assert result.certificate is None and result.identity is None
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(VerificationError, match=r"^log entry: .*public key"):
        verify_bundle(parse_bundle(_document(path)), _artifact(path), _trust(path),
                      KeyPolicy(other))


def test_managed_key_without_tlog_needs_insecure_ignore_tlog(conformance_dir: Path) -> None:
    path = _case(conformance_dir, "sc-managed-key-happy-path")
    document = _document(path)
    document["verificationMaterial"]["tlogEntries"] = []
    bundle = parse_bundle(document)
    policy = KeyPolicy(load_public_key_pem((path / "key.pub").read_bytes()))
    with pytest.raises(VerificationError, match=r"^transparency log: "):
        verify_bundle(bundle, _artifact(path), _trust(path), policy)
    verify_bundle(bundle, _artifact(path), _trust(path), policy,
                  BundleOptions(require_tlog=False))


def test_key_policy_refuses_a_certificate_bundle(conformance_dir: Path) -> None:
    path = _case(conformance_dir, "sc-happy-path-v0.3")
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(VerificationError, match=r"^bundle: .*certificate"):
        verify_bundle(parse_bundle(_document(path)), _artifact(path), _trust(path),
                      KeyPolicy(key))


def test_digest_forms(conformance_dir: Path) -> None:
    path = _case(conformance_dir, "sc-happy-path-v0.3")
    bundle, trust = parse_bundle(_document(path)), _trust(path)
    policy = IdentityPolicy(identity=BEACON, issuer=GITHUB_ISSUER)
    digest = parse_digest("sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf")
    verify_bundle(bundle, Artifact.from_digest(digest), trust, policy)
    sha512 = parse_digest("sha512:" + "ab" * 64)
    with pytest.raises(VerificationError, match=r"^digest: "):
        verify_bundle(bundle, Artifact.from_digest(sha512), trust, policy)
    with pytest.raises(VerificationError, match=r"^digest: "):
        verify_bundle(bundle, None, trust, policy)


def test_dsse_without_artifact_returns_the_statement(conformance_dir: Path) -> None:
    path = _case(conformance_dir, "sc-happy-path-intoto-in-dsse-v3")
    result = verify_bundle(parse_bundle(_document(path)), None, _trust(path),
                           IdentityPolicy(identity=BEACON, issuer=GITHUB_ISSUER))
    assert result.statement is not None and result.statement["subject"]
    assert result.identity == BEACON and result.issuer == GITHUB_ISSUER
    assert [t.year for t in result.signed_times] == [2024]


def test_require_dsse_refuses_message_signatures(conformance_dir: Path) -> None:
    path = _case(conformance_dir, "sc-happy-path-v0.3")
    with pytest.raises(VerificationError, match="does not contain a DSSE envelope"):
        verify_bundle(parse_bundle(_document(path)), _artifact(path), _trust(path),
                      IdentityPolicy(identity=BEACON, issuer=GITHUB_ISSUER),
                      BundleOptions(require_dsse=True))


@pytest.mark.parametrize(("policy", "ok"), [
    (IdentityPolicy(identity=BEACON, issuer=GITHUB_ISSUER), True),
    (IdentityPolicy(identity_regexp=r"^https://github\.com/sigstore-conformance/",
                    issuer_regexp=r"githubusercontent"), True),
    (IdentityPolicy(identity=BEACON, identity_regexp="nomatch", issuer=GITHUB_ISSUER), False),
    (IdentityPolicy(identity=BEACON, issuer="https://accounts.google.com"), False),
    (IdentityPolicy(identity=BEACON, issuer_regexp="^google"), False),
    (IdentityPolicy(identity="https://github.com/sigstore-conformance", issuer=GITHUB_ISSUER),
     False),
])
def test_identity_policies(conformance_dir: Path, policy: IdentityPolicy, ok: bool) -> None:
    path = _case(conformance_dir, "sc-happy-path-v0.3")
    bundle = parse_bundle(_document(path))
    assert bundle.certificate is not None
    assert certificate_identity(bundle.certificate) == BEACON
    if ok:
        verify_bundle(bundle, _artifact(path), _trust(path), policy)
    else:
        with pytest.raises(VerificationError, match=r"^identity: "):
            verify_bundle(bundle, _artifact(path), _trust(path), policy)


def test_rekor_v2_proof_index_must_match_entry(conformance_dir: Path) -> None:
    path = _case(conformance_dir, "sc-rekor2-happy-path")
    document = _document(path)
    document["verificationMaterial"]["tlogEntries"][0]["logIndex"] = "734"
    with pytest.raises(VerificationError, match=r"^inclusion proof: "):
        verify_bundle(parse_bundle(document), _artifact(path), _trust(path),
                      IdentityPolicy(identity=BEACON, issuer=GITHUB_ISSUER))


def test_entry_kind_must_match_its_body(conformance_dir: Path) -> None:
    path = _case(conformance_dir, "sc-rekor2-happy-path")
    document = _document(path)
    document["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"] = "dsse"
    with pytest.raises(VerificationError, match=r"^log entry: "):
        verify_bundle(parse_bundle(document), _artifact(path), _trust(path),
                      IdentityPolicy(identity=BEACON, issuer=GITHUB_ISSUER))


def test_set_time_must_be_inside_the_log_keys_validity(conformance_dir: Path) -> None:
    path = _case(conformance_dir, "sc-happy-path-v0.3")
    trust = _trust(path)
    ended = ValidityPeriod(datetime(2021, 1, 1, tzinfo=timezone.utc),
                           datetime(2024, 3, 19, 17, 26, 25, tzinfo=timezone.utc))
    short = trust.replace(tlogs=tuple(dataclasses.replace(t, valid_for=ended)
                                      for t in trust.tlogs))
    with pytest.raises(VerificationError, match=r"^SET: the log key is not valid"):
        verify_bundle(parse_bundle(_document(path)), _artifact(path), short,
                      IdentityPolicy(identity=BEACON, issuer=GITHUB_ISSUER))


def test_sct_can_be_ignored_only_on_request(conformance_dir: Path) -> None:
    path = _case(conformance_dir, "sc-invalid-ct-key_fail")
    bundle, trust = parse_bundle(_document(path)), _trust(path)
    policy = IdentityPolicy(identity=BEACON, issuer=GITHUB_ISSUER)
    with pytest.raises(VerificationError, match=r"^SCT: "):
        verify_bundle(bundle, _artifact(path), trust, policy)
    verify_bundle(bundle, _artifact(path), trust, policy, BundleOptions(require_sct=False))


def test_strict_timestamp_verification(conformance_dir: Path) -> None:
    good = _case(conformance_dir, "sc-rekor2-happy-path")
    bundle = parse_bundle(_document(good))
    [when] = verify_timestamps(bundle.rfc3161_timestamps, bundle.signature, _trust(good))
    assert when == datetime(2025, 6, 12, 12, 2, 20, tzinfo=timezone.utc)
    with pytest.raises(VerificationError, match=r"^TSA: "):
        verify_timestamps(bundle.rfc3161_timestamps, b"other signature", _trust(good))
    with pytest.raises(VerificationError, match=r"^TSA: .*no timestamp authorities"):
        verify_timestamps(bundle.rfc3161_timestamps, bundle.signature,
                          _trust(good).replace(timestamp_authorities=()))


def test_legacy_blob_bundle_with_its_key(conformance_dir: Path) -> None:
    path = conformance_dir / "cosign-legacy/srs-cosign-sign-blob-bundle-2022-valid"
    legacy = parse_legacy_blob_bundle(json.loads((path / "cosign-blob-bundle.json").read_text()))
    trust = TrustedRoot.from_file(conformance_dir / "trust/public-good-trusted_root.json")
    digest = Artifact.from_digest(parse_digest(
        "sha256:4bc453b53cb3d914b45f4b250294236adba2c0e09ff6f03793949e7e39fd4cc1"))
    assert legacy.certificate is not None
    result = verify_legacy_blob_bundle(legacy, digest, trust,
                                       KeyPolicy(legacy.certificate.public_key()))
    assert result.signed_times[0] == datetime.fromtimestamp(1669361833, tz=timezone.utc)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(VerificationError, match=r"^bundle: both a key and a certificate"):
        verify_legacy_blob_bundle(legacy, digest, trust, KeyPolicy(other))


# ------------------------------------------------- the CMS walk of signer.verify.tsa


def _rekor2_timestamp(conformance_dir: Path) -> tuple[bytes, bytes, TrustedRoot]:
    path = _case(conformance_dir, "sc-rekor2-happy-path")
    bundle = parse_bundle(_document(path))
    return bundle.rfc3161_timestamps[0], bundle.signature, _trust(path)


def _flip(data: bytes, part: bytes) -> bytes:
    at = data.index(part) + len(part) - 1
    assert data.count(part) == 1
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def test_tampered_timestamp_parts_are_rejected(conformance_dir: Path) -> None:
    from signer.verify.tsa import _signer_info

    timestamp, signature, trust = _rekor2_timestamp(conformance_dir)
    from rfc3161_client import decode_timestamp_response

    token = decode_timestamp_response(timestamp).time_stamp_token()
    info, _tst = _signer_info(token)
    cases = {
        "signature does not verify": _flip(timestamp, info.signature),
        "signed attributes do not match": _flip(timestamp, info.message_digest),
        "signed attributes do not match the TSTInfo": timestamp.replace(
            b"20250612120220Z", b"20250612120221Z"),
    }
    for expected, tampered in cases.items():
        with pytest.raises(VerificationError, match=expected):
            verify_timestamps([tampered], signature, trust)


def test_timestamp_needs_the_authority_named_in_the_signer_info(conformance_dir: Path) -> None:
    timestamp, signature, trust = _rekor2_timestamp(conformance_dir)
    [authority] = trust.timestamp_authorities
    fulcio = trust.certificate_authorities[-1].chain
    impostor = dataclasses.replace(authority, chain=fulcio)
    with pytest.raises(VerificationError, match="not in the trusted root"):
        verify_timestamps([timestamp], signature, trust.replace(timestamp_authorities=(impostor,)))
    no_eku = dataclasses.replace(authority, chain=(authority.chain[0], fulcio[-1]))
    with pytest.raises(VerificationError, match=r"does not verify|EKU"):
        verify_timestamps([timestamp], signature, trust.replace(timestamp_authorities=(no_eku,)))


def test_cms_walk_agrees_with_rfc3161_client_on_real_timestamps(conformance_dir: Path) -> None:
    from rfc3161_client import VerifierBuilder, decode_timestamp_response

    for name in ("sc-rekor2-happy-path", "sc-rekor2-timestamp-with-embedded-cert",
                 "sc-rekor2-timestamp-without-embedded-cert", "sc-managed-key-happy-path"):
        path = _case(conformance_dir, name)
        bundle, trust = parse_bundle(_document(path)), _trust(path)
        [authority] = trust.timestamp_authorities
        builder = VerifierBuilder().tsa_certificate(authority.chain[0]).add_root_certificate(
            authority.chain[-1])
        for timestamp in bundle.rfc3161_timestamps:
            response = decode_timestamp_response(timestamp)
            assert builder.build().verify_message(response, bundle.signature)
            [when] = verify_timestamps([timestamp], bundle.signature, trust)
            assert when == response.tst_info.gen_time


def test_artifact_from_chunks_is_hashed_on_demand(conformance_dir: Path) -> None:
    import hashlib

    data = b"x" * 3_000_001
    reads = []

    def chunks() -> list[bytes]:
        reads.append(1)
        return [data[i:i + (1 << 20)] for i in range(0, len(data), 1 << 20)]

    artifact = Artifact.from_chunks(chunks)
    assert reads == []
    assert artifact.digest_bytes("sha256") == hashlib.sha256(data).digest()
    assert artifact.digest_bytes("sha256") == hashlib.sha256(data).digest()
    assert reads == [1]  # cached per algorithm
    assert artifact.digest_bytes("sha512") == hashlib.sha512(data).digest()
    assert artifact.content() == data and artifact.has_content
    assert not Artifact.from_digest(parse_digest("sha256:" + "0" * 64)).has_content


def test_ignoring_the_tlog_without_signed_time_uses_the_clock(conformance_dir: Path) -> None:
    path = _case(conformance_dir, "sc-happy-path-v0.3")
    document = _document(path)
    document["verificationMaterial"]["tlogEntries"] = []
    bundle, trust = parse_bundle(document), _trust(path)
    policy = IdentityPolicy(identity=BEACON, issuer=GITHUB_ISSUER)
    during = datetime(2024, 3, 19, 17, 30, tzinfo=timezone.utc)  # inside the 10-minute cert
    result = verify_bundle(bundle, _artifact(path), trust, policy,
                           BundleOptions(require_tlog=False, now=during))
    assert result.signed_times == (during,)
    with pytest.raises(VerificationError, match=r"^certificate chain: .*not valid"):
        verify_bundle(bundle, _artifact(path), trust, policy, BundleOptions(require_tlog=False))


def test_entries_from_unknown_logs_do_not_count(conformance_dir: Path) -> None:
    import base64
    import copy

    path = _case(conformance_dir, "sc-happy-path-v0.3")
    document = _document(path)
    entries = document["verificationMaterial"]["tlogEntries"]
    stranger = copy.deepcopy(entries[0])
    stranger["logId"]["keyId"] = base64.b64encode(b"\x01" * 32).decode()
    entries.append(stranger)
    policy = IdentityPolicy(identity=BEACON, issuer=GITHUB_ISSUER)
    result = verify_bundle(parse_bundle(document), _artifact(path), _trust(path), policy)
    assert len(result.tlog_entries) == 1
    document["verificationMaterial"]["tlogEntries"] = [stranger]
    with pytest.raises(VerificationError, match=r"^transparency log: log ID 0101"):
        verify_bundle(parse_bundle(document), _artifact(path), _trust(path), policy)
