"""sigstore-js checks the bundles signer writes against the local stack.

An image statement (DSSE, what ``signer sign`` stores as a referrer) and a blob
(message signature, what ``signer sign-blob`` writes), signed through three of the
stack's signing configs: Rekor v1 without a TSA, Rekor v1 with the TSA, Rekor v2 with
the TSA; and a blob signed with a key. Each verifies offline in sigstore-js against the
stack's trusted root; a bundle checked against another digest or artifact is refused,
so the check can fail.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from signer.keys import write_cosign_key_pair
from signer.oidc import resolve_identity_token
from signer.services.fulcio import FulcioClient
from signer.signing.bundles import BundleServices, LogService, sign_image_bundle
from signer.signing.identity import keyless_identity
from signer.testing.stack import Stack
from signer.trust import TrustedRoot
from tests.integration.sign.conftest import signer_cli
from tests.sigstore_js import SigstoreJs

pytestmark = pytest.mark.slow

ARTIFACT = b"signed by signer, checked by sigstore-js\n"
IMAGE_DIGEST = "sha256:" + hashlib.sha256(b"an image manifest").hexdigest()
CONFIGS = ("signing_config_path", "signing_config_rekor_v1_path", "signing_config_v02_path")


def _services(stack: Stack, config: str) -> tuple[list[LogService], list[str]]:
    document = json.loads(getattr(stack, config).read_text())
    logs = [LogService(s["url"], s["majorApiVersion"]) for s in document["rekorTlogUrls"]]
    if config == "signing_config_v02_path":
        logs = [log for log in logs if log.version == 2]  # what a v2 client picks
    return logs, [s["url"] for s in document["tsaUrls"]]


@pytest.mark.parametrize("config", CONFIGS)
def test_image_statement_bundles_verify_in_sigstore_js(
        sigstore_stack: Stack, sigstore_js: SigstoreJs, tmp_path: Path, config: str) -> None:
    trust = TrustedRoot.from_file(sigstore_stack.trusted_root_path)
    fulcio = FulcioClient(sigstore_stack.fulcio_url)
    try:
        identity = keyless_identity(resolve_identity_token(sigstore_stack.issue_token()),
                                    fulcio, trust)
    finally:
        fulcio.close()
    logs, tsas = _services(sigstore_stack, config)
    services = BundleServices(logs, tsas)
    try:
        signed = sign_image_bundle(identity, IMAGE_DIGEST, {"team": "js"}, services, trust)
    finally:
        services.close()
    bundle = tmp_path / "image.sigstore.json"
    bundle.write_bytes(signed.data)
    result = sigstore_js.verify(bundle, sigstore_stack.trusted_root_path, digest=IMAGE_DIGEST,
                                identity=sigstore_stack.default_identity,
                                issuer=sigstore_stack.oidc_issuer_url)
    assert result.verified, result
    assert result.details["predicateType"] == "https://sigstore.dev/cosign/sign/v1"
    other = "sha256:" + hashlib.sha256(b"another manifest").hexdigest()
    refused = sigstore_js.verify(bundle, sigstore_stack.trusted_root_path, digest=other,
                                 identity=sigstore_stack.default_identity,
                                 issuer=sigstore_stack.oidc_issuer_url)
    assert not refused.verified


@pytest.mark.parametrize("config", CONFIGS)
def test_blob_bundles_verify_in_sigstore_js(sigstore_stack: Stack, sigstore_js: SigstoreJs,
                                            tmp_path: Path, config: str) -> None:
    artifact = tmp_path / "artifact"
    artifact.write_bytes(ARTIFACT)
    bundle = tmp_path / "artifact.sigstore.json"
    done = signer_cli(["sign-blob", "--bundle", str(bundle), "--signing-config",
                       str(getattr(sigstore_stack, config)), "--trusted-root",
                       str(sigstore_stack.trusted_root_path), str(artifact)],
                      env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert done.returncode == 0, done.stderr
    result = sigstore_js.verify(bundle, sigstore_stack.trusted_root_path, artifact=artifact,
                                identity=sigstore_stack.default_identity,
                                issuer=sigstore_stack.oidc_issuer_url)
    assert result.verified, result
    (tmp_path / "other").write_bytes(b"other")
    refused = sigstore_js.verify(bundle, sigstore_stack.trusted_root_path,
                                 artifact=tmp_path / "other",
                                 identity=sigstore_stack.default_identity,
                                 issuer=sigstore_stack.oidc_issuer_url)
    assert not refused.verified


def test_key_blob_bundle_verifies_in_sigstore_js(sigstore_stack: Stack, sigstore_js: SigstoreJs,
                                                 tmp_path: Path) -> None:
    write_cosign_key_pair(tmp_path, b"pw")
    artifact = tmp_path / "artifact"
    artifact.write_bytes(ARTIFACT)
    bundle = tmp_path / "key.sigstore.json"
    done = signer_cli(["sign-blob", "--key", str(tmp_path / "cosign.key"), "--rekor-url",
                       sigstore_stack.rekor_url, "--trusted-root",
                       str(sigstore_stack.trusted_root_path), "--bundle", str(bundle),
                       str(artifact)], env={"COSIGN_PASSWORD": "pw"})
    assert done.returncode == 0, done.stderr
    result = sigstore_js.verify(bundle, sigstore_stack.trusted_root_path, artifact=artifact,
                                key=tmp_path / "cosign.pub")
    assert result.verified, result
