"""Inputs and outputs users look for (issue 14, item 4), through the runner emulator.

- ``results``: a JSON array, one object per image, beside the single-image scalars;
- outputs are written even when the inputs are refused (``verified=false`` and
  ``results`` carrying the error);
- ``show-summary: false`` writes no job summary;
- ``signature-repository`` stores and finds signatures elsewhere (cosign's
  ``COSIGN_REPOSITORY``), in sign and verify mode;
- ``identity-token`` signs keyless with a token given directly (no ``id-token: write``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signer.testing.images import write_oci_layout
from signer.testing.registry import LocalRegistry
from tests.integration.action.conftest import GITHUB_TOKEN, ActionHarness, assert_no_secrets

pytestmark = pytest.mark.slow

RESULT_KEYS = {"image", "digest", "signed", "verified", "signature_refs",
               "certificate_identity", "certificate_oidc_issuer", "rekor_log_index",
               "rekor_entry_url", "attestation_ref", "error", "exit_code"}


def test_results_output_for_a_two_image_run(action: ActionHarness, registry: LocalRegistry,
                                            tmp_path: Path) -> None:
    layout = write_oci_layout(tmp_path / "layout", seed="outputs-two", tag="v1")
    first, second = (f"{registry.host}/action-outputs/one:v1",
                     f"{registry.host}/action-outputs/two:v1")
    signed = action.run({"push-from": str(layout.path), "images": f"{first}\n{second}",
                         **action.stack_inputs()})
    assert signed.succeeded, signed.log
    results = json.loads(signed.outputs["results"])
    assert [r["image"] for r in results] == [first, second]
    for result in results:
        assert set(result) == RESULT_KEYS
        assert result["signed"] is True and result["verified"] is True
        assert result["error"] is None and result["exit_code"] == 0
        assert result["digest"] == layout.digest
        assert result["certificate_identity"] == action.stack.default_identity
        assert result["certificate_oidc_issuer"] == action.stack.oidc_issuer_url
        assert isinstance(result["rekor_log_index"], int)
        assert result["rekor_entry_url"].startswith(action.stack.rekor_url)
        # both formats: the .sig first, then the bundle referrer (REPOSITORY@sha256:…)
        reference, referrer = result["signature_refs"]
        assert reference.endswith(f":{layout.digest.replace(':', '-')}.sig")
        assert "@sha256:" in referrer
    # the scalars stay those of the first image
    assert signed.outputs["signature-ref"] == results[0]["signature_refs"][0]
    assert signed.outputs["rekor-log-index"] == str(results[0]["rekor_log_index"])

    # verify: one image verifies, the other is not there
    missing = f"{registry.host}/action-outputs/missing:v1"
    verified = action.run({"mode": "verify", "images": f"{first} {missing}",
                           "certificate-oidc-issuer": action.stack.oidc_issuer_url,
                           "trusted-root": str(action.stack.trusted_root_path)})
    assert verified.exit_code == 11
    assert verified.outputs["verified"] == "false"
    ok, bad = json.loads(verified.outputs["results"])
    assert ok["verified"] is True and ok["signature_refs"] and ok["error"] is None
    assert bad["image"] == missing and bad["verified"] is False
    assert bad["exit_code"] == 11 and "not found" in bad["error"]
    for run in (signed, verified):
        assert_no_secrets(run, [GITHUB_TOKEN, action.stack.token_request_token])
    (tmp_path / "two-image-outputs.json").write_text(json.dumps(
        {"sign": signed.outputs, "verify": verified.outputs}, indent=2))


def test_outputs_are_written_when_the_inputs_are_refused(action: ActionHarness) -> None:
    run = action.run({"mode": "verify", "images": "Not/Lower:1, ok.example/r:1",
                      "tlog-upload": "maybe"})
    assert run.exit_code == 2
    assert run.outputs["verified"] == "false"
    results = json.loads(run.outputs["results"])
    assert [r["image"] for r in results] == ["Not/Lower:1", "ok.example/r:1"]
    for result in results:
        assert result["verified"] is False and result["exit_code"] == 2
        assert "images" in result["error"] and "tlog-upload" in result["error"]
    assert "input" in run.summary and "❌" in run.summary


def test_show_summary_false_writes_no_summary(action: ActionHarness,
                                              registry: LocalRegistry) -> None:
    run = action.run({"mode": "verify", "images": f"{registry.host}/action-outputs/none:v1",
                      "certificate-oidc-issuer": action.stack.oidc_issuer_url,
                      "trusted-root": str(action.stack.trusted_root_path),
                      "show-summary": "false"})
    assert run.exit_code == 11
    assert run.summary == ""
    assert run.outputs["verified"] == "false" and json.loads(run.outputs["results"])


def test_signature_repository_and_identity_token(action: ActionHarness,
                                                 registry: LocalRegistry,
                                                 tmp_path: Path) -> None:
    layout = write_oci_layout(tmp_path / "layout", seed="outputs-sigrepo", tag="v1")
    image = f"{registry.host}/action-outputs/app:v1"
    signatures = f"{registry.host}/action-outputs/signatures"
    token = action.stack.issue_token()
    signed = action.run({"push-from": str(layout.path), "images": image,
                         "signature-repository": signatures, "identity-token": token,
                         **action.stack_inputs()}, id_token=False)
    assert signed.succeeded, signed.log
    assert signed.outputs["signature-ref"].startswith(signatures + ":sha256-")
    assert signed.outputs["certificate-identity"] == action.stack.default_identity
    assert token in signed.masks
    verify = {"mode": "verify", "images": image,
              "certificate-oidc-issuer": action.stack.oidc_issuer_url,
              "trusted-root": str(action.stack.trusted_root_path)}
    found = action.run({**verify, "signature-repository": signatures})
    assert found.succeeded, found.log
    assert found.outputs["signature-ref"] == signed.outputs["signature-ref"]
    elsewhere = action.run(verify)  # the image's own repository has no signatures
    assert elsewhere.exit_code == 10
    bad = action.run({**verify, "signature-repository": f"{signatures}:tag"})
    assert bad.exit_code == 2
    assert any("signature-repository" in line for line in bad.log.splitlines()
               if line.startswith("::error"))
    for run in (signed, found, elsewhere, bad):
        assert_no_secrets(run, [token, GITHUB_TOKEN])
