"""Keyless signing against the real registry and the local Sigstore stack."""

from __future__ import annotations

import base64
import json

import pytest

from signer.formats.legacy import (
    ANNOTATION_BUNDLE,
    ANNOTATION_CERTIFICATE,
    ANNOTATION_CHAIN,
    ANNOTATION_SIGNATURE,
    OCI_CONFIG,
    OCI_MANIFEST,
    SIMPLE_SIGNING_MEDIA_TYPE,
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
    assert layer["digest"] == "sha256:" + __import__("hashlib").sha256(payload).hexdigest()
    assert layer["size"] == len(payload)

    bundle = json.loads(layer["annotations"][ANNOTATION_BUNDLE])
    assert bundle["Payload"]["logIndex"] == output["rekorLogIndex"]
    rekor = RekorClient(sigstore_stack.rekor_url)
    stored = rekor.get_entry(output["rekorEntryUUID"])
    assert stored.log_index == output["rekorLogIndex"]
    assert stored.body == bundle["Payload"]["body"]
    body = json.loads(base64.b64decode(stored.body))
    assert body["spec"]["signature"]["content"] == layer["annotations"][ANNOTATION_SIGNATURE]
    rekor.close()
