"""Issue 13.6: on the bundle path only signatures count as signatures, and a bad bundle
does not hide a good ``.sig``.

Bundles are made by sigstore-python against the local stack and attached as cosign v3
does (referrers tag schema); legacy signatures by ``signer sign``; everything lives in
the real test registry and is verified through the public CLI.
"""

from __future__ import annotations

import json

import pytest
from sigstore.dsse import Statement
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

from signer.reference import Reference, parse_reference
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.integration.bundle.test_referrers import _attach, _push_image, _sign_statement
from tests.integration.verify.conftest import run_cli
from tests.integration.verify.hostile import sign_keyless
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

pytestmark = pytest.mark.slow

SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
OTHER_WORKFLOW = "attacker/tools/.github/workflows/sign.yml@refs/heads/main"


def _sign_predicate(stack: Stack, image_digest: str, name: str, predicate_type: str,
                    token: str | None = None) -> bytes:
    """A DSSE bundle over an in-toto statement about the image, by sigstore-python."""
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": image_digest.split(":", 1)[1]}}],
        "predicateType": predicate_type,
        "predicate": {"buildDefinition": {"buildType": "https://example.com/build"}},
    }).encode()
    config = ClientTrustConfig.from_json(stack.client_trust_config_path.read_text())
    context = SigningContext.from_trust_config(config)
    with context.signer(IdentityToken(token or stack.issue_token())) as signer:
        return signer.sign_dsse(Statement(statement)).to_json().encode()


def _verify_args(stack: Stack) -> list[str]:
    return ["verify", "--offline", "--trusted-root", str(stack.trusted_root_path),
            "--certificate-identity", stack.default_identity,
            "--certificate-oidc-issuer", stack.oidc_issuer_url]


def _sig_signed(stack: Stack, registry: LocalRegistry, client: RegistryClient,
                name: str) -> tuple[Reference, str, Reference]:
    """A new image signed keyless by ``signer sign``: (tag ref, digest, digest ref)."""
    ref = parse_reference(f"{registry.host}/kinds/{name}:v1")
    digest = _push_image(client, ref, name)
    pinned = ref.with_digest(digest)
    sign_keyless(stack, registry, pinned)
    return ref, digest, pinned


def test_an_attestation_is_not_a_signature(sigstore_stack: Stack,  # noqa: F811
                                           registry: LocalRegistry,
                                           registry_client: RegistryClient) -> None:
    stack = sigstore_stack
    ref = parse_reference(f"{registry.host}/kinds/provenance-only:v1")
    digest = _push_image(registry_client, ref, "provenance only")
    _attach(registry_client, ref, digest,
            _sign_predicate(stack, digest, ref.repository_name, SLSA_PROVENANCE))
    result = run_cli([*_verify_args(stack), str(ref.with_digest(digest))])
    assert result.returncode == 12, result.stderr
    assert result.stdout == ""
    assert "bundle 0 (referrer sha256:" in result.stderr
    assert f"attestation, not a signature (predicateType {SLSA_PROVENANCE})" in result.stderr

    # a real signature beside the attestation verifies the image; the attestation is
    # reported and does not appear in the output
    _attach(registry_client, ref, digest, _sign_statement(stack, digest, ref.repository_name))
    signed = run_cli([*_verify_args(stack), str(ref.with_digest(digest))])
    assert signed.returncode == 0, signed.stderr
    [element] = json.loads(signed.stdout)
    assert element["critical"]["type"] == "https://sigstore.dev/cosign/sign/v1"
    assert "attestation, not a signature" in signed.stderr


def test_a_wrong_identity_bundle_does_not_hide_a_valid_sig(
        sigstore_stack: Stack, registry: LocalRegistry,  # noqa: F811
        registry_client: RegistryClient) -> None:
    stack = sigstore_stack
    ref, digest, pinned = _sig_signed(stack, registry, registry_client, "sig-and-intruder")
    intruder = stack.issue_token(job_workflow_ref=OTHER_WORKFLOW)
    _attach(registry_client, ref, digest,
            _sign_predicate(stack, digest, ref.repository_name,
                            "https://sigstore.dev/cosign/sign/v1", token=intruder))

    result = run_cli([*_verify_args(stack), str(pinned)])
    assert result.returncode == 0, result.stderr
    [element] = json.loads(result.stdout)
    assert element["critical"]["type"] == "cosign container image signature"
    assert element["critical"]["image"]["docker-manifest-digest"] == digest
    assert "bundle 0 (referrer sha256:" in result.stderr
    assert "identity:" in result.stderr

    legacy_only = run_cli([*_verify_args(stack), "--new-bundle-format=false", str(pinned)])
    assert legacy_only.returncode == 0, legacy_only.stderr
    assert "bundle 0" not in legacy_only.stderr


def test_a_malformed_bundle_does_not_hide_a_valid_sig(
        sigstore_stack: Stack, registry: LocalRegistry,  # noqa: F811
        registry_client: RegistryClient) -> None:
    stack = sigstore_stack
    ref, digest, pinned = _sig_signed(stack, registry, registry_client, "sig-and-bad-bundle")
    # a referrer whose single layer has a bundle media type but bytes that are no bundle
    _attach(registry_client, ref, digest, b"\xff not a bundle \x00")

    result = run_cli([*_verify_args(stack), str(pinned)])
    assert result.returncode == 0, result.stderr
    [element] = json.loads(result.stdout)
    assert element["critical"]["type"] == "cosign container image signature"
    assert "bundle 0 (referrer sha256:" in result.stderr
    assert "malformed:" in result.stderr

