"""Keyless signing against the real registry and the local Sigstore stack."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from signer.formats.legacy import (
    ANNOTATION_BUNDLE,
    ANNOTATION_CERTIFICATE,
    ANNOTATION_CHAIN,
    ANNOTATION_SIGNATURE,
    OCI_CONFIG,
    OCI_MANIFEST,
    SIMPLE_SIGNING_MEDIA_TYPE,
    build_signature_config,
    build_simple_signing_payload,
)
from signer.services.rekor import RekorClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.integration.sign.conftest import PushImage, signer_cli, skopeo_raw, stack_flags

pytestmark = pytest.mark.slow


def test_keyless_sign_writes_cosign_shaped_sig(registry: LocalRegistry, sigstore_stack: Stack,
                                               push_image: PushImage) -> None:
    ref, image = push_image()
    result = signer_cli(["sign", *stack_flags(sigstore_stack, registry), "--output", "json",
                         "-a", "env=test", str(ref)],
                        env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert result.returncode == 0, result.stderr
    (output,) = json.loads(result.stdout)
    digest = image.digest
    assert output["digest"] == digest
    tag = "sha256-" + digest.removeprefix("sha256:") + ".sig"
    assert output["signatureTag"] == tag
    assert output["certificateIdentity"] == sigstore_stack.default_identity
    assert output["certificateIssuer"] == sigstore_stack.oidc_issuer_url
    assert "tlog entry created with index" in result.stderr

    raw = skopeo_raw(f"{ref.repository_name}:{tag}")
    manifest = json.loads(raw)
    assert list(manifest) == ["schemaVersion", "mediaType", "config", "layers"]
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["config"]["mediaType"] == OCI_CONFIG
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == SIMPLE_SIGNING_MEDIA_TYPE
    assert list(layer["annotations"]) == [ANNOTATION_SIGNATURE, ANNOTATION_BUNDLE,
                                          ANNOTATION_CERTIFICATE, ANNOTATION_CHAIN]
    payload = build_simple_signing_payload(ref.repository_name, digest, {"env": "test"})
    assert layer["digest"] == "sha256:" + hashlib.sha256(payload).hexdigest()
    assert layer["size"] == len(payload)
    config = skopeo_raw(f"{ref.repository_name}:{tag}", config=True)
    assert config == build_signature_config([layer["digest"]])
    assert manifest["config"]["digest"] == "sha256:" + hashlib.sha256(config).hexdigest()
    # 233 bytes for one layer, as the published salr-* signature manifests show
    assert manifest["config"]["size"] == len(config) == 233

    bundle = json.loads(layer["annotations"][ANNOTATION_BUNDLE])
    assert bundle["Payload"]["logIndex"] == output["rekorLogIndex"]
    rekor = RekorClient(sigstore_stack.rekor_url)
    stored = rekor.get_entry(output["rekorEntryUUID"])
    assert stored.log_index == output["rekorLogIndex"]
    assert stored.body == bundle["Payload"]["body"]
    body = json.loads(base64.b64decode(stored.body))
    assert body["spec"]["signature"]["content"] == layer["annotations"][ANNOTATION_SIGNATURE]
    rekor.close()


def _sigstore_bundle(layer: dict[str, object], payload: bytes, rekor: RekorClient,
                     uuid: str) -> bytes:
    """Re-assemble our .sig layer + Rekor entry as a Sigstore bundle v0.3 (test-only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    annotations = layer["annotations"]
    assert isinstance(annotations, dict)
    entry = rekor.get_entry(uuid)
    proof = entry.inclusion_proof
    assert proof is not None
    leaf = x509.load_pem_x509_certificate(annotations[ANNOTATION_CERTIFICATE].encode())

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": b64(leaf.public_bytes(serialization.Encoding.DER))},
            "tlogEntries": [{
                "logIndex": str(entry.log_index),
                "logId": {"keyId": b64(bytes.fromhex(entry.log_id))},
                "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                "integratedTime": str(entry.integrated_time),
                "inclusionPromise": {"signedEntryTimestamp": b64(entry.signed_entry_timestamp)},
                "inclusionProof": {
                    "logIndex": str(proof.log_index),
                    "rootHash": b64(bytes.fromhex(proof.root_hash)),
                    "treeSize": str(proof.tree_size),
                    "hashes": [b64(bytes.fromhex(h)) for h in proof.hashes],
                    "checkpoint": {"envelope": proof.checkpoint},
                },
                "canonicalizedBody": entry.body,
            }],
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256",
                              "digest": b64(hashlib.sha256(payload).digest())},
            "signature": annotations[ANNOTATION_SIGNATURE],
        },
    }
    return json.dumps(bundle).encode()


def test_sigstore_python_verifies_what_we_wrote(registry: LocalRegistry, sigstore_stack: Stack,
                                                push_image: PushImage) -> None:
    from sigstore.errors import VerificationError
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier
    from sigstore.verify.policy import Identity, UnsafeNoOp

    from signer.formats.legacy import parse_signature_manifest
    from signer.reference import parse_reference
    from signer.registry.client import RegistryClient

    ref, _image = push_image("indep")
    result = signer_cli(["sign", *stack_flags(sigstore_stack, registry), "--output", "json",
                         str(ref)], env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert result.returncode == 0, result.stderr
    (output,) = json.loads(result.stdout)
    sig_ref = parse_reference(f"{ref.repository_name}:{output['signatureTag']}")
    with RegistryClient(insecure=(registry.host,)) as client:
        manifest = client.get_manifest(sig_ref)
        (descriptor,) = parse_signature_manifest(manifest.data).layers
        payload = client.get_blob(sig_ref, descriptor.digest)
    layer = {"annotations": dict(descriptor.annotations)}
    rekor = RekorClient(sigstore_stack.rekor_url)
    bundle = Bundle.from_json(_sigstore_bundle(layer, payload, rekor, output["rekorEntryUUID"]))
    rekor.close()
    verifier = Verifier(trusted_root=TrustedRoot.from_file(str(sigstore_stack.trusted_root_path)))
    verifier.verify_artifact(payload, bundle, UnsafeNoOp())
    verifier.verify_artifact(payload, bundle, Identity(identity=sigstore_stack.default_identity,
                                                       issuer=sigstore_stack.oidc_issuer_url))
    with pytest.raises(VerificationError):  # the check can fail: a changed payload does
        verifier.verify_artifact(payload + b" ", bundle, UnsafeNoOp())
    with pytest.raises(VerificationError):  # and so does the wrong identity
        verifier.verify_artifact(payload, bundle, Identity(identity="https://example.com/x",
                                                           issuer=sigstore_stack.oidc_issuer_url))


def test_identity_token_from_file_and_signature_repository_flag(
        registry: LocalRegistry, sigstore_stack: Stack, push_image: PushImage,
        tmp_path: Path) -> None:
    ref, image = push_image("tokenfile")
    token_file = tmp_path / "token"
    token = sigstore_stack.issue_token()
    token_file.write_text(token)
    other = f"{registry.host}/sign-tests/flag-signatures"
    result = signer_cli(["sign", *stack_flags(sigstore_stack, registry), "--output", "json",
                         "--identity-token", f"@{token_file}", "--signature-repository", other,
                         str(ref)], env={"SIGSTORE_ID_TOKEN": "not.a.token"})
    assert result.returncode == 0, result.stderr
    assert token not in result.stderr + result.stdout
    assert "Warning" not in result.stderr  # @FILE keeps the token out of argv
    (output,) = json.loads(result.stdout)
    assert output["signatureRef"].startswith(other + ":sha256-")
    assert output["digest"] == image.digest
    assert len(json.loads(skopeo_raw(output["signatureRef"]))["layers"]) == 1
