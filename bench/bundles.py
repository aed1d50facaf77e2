"""Sigstore bundle verification: our verifier against sigstore-python's, same run.

The passing bundle cases of the conformance corpus (``bundles/``, 33 cases) are
verified 20 times each in this process, offline, with the trust material and
policy each ``expected.json`` names: parse the bundle, verify it fully. Trusted
roots are parsed once on both sides (``TrustedRoot`` / ``Verifier`` built once per
root). sigstore-python (test-only peer) does the same work through its public
``Verifier`` API on the cases it supports (it has no key-based bundles, no intoto
entries, and rejects a few upstream-valid roots and bundles); that common subset
gives the comparison row. Figures are per bundle (batch time / verifications).
Rounds alternate ours and the peer so machine load hits both alike. Our caches are
emptied before every pass (see :func:`_forget_parsed_material`), for both sides' work
to be a first verification of each bundle.

A profiled pass on each side also reports the time spent inside cryptography's native
signature checks: every check we make costs that much whatever the Python around it,
so sigstore-python's wall time divided by it is the largest speed-up these bindings
allow on this machine.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import Context, Row
from tests.corpus import CONFORMANCE as CORPUS

PASSES = 20


@dataclass
class _Case:
    name: str
    data: bytes
    expected: dict[str, Any]
    path: Path


def _passing_cases() -> list[_Case]:
    cases = []
    for path in sorted((CORPUS / "bundles").iterdir()):
        expected = json.loads((path / "expected.json").read_text())
        if expected["expect"] == "pass":
            cases.append(_Case(path.name, (path / "bundle.json").read_bytes(), expected, path))
    return cases


def _ours(cases: list[_Case]) -> Callable[[_Case], None]:
    from signer.digest import parse_digest
    from signer.formats.bundle import parse_bundle
    from signer.keys import load_public_key_pem
    from signer.trust import TrustedRoot
    from signer.verify.bundle import Artifact, KeyPolicy, Policy, verify_bundle
    from signer.verify.policy import IdentityPolicy

    roots: dict[Path, TrustedRoot] = {}
    prepared: dict[str, tuple[Artifact, TrustedRoot, Policy]] = {}
    for case in cases:
        e = case.expected
        root_path = (case.path / e["trusted_root"]).resolve()
        if root_path not in roots:
            roots[root_path] = TrustedRoot.from_file(root_path)
        policy: Policy
        if e["mode"] == "bundle-key":
            policy = KeyPolicy(load_public_key_pem((case.path / e["key"]).read_bytes()))
        else:
            policy = IdentityPolicy(identity=e["identity"], issuer=e["issuer"])
        artifact = (Artifact.from_bytes((case.path / e["artifact"]).read_bytes())
                    if e.get("artifact")
                    else Artifact.from_digest(parse_digest(e["artifact_digest"])))
        prepared[case.name] = (artifact, roots[root_path], policy)

    def verify(case: _Case) -> None:
        artifact, trust, policy = prepared[case.name]
        verify_bundle(parse_bundle(case.data), artifact, trust, policy)

    return verify


def _peer(cases: list[_Case]) -> tuple[Callable[[_Case], None], list[_Case]]:
    """sigstore-python's Verifier; returns the verify function and the cases it supports."""
    from sigstore.hashes import Hashed
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier, policy
    from sigstore_models.common.v1 import HashAlgorithm

    verifiers: dict[Path, Verifier] = {}
    prepared: dict[str, tuple[Verifier, Any, bytes | Hashed | None]] = {}
    supported = []
    for case in cases:
        e = case.expected
        if e["mode"] != "bundle-identity":
            continue  # no key-based bundle verification in sigstore-python
        try:
            root_path = (case.path / e["trusted_root"]).resolve()
            if root_path not in verifiers:
                verifiers[root_path] = Verifier(trusted_root=TrustedRoot.from_file(str(root_path)))
            identity = policy.Identity(identity=e["identity"], issuer=e["issuer"])
            artifact: bytes | Hashed | None = None
            if e["content"] != "dsse":
                artifact = ((case.path / e["artifact"]).read_bytes() if e.get("artifact") else
                            Hashed(algorithm=HashAlgorithm.SHA2_256,
                                   digest=bytes.fromhex(e["artifact_digest"].split(":", 1)[1])))
            prepared[case.name] = (verifiers[root_path], identity, artifact)
            _peer_verify(prepared[case.name], case.data, Bundle)
        except Exception:  # a case sigstore-python cannot verify: left out of the comparison
            prepared.pop(case.name, None)
            continue
        supported.append(case)

    def verify(case: _Case) -> None:
        _peer_verify(prepared[case.name], case.data, Bundle)

    return verify, supported


def _peer_verify(prepared: tuple[Any, Any, Any], data: bytes, bundle_type: Any) -> None:
    verifier, identity, artifact = prepared
    bundle = bundle_type.from_json(data)
    if artifact is None:
        verifier.verify_dsse(bundle, identity)
    else:
        verifier.verify_artifact(artifact, bundle, identity)


def _forget_parsed_material() -> None:
    """Empty our per-process caches (parsed certificates, CA signature links, issuer key
    hashes), so that every pass verifies each bundle as a fresh process would: caches
    only help across *different* bundles within a pass (shared CAs), never by having
    seen the same bundle in an earlier pass. sigstore-python keeps no such caches."""
    from signer import certificates
    from signer.verify import chain, sct

    for module, name in ((certificates, "_cache"), (chain, "_ISSUED_BY_CACHE"),
                         (sct, "_ISSUER_KEY_HASHES")):
        cache = getattr(module, name, None)
        if cache is not None:
            cache.clear()


def _batch(verify: Callable[[_Case], None], cases: list[_Case]) -> tuple[float, float]:
    """(wall, CPU) seconds per bundle for PASSES passes over ``cases``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(PASSES):
        _forget_parsed_material()
        for case in cases:
            verify(case)
    count = PASSES * len(cases)
    return (time.perf_counter() - wall) / count, (time.process_time() - cpu) / count


def _public_key_seconds(verify: Callable[[_Case], None], cases: list[_Case]) -> float:
    """Seconds per bundle spent inside cryptography's signature checks (ECDSA, Ed25519,
    RSA, X.509 links, and sigstore-python's X.509/PKCS#7 verifiers), over one pass
    with caches emptied, as cProfile attributes time to those native calls.

    This is the floor no implementation on these bindings can go below while making
    the same checks: it bounds the speed-up over a peer that makes them too.
    """
    import cProfile
    import pstats

    profile = cProfile.Profile()
    _forget_parsed_material()
    profile.enable()
    for case in cases:
        verify(case)
    profile.disable()
    # pstats keeps (file, line, name) -> (calls, primitive calls, own time, ...)
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profile).stats
    native = sum(row[2] for (file, _line, name), row in stats.items()
                 if file == "~" and "verify" in name
                 and ("cryptography" in name or "_rust.verify" in name))
    return native / len(cases)


def run(ctx: Context) -> list[Row]:
    """Per-bundle verification time, ours (all passing bundles) and against sigstore-python.

    Wall-clock rows as the harness measures everything; CPU-time rows too, since the
    bench machine is shared and wall time swings with its load.
    """
    if not (CORPUS / "bundles").is_dir():
        return []
    cases = _passing_cases()
    ours = _ours(cases)
    for case in cases:  # every case must verify before anything is timed
        ours(case)
    peer, common = _peer(cases)
    rounds = max(1, ctx.repeat)
    ours_all, ours_common, peer_common = [], [], []
    for _ in range(rounds):
        ours_all.append(_batch(ours, cases))
        ours_common.append(_batch(ours, common))
        peer_common.append(_batch(peer, common))
    floor_ours = [_public_key_seconds(ours, common) for _ in range(rounds)]
    floor_peer = [_public_key_seconds(peer, common) for _ in range(rounds)]
    every = f"{len(cases)} passing bundles x{PASSES}"
    shared = f"{len(common)} bundles sigstore-python supports x{PASSES}"
    return [
        Row(f"verify 1 bundle ({every}), wall", [w for w, _ in ours_all]),
        Row(f"verify 1 bundle ({shared}), wall", [w for w, _ in ours_common],
            [w for w, _ in peer_common], peer_name="sigstore-python"),
        Row(f"  of which signature checks inside cryptography ({len(common)} bundles, "
            "profiled)", floor_ours, floor_peer, peer_name="sigstore-python"),
        Row("  best ratio possible: sigstore-python's wall / our signature checks alone",
            [statistics.median(w for w, _ in peer_common) / statistics.median(floor_ours)],
            unit="x"),
        Row(f"verify 1 bundle ({every}), CPU", [c for _, c in ours_all]),
        Row(f"verify 1 bundle ({shared}), CPU", [c for _, c in ours_common],
            [c for _, c in peer_common], peer_name="sigstore-python"),
    ]
