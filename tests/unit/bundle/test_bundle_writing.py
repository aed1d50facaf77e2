"""Writing the bundle, statement and referrer layout (pure): cosign v3's bytes, and a
referrers-index merge that keeps everything already listed."""

from __future__ import annotations

import json

import pytest

from signer.errors import InputError
from signer.formats.bundle import parse_bundle, parse_statement
from signer.formats.bundle_write import bundle_json, dsse_envelope, image_statement
from signer.formats.referrer import (
    Subject,
    index_digests,
    index_entry,
    merge_referrers_index,
    referrer_manifest,
)

DIGEST = "sha256:" + "ab" * 32


def test_statement_without_annotations_has_none() -> None:
    assert image_statement(DIGEST) == (
        b'{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"'
        + b"ab" * 32 + b'"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1",'
        b'"predicate":{}}')
    assert parse_statement(image_statement(DIGEST, {"b": "2", "a": "1"}))["subject"][0][
        "annotations"] == {"a": "1", "b": "2"}


def test_a_key_bundle_carries_the_key_hint_and_parses() -> None:
    data = bundle_json(certificate_der=None, public_key_spki_der=b"spki", tlog_entries=[],
                       timestamps=[b"tsr"], dsse=dsse_envelope(b"{}", b"sig"))
    document = json.loads(data)
    assert document["verificationMaterial"]["publicKey"] == {
        "hint": "b+7MjBbFVR2f6z61934tp3O/aL2e+cUpJ86yyG5WiSs="}
    parsed = parse_bundle(data)
    assert parsed.dsse_envelope is not None and parsed.signature == b"sig"
    assert parsed.rfc3161_timestamps == (b"tsr",)
    with pytest.raises(ValueError):
        bundle_json(certificate_der=b"c", public_key_spki_der=b"k", tlog_entries=[],
                    timestamps=[], dsse={})


def test_the_referrer_manifest_escapes_as_go_does() -> None:
    manifest = referrer_manifest(bundle_digest=DIGEST, bundle_size=10,
                                 subject=Subject("application/x<y>", 5, DIGEST),
                                 predicate_type="https://p/a&b", created="2026-01-02T03:04:05Z")
    assert b"application/x\\u003cy\\u003e" in manifest and b"https://p/a\\u0026b" in manifest
    assert list(json.loads(manifest)) == ["schemaVersion", "mediaType", "config", "layers",
                                          "annotations", "subject", "artifactType"]


def test_merge_keeps_every_existing_entry_and_field_and_sorts() -> None:
    existing = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "m", "size": 1, "digest": "sha256:" + "f" * 64,
             "annotations": {"x": "y"}, "platform": {"os": "linux"}, "extra": True},
            {"mediaType": "m", "size": 2, "digest": "sha256:" + "0" * 64}],
        "annotations": {"kept": "yes"}}).encode()
    merged = merge_referrers_index(existing, index_entry("sha256:" + "8" * 64, 3))
    assert merged is not None
    document = json.loads(merged)
    assert index_digests(merged) == ["sha256:" + c * 64 for c in "08f"]
    assert document["manifests"][2] == json.loads(existing)["manifests"][0]
    assert document["annotations"] == {"kept": "yes"}
    assert merge_referrers_index(merged, index_entry("sha256:" + "8" * 64, 3)) is None


def test_a_fresh_index_is_ggcr_s_bytes() -> None:
    merged = merge_referrers_index(None, index_entry(DIGEST, 7))
    assert merged == (
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",'
        b'"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7,'
        b'"digest":"' + DIGEST.encode() + b'",'
        b'"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}]}')


@pytest.mark.parametrize("existing", [b"not json", b"[]", b'{"manifests": [{"size": 1}]}'])
def test_a_malformed_index_is_not_overwritten(existing: bytes) -> None:
    with pytest.raises(InputError, match=r"not JSON|malformed|not a JSON"):
        merge_referrers_index(existing, index_entry(DIGEST, 7))
