"""Images signed in cosign v3's bundle format, found through the referrers tag schema.

An independent writer (sigstore-python, test-only) signs an in-toto statement naming
an image in the real test registry against the local Sigstore stack; the bundle is
attached as cosign v3 does on a registry without the referrers API (a manifest with
``subject`` plus the ``sha256-<hex>`` tag index). :mod:`signer.referrers` must find
and verify it, and reject it under a wrong policy or for another image.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sigstore.dsse import Statement
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

from signer.reference import Reference, parse_reference
from signer.referrers import check_image_bundles, find_image_bundles, verify_image_bundles
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from signer.trust import TrustedRoot
from signer.verify.policy import IdentityPolicy
from signer.verify.verifier import VerificationPolicy
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

pytestmark = pytest.mark.slow

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY_CONFIG = b"{}"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_image(client: RegistryClient, ref: Reference, seed: str) -> str:
    layer = f"layer {seed}".encode()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]}}).encode()
    client.upload_blob(ref, layer)
    client.upload_blob(ref, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "size": len(config), "digest": _digest(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "size": len(layer), "digest": _digest(layer)}],
    }).encode()
    return client.put_manifest(ref, manifest, OCI_MANIFEST)


def _sign_statement(stack: Stack, image_digest: str, name: str,
                    annotations: dict[str, object] | None = None) -> bytes:
    """A cosign-v3-style image signature bundle, made by sigstore-python; the subject
    carries ``annotations`` (default ``{"env": "test"}``)."""
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": image_digest.split(":", 1)[1]},
                     "annotations": {"env": "test"} if annotations is None
                     else annotations}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {},
    }).encode()
    config = ClientTrustConfig.from_json(stack.client_trust_config_path.read_text())
    context = SigningContext.from_trust_config(config)
    with context.signer(IdentityToken(stack.issue_token())) as signer:
        return signer.sign_dsse(Statement(statement)).to_json().encode()


def _sign_blob(stack: Stack, data: bytes) -> bytes:
    config = ClientTrustConfig.from_json(stack.client_trust_config_path.read_text())
    context = SigningContext.from_trust_config(config)
    with context.signer(IdentityToken(stack.issue_token())) as signer:
        return signer.sign_artifact(data).to_json().encode()


def _attach(client: RegistryClient, ref: Reference, image_digest: str, blob: bytes,
            layer_media_type: str = BUNDLE_V03,
            predicate_type: str = "https://sigstore.dev/cosign/sign/v1") -> str:
    """Attach ``blob`` as cosign v3 (and actions/attest's ``push-to-registry``) do, with
    ggcr's referrers tag-schema fallback; ``predicate_type`` is the statement's, which
    the ``dev.sigstore.bundle.predicateType`` annotation names."""
    client.upload_blob(ref, EMPTY_CONFIG)
    client.upload_blob(ref, blob)
    image = client.get_manifest(ref.with_digest(image_digest))
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
                   "digest": _digest(EMPTY_CONFIG), "artifactType": BUNDLE_V03},
        "layers": [{"mediaType": layer_media_type, "size": len(blob), "digest": _digest(blob)}],
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope",
                        "dev.sigstore.bundle.predicateType": predicate_type},
        "subject": {"mediaType": image.media_type, "size": image.size, "digest": image_digest},
        "artifactType": BUNDLE_V03,
    }).encode()
    manifest_digest = client.put_manifest(ref.with_digest(_digest(manifest)), manifest,
                                          OCI_MANIFEST)
    tag = ref.with_tag(image_digest.replace(":", "-"))
    try:
        entries = client.get_manifest(tag).json()["manifests"]
    except Exception:
        entries = []
    entries.append({"mediaType": OCI_MANIFEST, "size": len(manifest), "digest": manifest_digest,
                    "artifactType": BUNDLE_V03})
    entries.sort(key=lambda e: e["digest"])
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": entries}).encode()
    client.put_manifest(tag, index, OCI_INDEX)
    return manifest_digest


@dataclass
class SignedImage:
    client: RegistryClient
    ref: Reference
    digest: str
    trust: TrustedRoot
    stack: Stack


@pytest.fixture(scope="module")
def signed_image(registry: LocalRegistry, sigstore_stack: Stack  # noqa: F811
                 ) -> Iterator[SignedImage]:
    client = RegistryClient()
    ref = parse_reference(f"{registry.host}/bundle/app:v1")
    digest = _push_image(client, ref, "signed")
    _attach(client, ref, digest, _sign_statement(sigstore_stack, digest, ref.repository_name))
    try:
        yield SignedImage(client, ref, digest,
                          TrustedRoot.from_file(sigstore_stack.trusted_root_path), sigstore_stack)
    finally:
        client.close()


def _policy(stack: Stack, identity: str | None = None, **kwargs: object) -> VerificationPolicy:
    return VerificationPolicy(identity=IdentityPolicy(identity=identity or stack.default_identity,
                                                      issuer=stack.oidc_issuer_url),
                              **kwargs)  # type: ignore[arg-type]


def test_bundle_attached_by_tag_schema_is_found_and_verified(signed_image: SignedImage) -> None:
    found = find_image_bundles(signed_image.client, signed_image.ref, signed_image.digest)
    assert len(found) == 1
    assert found[0].bundle.dsse_envelope is not None
    results = verify_image_bundles(found, signed_image.digest, signed_image.trust,
                                   _policy(signed_image.stack, annotations={"env": "test"}))
    assert [r.ok for r in results] == [True], [r.reason for r in results]
    output = results[0].output_object(signed_image.ref.name)
    assert output["critical"]["image"]["docker-manifest-digest"] == signed_image.digest
    assert output["critical"]["type"] == "https://sigstore.dev/cosign/sign/v1"
    assert output["optional"] == {"env": "test"}


def test_wrong_identity_annotation_or_trust_fails(signed_image: SignedImage) -> None:
    found = find_image_bundles(signed_image.client, signed_image.ref, signed_image.digest)
    stack = signed_image.stack
    wrong_identity = verify_image_bundles(found, signed_image.digest, signed_image.trust,
                                          _policy(stack, identity="https://example.com/x"))
    assert wrong_identity[0].reason.startswith("identity:")
    wrong_annotation = verify_image_bundles(found, signed_image.digest, signed_image.trust,
                                            _policy(stack, annotations={"env": "prod"}))
    assert wrong_annotation[0].reason.startswith("annotations:")
    public_good = verify_image_bundles(found, signed_image.digest,
                                       TrustedRoot.from_bytes(b'{"mediaType": "application/'
                                                              b'vnd.dev.sigstore.trustedroot'
                                                              b'+json;version=0.1"}'),
                                       _policy(stack))
    assert not public_good[0].ok
    other_digest = "sha256:" + "0" * 64
    assert not verify_image_bundles(found, other_digest, signed_image.trust,
                                    _policy(stack))[0].ok


def test_other_images_and_non_bundle_referrers_are_skipped(signed_image: SignedImage) -> None:
    client, ref = signed_image.client, signed_image.ref.with_tag("other")
    other = _push_image(client, ref, "other")
    assert find_image_bundles(client, ref, other) == []
    # a referrer whose single layer is not a bundle, and a v0.3 bundle that is a
    # message signature: the first is skipped, the second is found but fails DSSE
    _attach(client, ref, other, b'{"not": "a bundle"}', layer_media_type="application/json")
    _attach(client, ref, other, _sign_blob(signed_image.stack, b"some file"))
    found = find_image_bundles(client, ref, other)
    assert len(found) == 1
    result = verify_image_bundles(found, other, signed_image.trust, _policy(signed_image.stack))
    assert result[0].reason == "bundle: bundle does not contain a DSSE envelope"


def test_removing_the_tag_index_leaves_no_bundles(signed_image: SignedImage) -> None:
    client, ref = signed_image.client, signed_image.ref.with_tag("removable")
    digest = _push_image(client, ref, "removable")
    _attach(client, ref, digest, _sign_statement(signed_image.stack, digest, ref.repository_name))
    [result] = check_image_bundles(client, ref, digest, signed_image.trust,
                                   _policy(signed_image.stack))
    assert result.ok, result.reason
    index = client.get_manifest(ref.with_tag(digest.replace(":", "-")))
    client.delete_manifest(ref, index.digest)
    assert find_image_bundles(client, ref, digest) == []
    assert check_image_bundles(client, ref, digest, signed_image.trust,
                               _policy(signed_image.stack)) == []


def test_stale_index_entries_are_skipped(signed_image: SignedImage) -> None:
    client, ref = signed_image.client, signed_image.ref.with_tag("stale")
    digest = _push_image(client, ref, "stale")
    _attach(client, ref, digest, _sign_statement(signed_image.stack, digest, ref.repository_name))
    gone = _attach(client, ref, digest,
                   _sign_statement(signed_image.stack, digest, ref.repository_name))
    client.delete_manifest(ref, gone)  # the tag index still lists it
    listed = client.get_manifest(ref.with_tag(digest.replace(":", "-"))).json()["manifests"]
    assert gone in [entry["digest"] for entry in listed]
    [result] = check_image_bundles(client, ref, digest, signed_image.trust,
                                   _policy(signed_image.stack))
    assert result.ok, result.reason
