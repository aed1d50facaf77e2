"""The action's ``signing-config`` and ``timestamp-server-url`` inputs (issue 15): the
services to sign with come from a signing config in the workspace (the local stack's,
naming Rekor v2 and its TSA), or a timestamp authority is named directly; the bundle the
``bundle-path`` output hands out carries the timestamp and the entry of the log chosen.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from signer.testing.images import write_oci_layout
from signer.testing.registry import LocalRegistry
from tests.integration.action.conftest import GITHUB_TOKEN, ActionHarness, assert_no_secrets
from tests.integration.sign.test_sign_bundle import _verify_with_sigstore_python

pytestmark = pytest.mark.slow


def _bundle_of(outputs: dict[str, str]) -> tuple[bytes, dict[str, Any]]:
    raw = Path(outputs["bundle-path"]).read_bytes()
    bundle: dict[str, Any] = json.loads(raw)
    return raw, bundle


def test_signing_config_in_the_workspace_signs_into_rekor_v2_with_a_timestamp(
        action: ActionHarness, registry: LocalRegistry, tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "layout", seed="action-signing-config", tag="v1")
    config = action.stack.signing_config_v02_path

    def checkout(workspace: Path) -> None:
        shutil.copy(config, workspace / "signing_config.v0.2.json")

    run = action.run({"push-from": str(image.path),
                      "images": f"{registry.host}/action/signing-config:v1",
                      "signing-config": "signing_config.v0.2.json",
                      "trusted-root": str(action.stack.trusted_root_path)},
                     checkout=checkout)
    assert run.succeeded, run.log
    assert run.outputs["verified"] == "true"  # both formats verified after signing
    raw, bundle = _bundle_of(run.outputs)
    material = bundle["verificationMaterial"]
    [entry] = material["tlogEntries"]
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
    assert "inclusionPromise" not in entry  # Rekor v2 gives no SET
    assert entry["inclusionProof"]["checkpoint"]["envelope"]
    assert len(material["timestampVerificationData"]["rfc3161Timestamps"]) == 1
    _verify_with_sigstore_python(action.stack, raw, run.outputs["digest"])
    # the legacy .sig needs a SET: it went to the config's Rekor v1
    assert run.outputs["rekor-entry-url"].startswith(action.stack.rekor_url)
    assert_no_secrets(run, [GITHUB_TOKEN, action.stack.token_request_token])


def test_timestamp_server_url_stamps_the_bundle(
        action: ActionHarness, registry: LocalRegistry, tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "layout", seed="action-tsa", tag="v1")
    run = action.run({"push-from": str(image.path),
                      "images": f"{registry.host}/action/timestamp-server:v1",
                      "signature-format": "bundle",
                      "timestamp-server-url": action.stack.tsa_url,
                      **action.stack_inputs()})
    assert run.succeeded, run.log
    raw, bundle = _bundle_of(run.outputs)
    material = bundle["verificationMaterial"]
    [entry] = material["tlogEntries"]
    assert entry["inclusionPromise"]["signedEntryTimestamp"]  # Rekor v1 (rekor-url)
    assert len(material["timestampVerificationData"]["rfc3161Timestamps"]) == 1
    _verify_with_sigstore_python(action.stack, raw, run.outputs["digest"])


def test_bad_signing_config_and_timestamp_server_inputs_are_refused(
        action: ActionHarness, registry: LocalRegistry, tmp_path: Path) -> None:
    run = action.run({"images": f"{registry.host}/action/refused:v1",
                      "signing-config": "no-such-config.json",
                      "timestamp-server-url": "https://user:hunter2@tsa.example",
                      **action.stack_inputs()})
    assert run.exit_code == 2
    errors = [line for line in run.log.splitlines() if line.startswith("::error")]
    assert any("signing-config" in line and "no-such-config.json" in line for line in errors)
    assert any("timestamp-server-url" in line and "user name or password" in line
               for line in errors)
    assert "hunter2" not in run.raw_log
    assert run.outputs["verified"] == "false"
    image = write_oci_layout(tmp_path / "layout", seed="action-broken-config", tag="v1")
    broken = action.run({"push-from": str(image.path),
                         "images": f"{registry.host}/action/broken-config:v1",
                         "signing-config": "broken.json", **action.stack_inputs()},
                        checkout=lambda workspace: (workspace / "broken.json").write_text("{"))
    assert broken.exit_code != 0 and not broken.succeeded
    assert "Traceback" not in broken.raw_log
    assert any(line.endswith("broken.json is not JSON") for line in broken.log.splitlines()
               if line.startswith("::error")), broken.log
    assert broken.outputs["bundle-path"] == "" and broken.outputs["signature-ref"] == ""
