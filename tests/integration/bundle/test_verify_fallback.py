"""``signer verify`` on an image with both signature kinds: the cosign-v3 bundle (made by
sigstore-python, attached through the referrers tag schema) and the legacy ``.sig`` that
``signer sign`` wrote are both judged and both printed, the ``.sig`` first (cosign v3
prints only the bundle); removing the bundle leaves the ``.sig`` alone -- as cosign v3
falls back to it. Both steps run the public CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from signer.reference import parse_reference
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.integration.bundle.test_referrers import _attach, _push_image, _sign_statement
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

pytestmark = pytest.mark.slow


def _signer(args: list[str], env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("SIGSTORE_", "COSIGN_"))}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "signer", *args], capture_output=True,
                          text=True, env=environment, timeout=180, check=False)


def test_bundle_first_then_fallback_to_sig(registry: LocalRegistry,
                                           sigstore_stack: Stack) -> None:  # noqa: F811
    stack = sigstore_stack
    with RegistryClient() as client:
        ref = parse_reference(f"{registry.host}/bundle/both:v1")
        digest = _push_image(client, ref, "both kinds")
        pinned = ref.with_digest(digest)
        signed = _signer(["sign", "--signature-format", "legacy",  # the bundle is attached below
                          "--fulcio-url", stack.fulcio_url, "--rekor-url",
                          stack.rekor_url, "--trusted-root", str(stack.trusted_root_path),
                          "--insecure-registry", registry.host, str(pinned)],
                         env={"SIGSTORE_ID_TOKEN": stack.issue_token()})
        assert signed.returncode == 0, signed.stderr
        _attach(client, ref, digest, _sign_statement(stack, digest, ref.repository_name))
        verify = ["verify", "--trusted-root", str(stack.trusted_root_path),
                  "--certificate-identity", stack.default_identity,
                  "--certificate-oidc-issuer", stack.oidc_issuer_url, str(pinned)]

        with_bundle = _signer(verify)
        assert with_bundle.returncode == 0, with_bundle.stderr
        sig_element, bundle_element = json.loads(with_bundle.stdout)
        assert bundle_element["critical"]["type"] == "https://sigstore.dev/cosign/sign/v1"
        assert sig_element["critical"]["type"] == "cosign container image signature"
        assert "did not verify" not in with_bundle.stderr

        index = client.get_manifest(ref.with_tag(digest.replace(":", "-")))
        client.delete_manifest(ref, index.digest)
        legacy = _signer(verify)
        assert legacy.returncode == 0, legacy.stderr
        [element] = json.loads(legacy.stdout)
        assert element["critical"]["type"] == "cosign container image signature"
        assert element["critical"]["image"]["docker-manifest-digest"] == digest
