"""The action's ``signature-format`` input and ``bundle-path`` output (issue 15): by
default it writes both the bundle referrer and the ``.sig``, verifies each on its own
after signing, and hands out the bundle file; ``legacy`` writes the ``.sig`` only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signer.reference import parse_reference
from signer.registry.client import RegistryClient
from signer.testing.images import write_oci_layout
from signer.testing.registry import LocalRegistry
from tests.integration.action.conftest import GITHUB_TOKEN, ActionHarness, assert_no_secrets

pytestmark = pytest.mark.slow


def test_both_formats_are_written_verified_and_the_bundle_handed_out(
        action: ActionHarness, registry: LocalRegistry, tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "layout", seed="action-both", tag="v1")
    repo = f"{registry.host}/action/both-formats"
    run = action.run({"push-from": str(image.path), "images": f"{repo}:v1",
                      **action.stack_inputs()})
    assert run.succeeded, run.log
    assert run.outputs["verified"] == "true"
    verified_lines = [line for line in run.log.splitlines() if line.startswith("verified ")]
    assert len(verified_lines) == 2, run.log  # the bundle referrer, then the .sig
    bundle_path = Path(run.outputs["bundle-path"])
    bundle = json.loads(bundle_path.read_bytes())
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    digest = run.outputs["digest"]
    with RegistryClient(insecure=(registry.host,)) as client:
        ref = parse_reference(f"{repo}:v1")
        index = client.get_manifest(ref.with_tag(digest.replace(":", "-"))).json()
        [entry] = index["manifests"]
        referrer = client.get_manifest(ref.with_digest(entry["digest"])).json()
        stored = client.get_blob(ref, referrer["layers"][0]["digest"])
        assert stored == bundle_path.read_bytes()
        assert client.head_manifest(ref.with_tag(digest.replace(":", "-") + ".sig"))
    assert_no_secrets(run, [GITHUB_TOKEN, action.stack.token_request_token])


def test_legacy_writes_the_sig_only_and_bad_values_are_refused(
        action: ActionHarness, registry: LocalRegistry, tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "layout", seed="action-legacy", tag="v1")
    repo = f"{registry.host}/action/legacy-format"
    run = action.run({"push-from": str(image.path), "images": f"{repo}:v1",
                      "signature-format": "legacy", **action.stack_inputs()})
    assert run.succeeded, run.log
    assert run.outputs["bundle-path"] == ""
    assert run.outputs["signature-ref"].endswith(".sig")
    digest = run.outputs["digest"]
    with RegistryClient(insecure=(registry.host,)) as client:
        ref = parse_reference(f"{repo}:v1")
        assert client.head_manifest(ref.with_tag(digest.replace(":", "-"))) is None
    bad = action.run({"images": f"{repo}:v1", "signature-format": "sbom",
                      **action.stack_inputs()})
    assert bad.exit_code != 0
    assert "signature-format" in bad.log
