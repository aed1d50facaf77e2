"""The library entry point ``sign_images`` against the real registry."""

from __future__ import annotations

import hashlib
import json

import pytest

from signer.digest import sha256_digest
from signer.formats.legacy import (
    ANNOTATION_SIGNATURE,
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    SIMPLE_SIGNING_MEDIA_TYPE,
    SignatureLayer,
    build_signature_manifest,
    signature_tag,
)
from signer.keys import generate_ephemeral_key
from signer.reference import parse_reference
from signer.registry.client import RegistryClient
from signer.sign import SignOptions, sign_images
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from signer.trust import TrustedRoot
from tests.integration.registry.faultproxy import FaultProxy
from tests.integration.sign.conftest import PushImage, skopeo_raw

pytestmark = pytest.mark.slow


def test_existing_docker_typed_sig_keeps_types_and_foreign_layers(
        client: RegistryClient, push_image: PushImage) -> None:
    ref, image = push_image("docker-typed")
    assert image.digest is not None
    sig_ref = ref.with_tag(signature_tag(image.digest))
    foreign = SignatureLayer(b'{"written":"by another tool"}', SIMPLE_SIGNING_MEDIA_TYPE,
                             {ANNOTATION_SIGNATURE: "c29tZXRoaW5n", "x-other": "kept"})
    manifest, config = build_signature_manifest([foreign], manifest_media_type=DOCKER_MANIFEST)
    client.upload_blob(sig_ref, foreign.payload, foreign.digest)
    client.upload_blob(sig_ref, config, str(sha256_digest(config)))
    client.put_manifest(sig_ref, manifest, DOCKER_MANIFEST)

    [result] = sign_images(client, [ref], SignOptions(key=generate_ephemeral_key(),
                                                      tlog_upload=False))
    assert result.added and result.digest == image.digest
    written = json.loads(skopeo_raw(f"{ref.repository_name}:{result.signature_tag}"))
    assert written["mediaType"] == DOCKER_MANIFEST
    assert written["config"]["mediaType"] == DOCKER_CONFIG
    assert written["layers"][0] == json.loads(manifest)["layers"][0]  # verbatim, first
    assert len(written["layers"]) == 2
    # (skopeo cannot parse a Docker-typed manifest with these layer types: read the blob)
    config_blob = client.get_blob(sig_ref, written["config"]["digest"])
    assert json.loads(config_blob)["rootfs"]["diff_ids"] == [
        layer["digest"] for layer in written["layers"]]
    assert written["config"]["digest"] == "sha256:" + hashlib.sha256(config_blob).hexdigest()


def test_many_images_in_one_call_share_one_certificate(
        client: RegistryClient, push_image: PushImage, sigstore_stack: Stack) -> None:
    refs = [push_image(f"batch{i}")[0] for i in range(4)]
    options = SignOptions(identity_token=sigstore_stack.issue_token(),
                          fulcio_url=sigstore_stack.fulcio_url,
                          rekor_url=sigstore_stack.rekor_url,
                          trusted_root=TrustedRoot.from_file(sigstore_stack.trusted_root_path))
    results = sign_images(client, refs, options)
    assert [r.reference for r in results] == [str(ref) for ref in refs]
    assert len({r.log_index for r in results}) == 4
    certificates = set()
    for result, ref in zip(results, refs, strict=True):
        layers = json.loads(skopeo_raw(f"{ref.repository_name}:{result.signature_tag}"))["layers"]
        certificates.add(layers[0]["annotations"]["dev.sigstore.cosign/certificate"])
        assert set(result.timings) >= {"crypto", "rekor", "registry", "fulcio"}
    assert len(certificates) == 1


def test_requests_done_once_per_run(registry: LocalRegistry, push_image: PushImage,
                                    sigstore_stack: Stack) -> None:
    """Signing the three manifests of one repository (index and two platforms) in
    ``both`` mode uploads the referrers' shared ``{}`` config blob once, heads the tag
    only once (its answer is the index's referrer subject), and the client
    probes the referrers API of a host only until it found none; each manifest still
    gets its own referrer, listed in its own tag index, and its own ``.sig``."""
    from signer.formats.referrer import EMPTY_CONFIG_DIGEST
    from signer.testing.images import DEFAULT_PLATFORMS

    ref, image = push_image("once-per-run", platforms=DEFAULT_PLATFORMS)
    with FaultProxy(registry.host) as proxy, \
            RegistryClient(insecure=(proxy.host,)) as through_proxy:
        proxied = parse_reference(f"{proxy.host}/{ref.repository}:{ref.tag}")
        options = SignOptions(identity_token=sigstore_stack.issue_token(),
                              fulcio_url=sigstore_stack.fulcio_url,
                              rekor_url=sigstore_stack.rekor_url, recursive=True,
                              trusted_root=TrustedRoot.from_file(
                                  sigstore_stack.trusted_root_path))
        results = sign_images(through_proxy, [proxied], options)
        assert {r.digest for r in results} == set(image.manifests)
        assert proxy.count("PUT", f"digest={EMPTY_CONFIG_DIGEST.replace(':', '%3A')}") == 1
        # the tag's HEAD gave the index's descriptor: not asked again for its referrer
        assert proxy.count("HEAD", f"/manifests/{image.digest}") == 0
        probes = proxy.count("GET", "/referrers/")
        assert 1 <= probes <= 3  # the three signers' first probes may overlap
        other, _ = push_image("once-per-run-other")
        sign_images(through_proxy, [parse_reference(f"{proxy.host}/{other.repository}:v1")],
                    options)
        assert proxy.count("GET", "/referrers/") == probes  # the client remembers the host
    for result in results:
        assert result.formats == ("legacy", "bundle") and result.referrer_index_tag
        index = json.loads(skopeo_raw(f"{ref.repository_name}:{result.referrer_index_tag}"))
        referrer_digest = (result.referrer_ref or "").rpartition("@")[2]
        assert [m["digest"] for m in index["manifests"]] == [referrer_digest]
        sig = json.loads(skopeo_raw(f"{ref.repository_name}:{result.signature_tag}"))
        assert len(sig["layers"]) == 1
