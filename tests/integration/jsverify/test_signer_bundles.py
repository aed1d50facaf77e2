"""sigstore-js verifies the Sigstore bundles signer writes (issue 15, independent readers).

``signer sign-blob --bundle`` (keyless and ``--key``) and ``signer sign`` (the image's
statement bundle, read back from its OCI referrer in the real registry) through the
stack's services: Rekor v1 without a TSA, Rekor v1 with the TSA, Rekor v2 with the
TSA. Each bundle verifies offline in sigstore-js against the stack's trusted root with
the signer's identity; another artifact or image digest is refused, and so is a copy
whose signature is broken, so the check can fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from signer.keys import write_cosign_key_pair
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.integration.sign.conftest import PushImage, signer_cli, skopeo_raw
from tests.sigstore_js import JsResult, SigstoreJs

pytestmark = pytest.mark.slow

CONTENT = b"a release artifact signed by signer, checked by sigstore-js\n"
STATEMENT_TYPE = "https://sigstore.dev/cosign/sign/v1"

# name -> (signing config attribute of the stack or None for the plain service flags,
#          the tlog entry kind/version expected for a blob and for an image statement,
#          RFC 3161 timestamps expected)
SERVICES: dict[str, tuple[str | None, str, str, int]] = {
    "rekor1": (None, "hashedrekord/0.0.1", "dsse/0.0.1", 0),
    "rekor1-tsa": ("signing_config_rekor_v1_path", "hashedrekord/0.0.1", "dsse/0.0.1", 1),
    "rekor2-tsa": ("signing_config_v02_path", "hashedrekord/0.0.2", "hashedrekord/0.0.2", 1),
}


def _service_flags(stack: Stack, services: str) -> list[str]:
    config = SERVICES[services][0]
    if config is None:
        return ["--fulcio-url", stack.fulcio_url, "--rekor-url", stack.rekor_url,
                "--trusted-root", str(stack.trusted_root_path)]
    return ["--signing-config", str(getattr(stack, config)),
            "--trusted-root", str(stack.trusted_root_path)]


def _js(sigstore_js: SigstoreJs, stack: Stack, bundle: Path, **target: Any) -> JsResult:
    return sigstore_js.verify(bundle, stack.trusted_root_path,
                              identity=stack.default_identity,
                              issuer=stack.oidc_issuer_url, **target)


def _broken_signature(bundle: Path) -> Path:
    """A copy of ``bundle`` whose signature's last byte is flipped."""
    document = json.loads(bundle.read_text())
    holder = (document["dsseEnvelope"]["signatures"][0] if "dsseEnvelope" in document
              else document["messageSignature"])
    key = "sig" if "dsseEnvelope" in document else "signature"
    raw = bytearray(base64.b64decode(holder[key]))
    raw[-1] ^= 0x01
    holder[key] = base64.b64encode(bytes(raw)).decode()
    broken = bundle.with_name(bundle.name + ".broken.json")
    broken.write_text(json.dumps(document))
    return broken


@pytest.mark.parametrize("services", SERVICES)
def test_sign_blob_bundles_verify_in_sigstore_js(services: str, sigstore_stack: Stack,
                                                 sigstore_js: SigstoreJs,
                                                 tmp_path: Path) -> None:
    artifact = tmp_path / "artifact.bin"
    artifact.write_bytes(CONTENT)
    (tmp_path / "other").write_bytes(b"other\n")
    bundle = tmp_path / "artifact.bin.sigstore.json"
    done = signer_cli(["sign-blob", "--bundle", str(bundle),
                       *_service_flags(sigstore_stack, services), str(artifact)],
                      env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert done.returncode == 0, done.stderr
    result = _js(sigstore_js, sigstore_stack, bundle, artifact=artifact)
    assert result.verified, result
    assert result.details["content"] == "messageSignature"
    assert result.details["identity"] == sigstore_stack.default_identity
    assert result.details["tlogEntries"] == [SERVICES[services][1]]
    assert result.details["rfc3161Timestamps"] == SERVICES[services][3]
    assert not _js(sigstore_js, sigstore_stack, bundle, artifact=tmp_path / "other").verified
    broken = _js(sigstore_js, sigstore_stack, _broken_signature(bundle), artifact=artifact)
    assert not broken.verified, broken


def test_a_key_signed_blob_bundle_verifies_in_sigstore_js(sigstore_stack: Stack,
                                                          sigstore_js: SigstoreJs,
                                                          tmp_path: Path) -> None:
    write_cosign_key_pair(tmp_path, b"pw")
    artifact = tmp_path / "artifact.bin"
    artifact.write_bytes(CONTENT)
    bundle = tmp_path / "key.sigstore.json"
    done = signer_cli(["sign-blob", "--key", str(tmp_path / "cosign.key"),
                       "--rekor-url", sigstore_stack.rekor_url,
                       "--trusted-root", str(sigstore_stack.trusted_root_path),
                       "--bundle", str(bundle), str(artifact)], env={"COSIGN_PASSWORD": "pw"})
    assert done.returncode == 0, done.stderr
    key = tmp_path / "cosign.pub"
    result = sigstore_js.verify(bundle, sigstore_stack.trusted_root_path, artifact=artifact,
                                key=key)
    assert result.verified, result
    (tmp_path / "stranger").mkdir()
    write_cosign_key_pair(tmp_path / "stranger", b"pw")
    stranger = sigstore_js.verify(bundle, sigstore_stack.trusted_root_path,
                                  artifact=artifact, key=tmp_path / "stranger" / "cosign.pub")
    assert not stranger.verified and stranger.error == "SIGNATURE_ERROR", stranger


@pytest.mark.parametrize("services", SERVICES)
def test_the_image_bundle_in_its_referrer_verifies_in_sigstore_js(
        services: str, registry: LocalRegistry, sigstore_stack: Stack,
        sigstore_js: SigstoreJs, push_image: PushImage, client: RegistryClient,
        tmp_path: Path) -> None:
    ref, _image = push_image(f"js-{services}")
    done = signer_cli(["sign", *_service_flags(sigstore_stack, services),
                       "--insecure-registry", registry.host, "--output", "json",
                       "--signature-format", "bundle", str(ref)],
                      env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert done.returncode == 0, done.stderr
    signed = json.loads(done.stdout)[0]
    layer = json.loads(skopeo_raw(signed["referrer"]))["layers"][0]
    bundle = tmp_path / "referrer.sigstore.json"
    bundle.write_bytes(client.get_blob(ref, layer["digest"]))
    result = _js(sigstore_js, sigstore_stack, bundle, digest=signed["digest"])
    assert result.verified, result
    assert result.details["content"] == "dsseEnvelope"
    assert result.details["predicateType"] == STATEMENT_TYPE
    assert result.details["tlogEntries"] == [SERVICES[services][2]]
    assert result.details["rfc3161Timestamps"] == SERVICES[services][3]
    other = "sha256:" + hashlib.sha256(b"another image").hexdigest()
    refused = _js(sigstore_js, sigstore_stack, bundle, digest=other)
    assert not refused.verified and refused.error == "STATEMENT_ERROR", refused
    broken = _js(sigstore_js, sigstore_stack, _broken_signature(bundle),
                 digest=signed["digest"])
    assert not broken.verified, broken
