"""The action's ``mode: verify-attestation``, run as a runner runs it.

The image's attestations are written by sigstore-python against the local stack and
attached as actions/attest's ``push-to-registry`` does (bundle referrers with the
``dev.sigstore.bundle.predicateType`` annotation); the action must verify the SLSA
provenance with its default policy ("made by a workflow run of this repository"),
report the referrer, and refuse another type, a self-hosted runner when denied, and
inputs that do not belong to the mode.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from signer.formats.attestation import SLSA_PROVENANCE_V1, SPDX, Subject, attestation_statement
from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.testing.images import write_oci_layout
from signer.testing.registry import LocalRegistry
from tests.integration.action.conftest import GITHUB_TOKEN, ActionHarness, assert_no_secrets
from tests.integration.action.test_action_identity import token_claims
from tests.integration.attest.test_attest import _sigstore_python_verifies
from tests.integration.attest.test_provenance_runner import (
    RUN,
    RUNNER_ENV,
    assert_provenance_of_run,
)
from tests.integration.attest.test_verify_attestation import _provenance, _sign
from tests.integration.bundle.test_referrers import _attach
from tests.integration.verify.conftest import push_plain_image

pytestmark = pytest.mark.slow


@pytest.fixture
def attested(action: ActionHarness, registry: LocalRegistry) -> dict[str, Reference]:
    stack = action.stack
    with RegistryClient() as client:
        made = {name: push_plain_image(registry, client, f"action-attest/{name}")
                for name in ("hosted", "self-hosted")}
        for name, runner in (("hosted", "github-hosted"), ("self-hosted", "self-hosted")):
            image = made[name]
            _attach(client, image, str(image.digest),
                    _provenance(stack, image, runner_environment=runner)[1],
                    predicate_type=SLSA_PROVENANCE_V1)
        hosted = made["hosted"]
        sbom = attestation_statement([Subject(hosted.repository_name, str(hosted.digest))],
                                     SPDX, {"spdxVersion": "SPDX-2.3"})
        _attach(client, hosted, str(hosted.digest), _sign(stack, sbom), predicate_type=SPDX)
    return made


def test_verify_attestation_mode(action: ActionHarness,
                                 attested: dict[str, Reference]) -> None:
    stack = action.stack
    common = {"mode": "verify-attestation", "trusted-root": str(stack.trusted_root_path),
              "certificate-oidc-issuer": stack.oidc_issuer_url}
    hosted = attested["hosted"]
    tag = str(hosted.repository_only().with_tag("v1"))
    ok = action.run({**common, "images": tag, "deny-self-hosted-runners": "true"})
    assert ok.succeeded, ok.log
    assert ok.outputs["verified"] == "true"
    assert ok.outputs["digest"] == hosted.digest
    assert ok.outputs["signature-ref"].startswith(f"{hosted.repository_name}@sha256:")
    assert ok.outputs["certificate-identity"] == stack.default_identity
    assert "Verify attestations (https://slsa.dev/provenance/v1)" in ok.log
    assert "1 attestation(s) of https://slsa.dev/provenance/v1" in ok.log
    assert "## signer verify-attestation: ✅ success" in ok.summary
    # the SPDX document is found by its type, the SLSA provenance then does not count
    sbom = action.run({**common, "images": tag, "predicate-type": "spdxjson"})
    assert sbom.succeeded, sbom.log
    assert sbom.outputs["signature-ref"] != ok.outputs["signature-ref"]

    other_type = action.run({**common, "images": tag, "predicate-type": "cyclonedx"})
    assert other_type.exit_code == 12, other_type.log
    assert other_type.outputs["verified"] == "false"
    assert "type: the predicate type is" in other_type.log

    denied = action.run({**common, "images": str(attested["self-hosted"]),
                         "deny-self-hosted-runners": "true"})
    assert denied.exit_code == 12, denied.log
    assert "runner environment" in denied.log

    elsewhere = action.run({**common, "images": tag}, repository="someone-else/octo-repo")
    assert elsewhere.exit_code == 12, elsewhere.log
    assert "source repository" in elsewhere.log
    for run in (ok, sbom, other_type, denied, elsewhere):
        assert_no_secrets(run, [GITHUB_TOKEN, stack.token_request_token])


def test_inputs_that_do_not_belong_to_the_mode_are_refused(
        action: ActionHarness, attested: dict[str, Reference]) -> None:
    image = str(attested["hosted"])
    bad_type = action.run({"mode": "verify-attestation", "images": image,
                           "predicate-type": "not a type"})
    assert bad_type.exit_code == 2
    assert "predicate-type" in bad_type.log and "invalid predicate type" in bad_type.log
    in_sign_mode = action.run({"images": image, "predicate-type": "slsaprovenance1"})
    assert in_sign_mode.exit_code == 2
    assert "only used in verify-attestation mode" in in_sign_mode.log
    with_key = action.run({"mode": "verify-attestation", "images": image, "key": "cosign.key"})
    assert with_key.exit_code == 2


def test_sign_mode_attests_build_provenance(action: ActionHarness, registry: LocalRegistry,
                                            tmp_path: Path) -> None:
    """``attest: provenance`` in an emulated job whose token carries the run's claims:
    the provenance names that run field by field, sigstore-python verifies the bundle
    offline, and verify-attestation mode finds the referrer."""
    stack = action.stack
    image = write_oci_layout(tmp_path / "layout", seed="action-provenance", tag="v1")
    repo = f"{registry.host}/action-attest/provenance"
    with token_claims(stack, RUN):
        run = action.run({"push-from": str(image.path), "images": f"{repo}:v1",
                          "attest": "provenance", "signature-format": "bundle",
                          **action.stack_inputs()}, extra_env=RUNNER_ENV)
    assert run.succeeded, run.log
    assert run.outputs["attestation-ref"].startswith(f"{repo}@sha256:")
    assert run.outputs["attestation-ref"] != run.outputs["signature-ref"]
    bundle = Path(run.outputs["attestation-bundle-path"]).read_bytes()
    statement = _sigstore_python_verifies(stack, bundle,
                                          f"https://github.com/{RUN['job_workflow_ref']}")
    assert statement["subject"][0]["digest"] == {"sha256": str(image.digest).split(":")[1]}
    # the emulated job's GITHUB_SERVER_URL
    assert_provenance_of_run(statement["predicate"], "https://github.com")
    assert "| Provenance attestation |" in run.summary
    # verify-after-sign checked the attestation it stored, through the registry
    assert f"the provenance attestation {run.outputs['attestation-ref']}" in run.log
    assert run.outputs["verified"] == "true"
    checked = action.run({"mode": "verify-attestation", "images": f"{repo}:v1",
                          "trusted-root": str(stack.trusted_root_path),
                          "certificate-oidc-issuer": stack.oidc_issuer_url,
                          "source-ref": RUN["ref"]})
    assert checked.succeeded, checked.log
    assert checked.outputs["signature-ref"] == run.outputs["attestation-ref"]
    assert_no_secrets(run, [GITHUB_TOKEN, stack.token_request_token])
