"""Mangled bundles and log bodies give a signer error, never another exception.

Deterministic mutations (seeded) of real bundles: drop members, swap types, corrupt
base64 and nested log-entry bodies. Every outcome must be a pass or a
:class:`signer.errors.Error` — anything else would reach the user as a traceback.
"""

from __future__ import annotations

import base64
import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from signer.digest import parse_digest
from signer.errors import Error
from signer.formats.bundle import parse_bundle
from signer.trust import TrustedRoot
from signer.verify.bundle import Artifact, verify_bundle
from signer.verify.policy import IdentityPolicy

CASES = ["sc-happy-path-v0.1", "sc-happy-path-intoto-in-dsse-v3", "sc-rekor2-happy-path",
         "sgo-sigstorejs-2.0.0-provenance", "sc-rekor2-dsse-happy-path"]
_REPLACEMENTS: list[Any] = [None, 0, -1, "", "AAAA", "!!", [], {}, True, 1.5, "x" * 3]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _set(document: Any, path: tuple[Any, ...], value: Any, delete: bool) -> None:
    for key in path[:-1]:
        document = document[key]
    if delete and isinstance(document, dict):
        del document[path[-1]]
    else:
        document[path[-1]] = value


def _mutate_body(document: dict[str, Any], rng: random.Random) -> None:
    entries = document["verificationMaterial"].get("tlogEntries") or []
    if not entries:
        return
    entry = entries[0]
    body = json.loads(base64.b64decode(entry["canonicalizedBody"]))
    path = rng.choice(_paths(body))
    _set(body, path, rng.choice(_REPLACEMENTS), rng.random() < 0.3)
    entry["canonicalizedBody"] = base64.b64encode(json.dumps(body).encode()).decode()


@pytest.mark.parametrize("case", CASES)
def test_mutations_never_escape_as_non_signer_errors(case: str, conformance_dir: Path) -> None:
    path = conformance_dir / "bundles" / case
    expected = json.loads((path / "expected.json").read_text())
    original = json.loads((path / "bundle.json").read_text())
    trust = TrustedRoot.from_file(path / expected["trusted_root"])
    policy = IdentityPolicy(identity=expected["identity"], issuer=expected["issuer"])
    artifact = Artifact.from_digest(parse_digest(expected["artifact_digest"]))
    rng = random.Random(f"bundle-robustness-{case}")
    paths = _paths(original)
    checks: set[str] = set()
    for _ in range(300):
        document = copy.deepcopy(original)
        if rng.random() < 0.3:
            _mutate_body(document, rng)
        else:
            target = rng.choice(paths)
            _set(document, target, rng.choice(_REPLACEMENTS), rng.random() < 0.3)
        try:
            verify_bundle(parse_bundle(document), artifact, trust, policy)
        except Error as err:
            checks.add(err.message.split(":", 1)[0])
    # the mutations reach past parsing into the verification checks
    assert len(checks) >= 4, checks


def test_byte_flips_in_timestamps_never_escape(conformance_dir: Path) -> None:
    from signer.verify.tsa import timestamp_verifier

    path = conformance_dir / "bundles" / "sc-rekor2-happy-path"
    bundle = parse_bundle((path / "bundle.json").read_bytes())
    verifier = timestamp_verifier(TrustedRoot.from_file(path / "trusted_root.json"))
    original = bundle.rfc3161_timestamps[0]
    rng = random.Random("tsa-flips")
    accepted = 0
    for _ in range(400):
        data = bytearray(original)
        for _ in range(rng.choice((1, 1, 2, 8))):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        try:
            verifier.verify(bytes(data), bundle.signature)
            accepted += 1
        except Error:
            pass
    # only three bits of the whole response are not covered by a check (the SignedData
    # and SignerInfo version numbers and the certificates' [0] tag, all unsigned and
    # unused); every other flip must be refused
    assert accepted <= 8, accepted


@pytest.mark.parametrize(("old", "new"), [
    (b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x06"),  # an unknown X.509 version
    (bytes.fromhex("2a8648ce3d0201"), bytes.fromhex("2e8648ce3d0201")),  # unknown key type
])
def test_malformed_leaf_certificates_fail_cleanly(old: bytes, new: bytes,
                                                  conformance_dir: Path) -> None:
    path = conformance_dir / "bundles" / "sc-happy-path-v0.3"
    expected = json.loads((path / "expected.json").read_text())
    document = json.loads((path / "bundle.json").read_text())
    raw = base64.b64decode(document["verificationMaterial"]["certificate"]["rawBytes"])
    assert raw.count(old) >= 1
    broken = raw.replace(old, new, 1)
    document["verificationMaterial"]["certificate"]["rawBytes"] = base64.b64encode(
        broken).decode()
    with pytest.raises(Error):
        verify_bundle(parse_bundle(document),
                      Artifact.from_digest(parse_digest(expected["artifact_digest"])),
                      TrustedRoot.from_file(path / expected["trusted_root"]),
                      IdentityPolicy(identity=expected["identity"], issuer=expected["issuer"]))
