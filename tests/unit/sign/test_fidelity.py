"""Our builders reproduce real cosign output from the conformance corpus's inputs.

For each case, the inputs are the signed digest, the repository (docker-reference)
and the ``-a`` annotations (the payload's ``optional``); the expected outputs are
the published payload bytes and, where published, the ``.sig`` manifest and its
config descriptor.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from signer.formats.legacy import (
    SIMPLE_SIGNING_MEDIA_TYPE,
    Descriptor,
    SignatureLayer,
    build_signature_manifest,
    build_simple_signing_payload,
)
from signer.signing.publish import build_manifest_from_descriptors
from tests.corpus import CONFORMANCE

LEGACY = CONFORMANCE / "cosign-legacy"
PAYLOAD_CASES = ["cimg-fulcio-rekor-valid", "salr-dockerhub-sig-manifest-keyless-valid",
                 "salr-dockerhub-sig-manifest-wrong-identity_fail",
                 "salr-gar-sig-manifest-keyless-layer-valid",
                 "salr-gar-sig-manifest-kms-layer-key-valid"]
MANIFEST_CASES = [c for c in PAYLOAD_CASES if c.startswith("salr-")]
#: Signed in 2026 by a current cosign: our config blob is byte-identical (same digest).
CONFIG_EXACT_CASES = {"salr-dockerhub-sig-manifest-keyless-valid",
                      "salr-dockerhub-sig-manifest-wrong-identity_fail"}


def _case(name: str) -> tuple[Path, dict[str, Any]]:
    folder = LEGACY / name
    return folder, json.loads((folder / "expected.json").read_text())


@pytest.mark.parametrize("name", PAYLOAD_CASES)
def test_payload_bytes_match_published(name: str) -> None:
    folder, expected = _case(name)
    published = (folder / "payload.json").read_bytes()
    annotations = json.loads(published)["optional"]  # the -a inputs of that signing
    ours = build_simple_signing_payload(expected["docker_reference"],
                                        expected["manifest_digest"], annotations)
    assert ours == published


@pytest.mark.parametrize("name", MANIFEST_CASES)
def test_signature_manifest_matches_published(name: str) -> None:
    folder, _expected = _case(name)
    published = json.loads((folder / "sig-manifest.published.json").read_text())
    payload = (folder / "payload.json").read_bytes()
    descriptors = [Descriptor(layer["mediaType"], layer["size"], layer["digest"],
                              layer["annotations"]) for layer in published["layers"]]
    # every layer of these manifests carries this very payload
    assert all(d.digest == "sha256:" + hashlib.sha256(payload).hexdigest() for d in descriptors)
    manifest, config = build_manifest_from_descriptors(
        descriptors, published["mediaType"], published["config"]["mediaType"])
    ours = json.loads(manifest)
    assert list(ours) == list(published) == ["schemaVersion", "mediaType", "config", "layers"]
    assert ours["layers"] == published["layers"]  # descriptors, annotations, order
    assert ours["config"]["mediaType"] == published["config"]["mediaType"]
    assert ours["config"]["digest"] == "sha256:" + hashlib.sha256(config).hexdigest()
    if name in CONFIG_EXACT_CASES:
        assert ours == published  # config blob digest and size too
    else:
        # A 2023 (cosign 1.x era) config that a newer ggcr serialises 10 bytes shorter.
        assert ours["config"]["size"] == published["config"]["size"] - 10
    # the builder working from payloads (what a fresh signature uses) agrees
    layers = [SignatureLayer(payload, SIMPLE_SIGNING_MEDIA_TYPE, d.annotations)
              for d in descriptors]
    assert build_signature_manifest(layers) == (manifest, config)


def test_cimg_layer_descriptor_matches_annotations_file() -> None:
    folder, _ = _case("cimg-fulcio-rekor-valid")
    published = json.loads((folder / "annotations.json").read_text())
    payload = (folder / "payload.json").read_bytes()
    layer = SignatureLayer(payload, published["mediaType"], published["annotations"])
    manifest, _config = build_signature_manifest([layer])
    (descriptor,) = json.loads(manifest)["layers"]
    assert descriptor["mediaType"] == SIMPLE_SIGNING_MEDIA_TYPE
    assert descriptor["annotations"] == published["annotations"]
    assert list(descriptor["annotations"]) == sorted(published["annotations"])
