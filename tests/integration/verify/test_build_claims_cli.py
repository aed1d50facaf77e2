"""``signer verify`` and ``verify-blob`` with the build-provenance claims of a Fulcio
certificate (issue 13, item 5): source repository (1.12, else 1.5), source ref (1.14,
else 1.6), signer workflow (1.9) and runner environment (1.11), on both signature
formats. The image is signed by a reusable workflow: the SAN names the called workflow in
another repository, the source repository is the caller."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.integration.action.test_action_identity import SHARED_WORKFLOW, reusable_claims
from tests.integration.bundle.test_referrers import _attach
from tests.integration.verify.conftest import push_plain_image, run_cli
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

pytestmark = pytest.mark.slow

CALLER = "octo-org/octo-repo"
CLAIMS = reusable_claims(CALLER, SHARED_WORKFLOW, runner_environment="self-hosted",
                         ref="refs/tags/v2.0.0")


def _bundle(stack: Stack, digest: str, name: str) -> bytes:
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": digest.split(":", 1)[1]}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1", "predicate": {},
    }).encode()
    from sigstore.dsse import Statement

    config = ClientTrustConfig.from_json(stack.client_trust_config_path.read_text())
    context = SigningContext.from_trust_config(config)
    with context.signer(IdentityToken(stack.issue_token(**CLAIMS))) as signer:
        return signer.sign_dsse(Statement(statement)).to_json().encode()


@pytest.fixture(scope="module")
def images(sigstore_stack: Stack, registry: LocalRegistry,  # noqa: F811
           registry_client: RegistryClient) -> dict[str, Reference]:
    legacy = push_plain_image(registry, registry_client, "claims/legacy")
    signed = run_cli(["sign", "--fulcio-url", sigstore_stack.fulcio_url,
                      "--rekor-url", sigstore_stack.rekor_url,
                      "--trusted-root", str(sigstore_stack.trusted_root_path),
                      "--insecure-registry", registry.host, "--yes", str(legacy)],
                     {"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token(**CLAIMS)})
    assert signed.returncode == 0, signed.stderr
    bundled = push_plain_image(registry, registry_client, "claims/bundle")
    assert bundled.digest
    _attach(registry_client, bundled, bundled.digest,
            _bundle(sigstore_stack, bundled.digest, bundled.repository_name))
    return {"legacy": legacy, "bundle": bundled}


PASSING = [
    ["--source-repository", CALLER],
    ["--source-repository", f"https://github.com/{CALLER}"],
    ["--source-repository", CALLER, "--source-ref", "refs/tags/v2.0.0"],
    ["--signer-workflow", "octo-org/shared-workflows/.github/workflows/sign.yml"],
    ["--signer-workflow", "https://github.com/" + SHARED_WORKFLOW],
    ["--certificate-identity", "https://github.com/" + SHARED_WORKFLOW,
     "--certificate-github-workflow-repository", CALLER],
]
FAILING = [
    (["--source-repository", "octo-org/shared-workflows"], "source repository"),
    (["--source-repository", CALLER, "--source-ref", "refs/heads/main"], "source ref"),
    (["--signer-workflow", f"{CALLER}/.github/workflows/release.yml"], "signer workflow"),
    (["--signer-workflow", "octo-org/shared-workflows/.github/workflows/sign.yml@refs/heads/x"],
     "signer workflow"),
    (["--source-repository", CALLER, "--deny-self-hosted-runners"], "runner environment"),
]


@pytest.mark.parametrize("kind", ["legacy", "bundle"])
def test_build_claim_flags(images: dict[str, Reference], sigstore_stack: Stack,  # noqa: F811
                           kind: str) -> None:
    base = ["verify", "--trusted-root", str(sigstore_stack.trusted_root_path),
            "--certificate-oidc-issuer", sigstore_stack.oidc_issuer_url]
    for flags in PASSING:
        result = run_cli([*base, *flags, str(images[kind])])
        assert result.returncode == 0, (flags, result.stderr)
    for flags, check in FAILING:
        result = run_cli([*base, *flags, str(images[kind])])
        assert result.returncode == 12, (flags, result.stderr)
        assert check in result.stderr, (flags, result.stderr)


def test_an_issuer_alone_is_still_not_a_policy(images: dict[str, Reference],
                                               sigstore_stack: Stack) -> None:  # noqa: F811
    result = run_cli(["verify", "--trusted-root", str(sigstore_stack.trusted_root_path),
                      "--certificate-oidc-issuer", sigstore_stack.oidc_issuer_url,
                      "--source-ref", "refs/tags/v2.0.0", str(images["legacy"])])
    assert result.returncode == 2
    assert "--source-repository" in result.stderr


def test_verify_blob_build_claim_flags(sigstore_stack: Stack, tmp_path: Path) -> None:  # noqa: F811
    blob = tmp_path / "artifact.txt"
    blob.write_bytes(b"build output\n")
    config = ClientTrustConfig.from_json(sigstore_stack.client_trust_config_path.read_text())
    context = SigningContext.from_trust_config(config)
    with context.signer(IdentityToken(sigstore_stack.issue_token(**CLAIMS))) as signer:
        bundle = signer.sign_artifact(blob.read_bytes()).to_json()
    (tmp_path / "artifact.sigstore.json").write_text(bundle)
    base = ["verify-blob", "--bundle", str(tmp_path / "artifact.sigstore.json"),
            "--trusted-root", str(sigstore_stack.trusted_root_path),
            "--certificate-oidc-issuer", sigstore_stack.oidc_issuer_url]
    ok = run_cli([*base, "--source-repository", CALLER, str(blob)])
    assert ok.returncode == 0, ok.stderr
    refused = run_cli([*base, "--source-repository", CALLER, "--deny-self-hosted-runners",
                       str(blob)])
    assert refused.returncode == 1
    assert "runner environment" in refused.stderr
