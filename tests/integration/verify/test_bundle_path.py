"""``signer verify`` on an image signed in cosign v3's bundle format (a Sigstore bundle
referrer made by sigstore-python against the local stack, attached through the
referrers tag schema): verified by its bundle, as cosign v3 does; with
``--new-bundle-format=false`` only legacy ``.sig`` signatures count."""

from __future__ import annotations

import json

import pytest

from signer.reference import parse_reference
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.integration.bundle.test_referrers import _attach, _push_image, _sign_statement
from tests.integration.verify.conftest import run_cli
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

pytestmark = pytest.mark.slow


def test_bundle_referrer_through_signer_verify(sigstore_stack: Stack,  # noqa: F811
                                               registry: LocalRegistry,
                                               registry_client: RegistryClient) -> None:
    ref = parse_reference(f"{registry.host}/verify-bundle/app:v1")
    digest = _push_image(registry_client, ref, "verify-bundle")
    _attach(registry_client, ref, digest,
            _sign_statement(sigstore_stack, digest, ref.repository_name))
    base = ["verify", "--trusted-root", str(sigstore_stack.trusted_root_path),
            "--certificate-identity", sigstore_stack.default_identity,
            "--certificate-oidc-issuer", sigstore_stack.oidc_issuer_url]
    result = run_cli([*base, "-a", "env=test", str(ref)])
    assert result.returncode == 0, result.stderr
    assert "Existence of the claims in the transparency log was verified offline" \
        in result.stderr
    [element] = json.loads(result.stdout)
    assert element["critical"]["image"]["docker-manifest-digest"] == digest
    assert element["critical"]["type"] == "https://sigstore.dev/cosign/sign/v1"
    assert element["critical"]["identity"]["docker-reference"] == ref.name
    assert element["optional"] == {"env": "test"}  # subject annotations, no Bundle
    text = run_cli([*base, "-o", "text", str(ref)])
    assert text.returncode == 0, text.stderr
    # cosign v3's text output: the same element as one compact line, keys sorted
    assert text.stdout == json.dumps(element, separators=(",", ":"), sort_keys=True) + "\n"

    wrong = run_cli([*base, "-a", "env=prod", str(ref)])
    assert wrong.returncode == 12
    assert "bundle 0 (referrer sha256:" in wrong.stderr
    assert "annotations:" in wrong.stderr

    legacy_only = run_cli([*base, "--new-bundle-format=false", str(ref)])
    assert legacy_only.returncode == 10
    assert "no signatures found" in legacy_only.stderr


@pytest.mark.parametrize("wanted", ["approved=None", "count=1", "flag=True", "env=TEST"])
def test_bundle_annotations_compare_as_exact_strings(
        wanted: str, sigstore_stack: Stack, registry: LocalRegistry,  # noqa: F811
        registry_client: RegistryClient) -> None:
    """Issue 13 item 8: ``-a key=value`` on the bundle path; an absent key never matches
    (``approved=None`` is not "absent"), a number or boolean is not its text."""
    name = f"verify-bundle/annotations-{wanted.split('=')[0]}"
    ref = parse_reference(f"{registry.host}/{name}:v1")
    digest = _push_image(registry_client, ref, name)
    _attach(registry_client, ref, digest, _sign_statement(
        sigstore_stack, digest, ref.repository_name,
        {"env": "test", "count": 1, "flag": True}))
    base = ["verify", "--trusted-root", str(sigstore_stack.trusted_root_path),
            "--certificate-identity", sigstore_stack.default_identity,
            "--certificate-oidc-issuer", sigstore_stack.oidc_issuer_url]
    assert run_cli([*base, "-a", "env=test", str(ref)]).returncode == 0
    result = run_cli([*base, "-a", wanted, str(ref)])
    assert result.returncode == 12, result.stderr
    assert "annotations:" in result.stderr
