"""The action takes the trusted root from a TUF repository (tuf-mirror, tuf-root) when
no trusted-root is given, caching it under runner.temp."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer.testing.images import write_oci_layout
from signer.testing.registry import LocalRegistry
from tests.integration.action.conftest import GITHUB_TOKEN, ActionHarness, assert_no_secrets

pytestmark = pytest.mark.slow


def test_sign_and_verify_with_the_stack_tuf_repository(
        action: ActionHarness, registry: LocalRegistry, tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "layout", seed="action-tuf", tag="v1")
    target = f"{registry.host}/action/tuf:v1"
    tuf = {"tuf-mirror": action.stack.tuf_url, "tuf-root": str(action.stack.tuf_root_path)}
    signed = action.run({"push-from": str(image.path), "images": target,
                         "fulcio-url": action.stack.fulcio_url,
                         "rekor-url": action.stack.rekor_url, **tuf})
    assert signed.succeeded, signed.log
    assert signed.outputs["verified"] == "true"
    assert f"trusted root: from TUF repository {action.stack.tuf_url}" in signed.log
    # the cache is the job's, under runner.temp
    caches = list(action.tmp.glob("run-0/**/signer-tuf/*/metadata/timestamp.json"))
    assert len(caches) == 1, list(action.tmp.glob("run-0/**/signer-tuf"))
    verified = action.run({"mode": "verify", "images": target,
                           "certificate-oidc-issuer": action.stack.oidc_issuer_url, **tuf})
    assert verified.succeeded, verified.log
    assert verified.outputs["verified"] == "true"
    assert_no_secrets(verified, [GITHUB_TOKEN, action.stack.token_request_token])


def test_trusted_root_and_tuf_inputs_exclude_each_other(action: ActionHarness) -> None:
    run = action.run({"mode": "verify", "images": "127.0.0.1:1/a/b:v1",
                      "trusted-root": str(action.stack.trusted_root_path),
                      "tuf-mirror": action.stack.tuf_url})
    assert run.exit_code == 2
    assert any(line.startswith("::error") and "trusted-root" in line
               for line in run.log.splitlines()), run.log


def test_a_tuf_repository_that_cannot_be_verified_fails_the_step(
        action: ActionHarness, tmp_path: Path) -> None:
    # the public-good root does not sign the stack's repository
    run = action.run({"mode": "verify", "images": "127.0.0.1:1/a/b@sha256:" + "a" * 64,
                      "certificate-identity": "x", "certificate-oidc-issuer": "y",
                      "tuf-mirror": action.stack.tuf_url})
    assert not run.succeeded
    assert f"TUF repository {action.stack.tuf_url}: refused" in run.log


def test_sign_with_only_the_tuf_inputs_uses_its_signing_config(
        action: ActionHarness, registry: LocalRegistry, tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "layout", seed="action-tuf-services", tag="v1")
    run = action.run({"push-from": str(image.path), "images": f"{registry.host}/action/tuf:s",
                      "tuf-mirror": action.stack.tuf_url,
                      "tuf-root": str(action.stack.tuf_root_path)})
    assert run.succeeded, run.log
    assert run.outputs["verified"] == "true"
    assert run.outputs["rekor-entry-url"].startswith(action.stack.rekor_url)
