import json

from signer.digest import sha256_digest
from signer.formats.legacy import (
    SignatureLayer,
    build_signature_manifest,
    build_simple_signing_payload,
    parse_rekor_bundle,
    parse_signature_manifest,
    parse_simple_signing_payload,
    signature_tag,
)
from tests.corpus import CONFORMANCE

CASE = CONFORMANCE / "cosign-legacy" / "salr-dockerhub-sig-manifest-keyless-valid"


def test_rebuilds_published_manifest_and_config() -> None:
    published = json.loads((CASE / "sig-manifest.published.json").read_bytes())
    payload = (CASE / "payload.json").read_bytes()
    layer = published["layers"][0]
    manifest, config = build_signature_manifest(
        [SignatureLayer(payload, layer["mediaType"], layer["annotations"])])
    assert json.loads(manifest) == published
    assert str(sha256_digest(config)) == published["config"]["digest"]
    parsed = parse_signature_manifest(manifest)
    assert parsed.layers[0].digest == layer["digest"]


def test_payload_bytes_match_published() -> None:
    payload = (CASE / "payload.json").read_bytes()
    claims = parse_simple_signing_payload(payload)
    assert claims.docker_reference and claims.manifest_digest
    assert build_simple_signing_payload(claims.docker_reference, claims.manifest_digest) == payload


def test_go_escaping_and_sorted_annotations() -> None:
    payload = build_simple_signing_payload("r/x", "sha256:" + "a" * 64, {"z": "<&>", "a": "1"})
    assert payload.endswith(b'"optional":{"a":"1","z":"\\u003c\\u0026\\u003e"}}')


def test_rekor_bundle_round_trip() -> None:
    text = (CASE / "bundle.json").read_text()
    bundle = parse_rekor_bundle(text)
    assert json.loads(bundle.to_json()) == json.loads(text)
    assert signature_tag("sha256:" + "b" * 64) == "sha256-" + "b" * 64 + ".sig"
