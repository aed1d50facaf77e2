"""The action's verify mode over cosign v3 bundle signatures (issue 13, item 4).

An image signed only by a Sigstore bundle referrer (made by sigstore-python against the
local stack, attached as cosign v3 attaches it), only by a legacy ``.sig`` (made by the
action itself), or by both: the action verifies each and fills its outputs
(``certificate-identity``, ``rekor-log-index``, ``rekor-entry-url``, ``signature-ref``)
from the signature that passed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from signer.reference import Reference, parse_reference
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from tests.integration.action.conftest import GITHUB_TOKEN, ActionHarness, assert_no_secrets
from tests.integration.bundle.test_referrers import _attach, _push_image, _sign_statement

pytestmark = pytest.mark.slow


@pytest.fixture
def registry_client() -> Iterator[RegistryClient]:
    """A plain registry client for setting up images and referrers."""
    with RegistryClient() as client:
        yield client


def _verify(action: ActionHarness, ref: Reference) -> dict[str, str]:
    run = action.run({
        "mode": "verify", "images": ref.name,
        "certificate-identity": action.stack.default_identity,
        "certificate-oidc-issuer": action.stack.oidc_issuer_url,
        "trusted-root": str(action.stack.trusted_root_path),
    })
    assert run.succeeded, run.log
    assert "internal error" not in run.log
    assert run.outputs["verified"] == "true"
    assert run.outputs["certificate-identity"] == action.stack.default_identity
    assert "✅ verified" in run.summary
    assert_no_secrets(run, [GITHUB_TOKEN, action.stack.token_request_token])
    return run.outputs


def _sign_legacy(action: ActionHarness, ref: Reference) -> dict[str, str]:
    run = action.run({"images": ref.name, "verify-after-sign": "false",
                      "signature-format": "legacy", **action.stack_inputs()})
    assert run.succeeded, run.log
    return run.outputs


def _attach_bundle(action: ActionHarness, client: RegistryClient, ref: Reference,
                   digest: str) -> tuple[str, int]:
    """Attach a sigstore-python bundle; returns (referrer reference, its Rekor log index)."""
    bundle = _sign_statement(action.stack, digest, ref.repository_name)
    referrer = _attach(client, ref, digest, bundle)
    [entry] = json.loads(bundle)["verificationMaterial"]["tlogEntries"]
    return f"{ref.repository_name}@{referrer}", int(entry["logIndex"])


def _entry_url(action: ActionHarness, index: int) -> str:
    return f"{action.stack.rekor_url}/api/v1/log/entries?logIndex={index}"


def test_verify_legacy_sig_only(action: ActionHarness, registry: LocalRegistry,
                                registry_client: RegistryClient) -> None:
    ref = parse_reference(f"{registry.host}/action-bundles/legacy:v1")
    digest = _push_image(registry_client, ref, "action-legacy")
    signed = _sign_legacy(action, ref.with_digest(digest))
    outputs = _verify(action, ref)
    assert outputs["signature-ref"] == signed["signature-ref"]
    assert outputs["signature-ref"].endswith(f":{digest.replace(':', '-')}.sig")
    assert outputs["rekor-log-index"] == signed["rekor-log-index"]
    assert outputs["rekor-entry-url"] == _entry_url(action, int(signed["rekor-log-index"]))


def test_verify_bundle_referrer_only(action: ActionHarness, registry: LocalRegistry,
                                     registry_client: RegistryClient) -> None:
    ref = parse_reference(f"{registry.host}/action-bundles/bundle:v1")
    digest = _push_image(registry_client, ref, "action-bundle")
    referrer, index = _attach_bundle(action, registry_client, ref, digest)
    outputs = _verify(action, ref)
    assert outputs["digest"] == digest
    assert outputs["signature-ref"] == referrer
    assert outputs["rekor-log-index"] == str(index)
    assert outputs["rekor-entry-url"] == _entry_url(action, index)


def test_verify_legacy_and_bundle(action: ActionHarness, registry: LocalRegistry,
                                  registry_client: RegistryClient) -> None:
    ref = parse_reference(f"{registry.host}/action-bundles/both:v1")
    digest = _push_image(registry_client, ref, "action-both")
    signed = _sign_legacy(action, ref.with_digest(digest))
    referrer, index = _attach_bundle(action, registry_client, ref, digest)
    outputs = _verify(action, ref)
    # both signatures pass: the outputs come from one of them, consistently
    by_signature = {
        signed["signature-ref"]: int(signed["rekor-log-index"]),
        referrer: index,
    }
    assert outputs["signature-ref"] in by_signature
    expected_index = by_signature[outputs["signature-ref"]]
    assert outputs["rekor-log-index"] == str(expected_index)
    assert outputs["rekor-entry-url"] == _entry_url(action, expected_index)
