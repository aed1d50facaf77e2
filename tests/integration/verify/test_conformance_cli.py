"""Conformance through the public CLI: each of the 22 cosign-legacy image cases is
pushed into the real test registry as a ``.sig`` manifest under the case's manifest
digest, then ``python -m signer verify HOST/repo@DIGEST`` runs with the trust
material, key, identity, tlog requirement and signed-identity policy that the case's
expected.json names, and must give the expected result.

The signed image manifests themselves cannot be pushed: the corpus does not publish
their config and layer blobs, and the registry refuses a manifest whose blobs are
unknown. A digest reference is verified without fetching the image (as cosign does);
where the corpus has ``manifest.json`` its sha256 is checked against the digest.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.integration.verify.conftest import PushSignatures, run_cli
from tests.unit.verify.cases import LegacyCase, cli_arguments, cli_environment, image_cases

CASES = image_cases()


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_legacy_case_through_cli(case: LegacyCase, push_signatures: PushSignatures) -> None:
    manifest = case.file("manifest")
    if manifest is not None:
        assert f"sha256:{hashlib.sha256(manifest.read_bytes()).hexdigest()}" == case.digest
    image = push_signatures(f"conformance/{case.name.lower().replace('_', '-')}",
                            case.digest, case.layers)
    result = run_cli(["verify", *cli_arguments(case), str(image)], cli_environment(case))
    assert "Traceback" not in result.stderr
    if case.expect_pass:
        assert result.returncode == 0, result.stderr
        assert f"Verification for {image.name} --" in result.stderr
        verified = json.loads(result.stdout)
        assert verified, result.stdout
        for element in verified:
            assert element["critical"]["image"]["docker-manifest-digest"] == case.digest
            if case.mode != "legacy-key":  # cosign's Subject: the first SAN, DNS first
                subject = case.expected.get("hostname") or case.expected["identity"]
                assert element["optional"]["Subject"] == subject
    else:
        assert result.returncode == 12, result.stderr
        assert result.stdout == ""
        assert f"no matching signatures for {image.name}" in result.stderr
        lines = [line for line in result.stderr.splitlines() if line.startswith("  signature ")]
        assert len(lines) == len(case.layers)


def test_case_count() -> None:
    assert len(CASES) == 22
