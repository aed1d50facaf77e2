"""Issue 8.3: byte mutations of every conformance case never verify and never crash.

For every case of the conformance corpus (tests/conformance), bits are flipped in each
region (payload, signature, certificate, chain, SET, transparency-log entry, bundle
JSON, and for the image cases the ``.sig`` manifest). Every mutation must be rejected --
exit 1 or 12 with exactly one ``Error:`` line for bundles (through ``signer
verify-blob`` in-process), a failed check or a :class:`signer.errors.Error` for image signatures
(through the pure verifier) -- or be shown equivalent: its decoded content is
unchanged, or the mutated element is one the verifier does not use (removing it
still verifies). No other exception may escape. A sample also runs as a subprocess.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from signer.cli.main import main
from signer.errors import Error
from signer.formats.legacy import (
    ANNOTATION_BUNDLE,
    ANNOTATION_CERTIFICATE,
    ANNOTATION_CHAIN,
    ANNOTATION_SIGNATURE,
    SignatureLayer,
    build_signature_manifest,
    parse_signature_manifest,
)
from tests.integration.bundle.conftest import BUNDLE_CASES, CONFORMANCE_DIR
from tests.integration.bundle.conftest import load_case as load_bundle_case
from tests.unit.verify.cases import LegacyCase, image_cases
from tests.unit.verify.test_conformance_pure import _policy, _trust

pytestmark = pytest.mark.slow

#: mutations per (case, region); keeps the whole run to a few thousand
PER_REGION = 4
SEED = 8


@dataclass
class Tally:
    """What happened to the mutations."""

    tried: int = 0
    rejected: int = 0
    equivalent: list[str] = field(default_factory=list)
    false_accepts: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    by_region: Counter[str] = field(default_factory=Counter)


# -- mutation primitives ------------------------------------------------------------

def flip_bit(data: bytes, rng: random.Random) -> bytes:
    """One random bit of ``data`` flipped."""
    if not data:
        return b"\x01"
    position = rng.randrange(len(data))
    return data[:position] + bytes([data[position] ^ (1 << rng.randrange(8))]) + \
        data[position + 1:]


def flip_b64(text: str, rng: random.Random) -> str:
    """Flip a bit of the decoded bytes and re-encode (a valid-looking mutation); text
    that is not base64 (some failure cases) gets one character changed instead."""
    try:
        decoded = base64.b64decode(text, validate=True)
    except ValueError:
        return flip_bit(text.encode(), rng).decode("utf-8", errors="replace")
    return base64.b64encode(flip_bit(decoded, rng)).decode()


def flip_pem(text: str, rng: random.Random) -> str:
    """Flip a bit inside the DER of one PEM certificate."""
    lines = [line for line in text.strip().splitlines() if not line.startswith("-----")]
    der = flip_bit(base64.b64decode("".join(lines)), rng)
    body = base64.b64encode(der).decode()
    wrapped = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN CERTIFICATE-----\n{wrapped}\n-----END CERTIFICATE-----\n"


def pem_blocks(text: str) -> list[str]:
    """The PEM certificates of a chain, each with its armour."""
    blocks, current = [], []
    for line in text.strip().splitlines():
        current.append(line)
        if line.startswith("-----END"):
            blocks.append("\n".join(current) + "\n")
            current = []
    return blocks


def _pem_body(block: str) -> str:
    return "".join(line for line in block.splitlines() if not line.startswith("-----"))


def get_path(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def set_path(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    copied = copy.deepcopy(doc)
    get_path(copied, path[:-1])[path[-1]] = value
    return copied


def delete_path(doc: Any, path: tuple[Any, ...]) -> Any:
    copied = copy.deepcopy(doc)
    parent = get_path(copied, path[:-1])
    del parent[path[-1]]
    return copied


def same_decoded(a: Any, b: Any) -> bool:
    """Two JSON values equal once every base64 string is decoded (padding bits)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_decoded(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_decoded(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, str) and isinstance(b, str) and a != b:
        try:
            return base64.b64decode(a, validate=True) == base64.b64decode(b, validate=True)
        except ValueError:
            return False
    return bool(a == b)


# -- bundle cases ---------------------------------------------------------------------

#: Bundle fields whose value no verifier decision depends on (documented as hints).
UNUSED_FIELDS = {
    "hint": "publicKey.hint is an unauthenticated label; the key comes from --key",
}


def _run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def _bundle_targets(doc: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Base64 fields per region (JSON paths) present in this bundle."""
    material = doc.get("verificationMaterial", {})
    regions: dict[str, list[tuple[Any, ...]]] = {r: [] for r in (
        "payload", "signature", "certificate", "chain", "SET", "tlog")}
    if "messageSignature" in doc:
        regions["signature"].append(("messageSignature", "signature"))
        if "messageDigest" in doc["messageSignature"]:
            regions["payload"].append(("messageSignature", "messageDigest", "digest"))
    if "dsseEnvelope" in doc:
        regions["payload"].append(("dsseEnvelope", "payload"))
        for i, _ in enumerate(doc["dsseEnvelope"].get("signatures", [])):
            regions["signature"].append(("dsseEnvelope", "signatures", i, "sig"))
    if "certificate" in material:
        regions["certificate"].append(("verificationMaterial", "certificate", "rawBytes"))
    chain = material.get("x509CertificateChain", {}).get("certificates", [])
    for i, _ in enumerate(chain):
        regions["certificate" if i == 0 else "chain"].append(
            ("verificationMaterial", "x509CertificateChain", "certificates", i, "rawBytes"))
    for i, entry in enumerate(material.get("tlogEntries", [])):
        base = ("verificationMaterial", "tlogEntries", i)
        if "inclusionPromise" in entry:
            regions["SET"].append((*base, "inclusionPromise", "signedEntryTimestamp"))
        regions["tlog"].append((*base, "canonicalizedBody"))
        proof = entry.get("inclusionProof") or {}
        if "rootHash" in proof:
            regions["tlog"].append((*base, "inclusionProof", "rootHash"))
        for j, _ in enumerate(proof.get("hashes", [])[:2]):
            regions["tlog"].append((*base, "inclusionProof", "hashes", j))
    return {region: paths for region, paths in regions.items() if paths}


def _bundle_mutations(doc: dict[str, Any], raw: bytes, rng: random.Random
                      ) -> Iterator[tuple[str, tuple[Any, ...] | None, bytes]]:
    for region, paths in _bundle_targets(doc).items():
        for _ in range(PER_REGION):
            path = rng.choice(paths)
            value = get_path(doc, path)
            mutated = set_path(doc, path, flip_b64(value, rng))
            yield region, path, json.dumps(mutated).encode()
    for _ in range(PER_REGION * 2):
        yield "bundle JSON", None, flip_bit(raw, rng)


def _bundle_equivalent(case_argv: Callable[[Path], list[str]], bundle_file: Path,
                       doc: dict[str, Any], path: tuple[Any, ...] | None,
                       mutated: bytes) -> str | None:
    """Why an accepted mutation is equivalent, or None if it is not."""
    try:
        parsed = json.loads(mutated)
    except ValueError:
        return None
    if same_decoded(parsed, doc):
        return "same decoded content"
    if path is None and isinstance(parsed, dict):  # a raw flip: a renamed key?
        path = _renamed_key(doc, parsed)
        leaf = _changed_leaf(doc, parsed) if path is None else None
        if leaf is not None and leaf[-1] in UNUSED_FIELDS:
            return f"{'/'.join(map(str, leaf))}: {UNUSED_FIELDS[leaf[-1]]}"
        if leaf is not None and len(leaf) > 1 and isinstance(leaf[-2], int):
            path = leaf  # a value inside one element of a list (a timestamp, a cert)
    if path is None:
        return None
    if len(path) > 1 and isinstance(path[-2], int):
        path = path[:-1]  # remove the whole list element, not just its field
    bundle_file.write_text(json.dumps(delete_path(doc, path)))
    code, _ = _run_cli(case_argv(bundle_file))
    return f"{'/'.join(map(str, path))} unused (verifies without it)" if code == 0 else None


def _changed_leaf(old: Any, new: Any, path: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """The path of the one leaf value a raw flip changed (None if not exactly that)."""
    if isinstance(old, dict) and isinstance(new, dict) and old.keys() == new.keys():
        changed = [k for k in old if old[k] != new[k]]
        return _changed_leaf(old[changed[0]], new[changed[0]], (*path, changed[0])) \
            if len(changed) == 1 else None
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        changed_items = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
        return _changed_leaf(old[changed_items[0]], new[changed_items[0]],
                             (*path, changed_items[0])) if len(changed_items) == 1 else None
    if isinstance(old, (dict, list)) or isinstance(new, (dict, list)):
        return None
    return path if old != new else None


def _same_name_and_key(original_b64: str, mutated_b64: str) -> bool:
    """Both DER certificates parse with the same subject and public key."""
    from cryptography import x509

    try:
        a = x509.load_der_x509_certificate(base64.b64decode(original_b64))
        b = x509.load_der_x509_certificate(base64.b64decode(mutated_b64))
        return a.subject == b.subject and a.public_key() == b.public_key()
    except ValueError:
        return False


def _renamed_key(old: Any, new: Any, path: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """The path of an original key that a raw flip renamed (so the verifier lost it)."""
    if isinstance(old, dict) and isinstance(new, dict):
        missing = set(old) - set(new)
        if len(missing) == 1 and len(set(new) - set(old)) == 1:
            return (*path, missing.pop())
        for key in set(old) & set(new):
            found = _renamed_key(old[key], new[key], (*path, key))
            if found is not None:
                return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            found = _renamed_key(a, b, (*path, i))
            if found is not None:
                return found
    return None


def _mutate_bundle_case(name: str, tmp: Path, rng: random.Random, tally: Tally) -> None:
    case = load_bundle_case(name)
    raw = (case.path / "bundle.json").read_bytes()
    try:
        doc = json.loads(raw)
    except ValueError:  # a failure case whose bundle is not JSON: raw flips only
        doc = {}
    bundle_file = tmp / f"{name}.json"

    def argv_for(path: Path) -> list[str]:
        argv = case.argv("digest")
        argv[argv.index("--bundle") + 1] = str(path)
        return argv

    bundle_file.write_bytes(raw)
    baseline, _ = _run_cli(argv_for(bundle_file))
    assert (baseline == 0) == case.expect_pass, name
    mutations = list(_bundle_mutations(doc, raw, rng))
    # the artifact digest itself (payload region for every case)
    digest_argv = argv_for(case.path / "bundle.json")
    position = digest_argv.index("--digest") + 1
    hex_part = digest_argv[position].split(":", 1)[1]
    flipped = format(int(hex_part[-1], 16) ^ 1, "x")
    digest_argv[position] = digest_argv[position][:-1] + flipped
    tally.tried += 1
    code, err = _run_cli(digest_argv)
    _judge(tally, f"{name}/artifact digest", "payload", code, err)
    for region, path, mutated in mutations:
        tally.tried += 1
        tally.by_region[region] += 1
        bundle_file.write_bytes(mutated)
        label = f"{name}/{region}/{'/'.join(map(str, path)) if path else 'raw'}"
        try:
            code, err = _run_cli(argv_for(bundle_file))
        except Exception as exc:  # a crash is what we look for
            tally.crashes.append(f"{label}: {type(exc).__name__}: {exc}")
            continue
        if code == 0:
            why = _bundle_equivalent(argv_for, tmp / f"{name}-eq.json", doc, path, mutated)
            if why:
                tally.equivalent.append(f"{label}: {why}")
            else:
                tally.false_accepts.append(f"{label}: {_describe_flip(raw, mutated)}")
            continue
        _judge(tally, label, region, code, err)


def _describe_flip(raw: bytes, mutated: bytes) -> str:
    """Where a mutated document differs from the original (for failure messages)."""
    position = next((i for i, (a, b) in enumerate(zip(raw, mutated, strict=False)) if a != b),
                    min(len(raw), len(mutated)))
    return f"byte {position}: {raw[max(0, position - 40):position + 20]!r} -> " \
           f"{mutated[max(0, position - 40):position + 20]!r}"


def _judge(tally: Tally, label: str, region: str, code: int, err: str) -> None:
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    if "internal error" in err or "Traceback" in err:
        tally.crashes.append(f"{label}: {err.strip()[:300]}")
    elif code == 0:
        tally.false_accepts.append(label)
    elif code not in (1, 12) or len(errors) != 1:
        tally.crashes.append(f"{label}: exit {code}, {len(errors)} error lines: {err[:300]}")
    else:
        tally.rejected += 1


# -- image (legacy .sig) cases ------------------------------------------------------------

def _verify_layers(case: LegacyCase, layers: list[SignatureLayer], digest: str) -> bool:
    """True if any layer verifies (pure verifier); raises only signer Errors."""
    results = _verify_any(case, layers, digest)
    for result in results:
        assert "\n" not in result.reason
    return any(r.ok for r in results)


def _verify_any(case: LegacyCase, layers: list[SignatureLayer], digest: str) -> list[Any]:
    from signer.verify.verifier import verify_signatures

    return verify_signatures(layers, digest, _trust(case), _policy(case))


def _layer_mutations(layer: SignatureLayer, rng: random.Random
                     ) -> Iterator[tuple[str, str | None, SignatureLayer]]:
    annotations = dict(layer.annotations)

    def with_annotation(key: str, value: str) -> SignatureLayer:
        return SignatureLayer(layer.payload, layer.media_type, {**annotations, key: value})

    for _ in range(PER_REGION):
        yield "payload", None, SignatureLayer(flip_bit(layer.payload, rng), layer.media_type,
                                              annotations)
        yield "signature", ANNOTATION_SIGNATURE, with_annotation(
            ANNOTATION_SIGNATURE, flip_b64(annotations[ANNOTATION_SIGNATURE], rng))
    if ANNOTATION_CERTIFICATE in annotations:
        for _ in range(PER_REGION):
            yield "certificate", ANNOTATION_CERTIFICATE, with_annotation(
                ANNOTATION_CERTIFICATE, flip_pem(annotations[ANNOTATION_CERTIFICATE], rng))
    if annotations.get(ANNOTATION_CHAIN):
        blocks = pem_blocks(annotations[ANNOTATION_CHAIN])
        for _ in range(PER_REGION):
            index = rng.randrange(len(blocks))
            changed = [flip_pem(b, rng) if i == index else b for i, b in enumerate(blocks)]
            yield "chain", f"chain[{index}]", with_annotation(ANNOTATION_CHAIN, "".join(changed))
    if ANNOTATION_BUNDLE in annotations:
        bundle = json.loads(annotations[ANNOTATION_BUNDLE])
        for _ in range(PER_REGION):
            yield "SET", "SignedEntryTimestamp", with_annotation(ANNOTATION_BUNDLE, json.dumps(
                {**bundle, "SignedEntryTimestamp": flip_b64(bundle["SignedEntryTimestamp"],
                                                            rng)}))
            body = flip_b64(bundle["Payload"]["body"], rng)
            yield "tlog", "Payload.body", with_annotation(ANNOTATION_BUNDLE, json.dumps(
                {**bundle, "Payload": {**bundle["Payload"], "body": body}}))
            field_name = rng.choice(["integratedTime", "logIndex"])
            yield "tlog", f"Payload.{field_name}", with_annotation(ANNOTATION_BUNDLE, json.dumps(
                {**bundle, "Payload": {**bundle["Payload"],
                                       field_name: bundle["Payload"][field_name] ^ 1}}))
        raw = annotations[ANNOTATION_BUNDLE].encode()
        for _ in range(PER_REGION * 2):
            yield "bundle JSON", "raw", with_annotation(
                ANNOTATION_BUNDLE, flip_bit(raw, rng).decode("utf-8", errors="replace"))


def _layer_equivalent(case: LegacyCase, layer: SignatureLayer, mutated: SignatureLayer,
                      where: str | None, digest: str) -> str | None:
    if mutated.payload == layer.payload:
        a, b = dict(layer.annotations), dict(mutated.annotations)
        try:
            if ANNOTATION_BUNDLE in a and same_decoded(json.loads(a[ANNOTATION_BUNDLE]),
                                                       json.loads(b[ANNOTATION_BUNDLE])):
                a.pop(ANNOTATION_BUNDLE), b.pop(ANNOTATION_BUNDLE)
        except ValueError:
            pass
        if a == b:
            return "same decoded content"
    if where is None and ANNOTATION_CHAIN in layer.annotations and \
            mutated.payload == layer.payload and {
                k for k, v in mutated.annotations.items()
                if layer.annotations.get(k) != v} == {ANNOTATION_CHAIN}:
        before = pem_blocks(layer.annotations[ANNOTATION_CHAIN])
        after = pem_blocks(mutated.annotations[ANNOTATION_CHAIN])
        differing = [i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b]
        if len(before) == len(after) and len(differing) == 1:
            where = f"chain[{differing[0]}]"  # a manifest flip that landed in the chain
    if where and where.startswith("chain["):
        index = int(where[6:-1])
        blocks = pem_blocks(layer.annotations[ANNOTATION_CHAIN])
        changed = pem_blocks(mutated.annotations[ANNOTATION_CHAIN])
        if _same_name_and_key(_pem_body(blocks[index]), _pem_body(changed[index])):
            return (f"{where}: an unverified copy of a CA certificate whose name and key "
                    "(all that is used from it) are unchanged")
        without = "".join(b for i, b in enumerate(blocks) if i != index)
        stripped = SignatureLayer(layer.payload, layer.media_type,
                                  {**layer.annotations, ANNOTATION_CHAIN: without})
        if _verify_layers(case, [stripped], digest):
            return f"{where} unused (verifies without it)"
    return None


def _mutate_image_case(case: LegacyCase, rng: random.Random, tally: Tally) -> None:
    digest = case.digest
    results = _verify_any(case, case.layers, digest)
    passing = [r.index for r in results if r.ok]
    assert bool(passing) == case.expect_pass, case.name
    targets = [case.layers[passing[0]]] if passing else case.layers[:1]
    layer = targets[0]
    tally.tried += 1
    flipped_digest = digest[:-1] + format(int(digest[-1], 16) ^ 1, "x")
    _judge_layers(tally, case, f"{case.name}/image digest", "payload", [layer],
                  flipped_digest, layer, None)
    for region, where, mutated in _layer_mutations(layer, rng):
        tally.tried += 1
        tally.by_region[region] += 1
        _judge_layers(tally, case, f"{case.name}/{region}/{where or ''}", region, [mutated],
                      digest, layer, where)
    # the .sig manifest: flip bytes of the manifest that carries this layer
    manifest, _ = build_signature_manifest([layer])
    blobs = {layer.digest: layer.payload}
    for _ in range(PER_REGION * 2):
        tally.tried += 1
        tally.by_region["manifest"] += 1
        label = f"{case.name}/manifest"
        try:
            parsed = parse_signature_manifest(flip_bit(manifest, rng))
            layers = []
            for descriptor in parsed.layers:
                if descriptor.digest not in blobs:  # the registry has no such blob
                    raise Error(f"blob {descriptor.digest} not found")
                layers.append(SignatureLayer(blobs[descriptor.digest], descriptor.media_type,
                                             dict(descriptor.annotations)))
        except Error:
            tally.rejected += 1
            continue
        except Exception as exc:
            tally.crashes.append(f"{label}: {type(exc).__name__}: {exc}")
            continue
        if [(x.payload, x.media_type, dict(x.annotations)) for x in layers] == [
                (layer.payload, layer.media_type, dict(layer.annotations))]:
            if _verify_layers(case, layers, digest):
                tally.equivalent.append(f"{label}: the flip left the signature layer "
                                        "unchanged (config descriptor, sizes or formatting)")
            else:
                tally.rejected += 1
            continue
        _judge_layers(tally, case, label, "manifest", layers, digest, layer, None)


def _judge_layers(tally: Tally, case: LegacyCase, label: str, region: str,
                  layers: list[SignatureLayer], digest: str, original: SignatureLayer,
                  where: str | None) -> None:
    try:
        accepted = _verify_layers(case, layers, digest)
    except Error as error:
        if error.exit_code in (1, 12) and "\n" not in error.message:
            tally.rejected += 1
        else:
            tally.crashes.append(f"{label}: exit {error.exit_code}: {error.message}")
        return
    except Exception as exc:
        tally.crashes.append(f"{label}: {type(exc).__name__}: {exc}")
        return
    if not accepted:
        tally.rejected += 1
        return
    why = None
    if case.expect_pass and len(layers) == 1:
        why = _layer_equivalent(case, original, layers[0], where, digest)
    if why:
        tally.equivalent.append(f"{label}: {why}")
    else:
        changed = {k: v[:80] for k, v in layers[0].annotations.items()
                   if original.annotations.get(k) != v} if len(layers) == 1 else {}
        tally.false_accepts.append(f"{label}: layers {len(layers)}, media type "
                                   f"{layers[0].media_type if layers else None}, "
                                   f"changed annotations {changed}")


# -- the tests ------------------------------------------------------------------------------

def test_every_mutation_of_every_case_is_rejected_or_equivalent(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    tally = Tally()
    for name in BUNDLE_CASES:
        _mutate_bundle_case(name, tmp_path, rng, tally)
    image = image_cases()
    for case in image:
        _mutate_image_case(case, rng, tally)
    print(f"\nmutations: {tally.tried} tried over {len(BUNDLE_CASES)} bundle + {len(image)} "
          f"image cases; rejected {tally.rejected}; equivalent {len(tally.equivalent)}; "
          f"false accepts {len(tally.false_accepts)}; crashes {len(tally.crashes)}\n"
          f"by region: {dict(tally.by_region)}\nequivalent: {tally.equivalent}")
    assert not tally.crashes, "\n".join(tally.crashes[:40])
    assert not tally.false_accepts, "\n".join(tally.false_accepts[:40])
    assert tally.rejected + len(tally.equivalent) == tally.tried
    assert tally.tried > 2000


_SUBPROCESS_SAMPLE = ["sc-happy-path-v0.3", "sc-rekor2-dsse-happy-path",
                      "sc-managed-key-happy-path"]


@pytest.mark.parametrize("name", _SUBPROCESS_SAMPLE)
def test_mutated_bundle_through_the_cli_subprocess(name: str, tmp_path: Path) -> None:
    rng = random.Random(name)
    case = load_bundle_case(name)
    doc = json.loads((case.path / "bundle.json").read_bytes())
    for region, paths in _bundle_targets(doc).items():
        path = paths[0]
        mutated = set_path(doc, path, flip_b64(get_path(doc, path), rng))
        bundle_file = tmp_path / f"{region}.json"
        bundle_file.write_text(json.dumps(mutated))
        argv = case.argv("digest")
        argv[argv.index("--bundle") + 1] = str(bundle_file)
        result = subprocess.run([sys.executable, "-m", "signer", *argv], capture_output=True,
                                text=True, timeout=60, check=False)
        assert result.returncode in (1, 12), (region, result.stderr)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
        assert [line for line in result.stderr.splitlines()
                if line.startswith("Error:")], result.stderr


def test_corpus_is_present() -> None:
    assert len(BUNDLE_CASES) == 96 and CONFORMANCE_DIR.is_dir()
