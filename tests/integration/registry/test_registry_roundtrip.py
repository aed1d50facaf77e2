"""Round trips through our client against the real registry in all three setups,
with skopeo as the independent client in both directions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from signer.errors import DigestMismatchError, ImageNotFoundError, SizeLimitError
from signer.reference import Reference, parse_reference
from signer.registry.client import MAX_MANIFEST_BYTES, RegistryClient
from signer.registry.credentials import AnonymousKeychain
from signer.registry.mediatypes import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
)
from signer.testing.images import DEFAULT_PLATFORMS, write_oci_layout
from signer.testing.registry import LocalRegistry
from tests.integration.registry.conftest import Target, push_image, skopeo

pytestmark = pytest.mark.slow


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(("docker", "multi"), [(False, False), (True, False), (False, True),
                                               (True, True)],
                         ids=["oci", "docker", "oci-index", "docker-list"])
def test_push_and_read_back(target: Target, tmp_path: Path, docker: bool, multi: bool) -> None:
    image = write_oci_layout(tmp_path / "img", seed=f"rt-{target.kind}-{docker}-{multi}",
                             tag="v1", docker_media_types=docker,
                             platforms=DEFAULT_PLATFORMS if multi else None)
    client = target.make_client()
    ref = target.ref(f"roundtrip/{'docker' if docker else 'oci'}-{int(multi)}:v1")
    assert push_image(client, ref, image) == image.digest

    manifest = client.get_manifest(ref)
    assert manifest.data == image.manifest
    assert manifest.digest == image.digest
    expected_type = {(False, False): OCI_MANIFEST, (True, False): DOCKER_MANIFEST,
                     (False, True): OCI_INDEX, (True, True): DOCKER_MANIFEST_LIST}[docker, multi]
    assert manifest.media_type == expected_type
    assert client.resolve_digest(ref) == image.digest
    head = client.head_manifest(ref)
    assert head is not None
    assert (head.media_type, head.digest, head.size) == (expected_type, image.digest,
                                                         len(image.manifest or b""))
    assert client.get_manifest(ref.with_digest(manifest.digest)).data == image.manifest
    for digest, data in image.manifests.items():
        assert client.get_manifest(ref.with_digest(digest)).data == data
    for digest, data in image.blobs.items():
        assert client.get_blob(ref, digest) == data

    # Independent check: skopeo reads the same bytes back.
    raw = skopeo("inspect", "--raw", *target.skopeo_inspect, f"docker://{ref}").stdout
    assert raw == image.manifest


@pytest.mark.parametrize("fmt", ["oci", "v2s2", "index"])
def test_reads_what_skopeo_pushed(target: Target, tmp_path: Path, fmt: str) -> None:
    image = write_oci_layout(tmp_path / "img", seed=f"sk-{target.kind}-{fmt}", tag="t",
                             platforms=DEFAULT_PLATFORMS if fmt == "index" else None)
    ref = target.ref(f"skopeo/{fmt}:pushed")
    extra = ["--format", "v2s2"] if fmt == "v2s2" else ["--all"] if fmt == "index" else []
    skopeo("copy", "--quiet", *extra, *target.skopeo_dest, image.source, f"docker://{ref}")
    raw = skopeo("inspect", "--raw", *target.skopeo_inspect, f"docker://{ref}").stdout
    manifest_file = tmp_path / "manifest.json"
    manifest_file.write_bytes(raw)
    skopeo_digest = skopeo("manifest-digest", str(manifest_file)).stdout.decode().strip()

    client = target.make_client()
    manifest = client.get_manifest(ref)
    assert manifest.data == raw
    assert manifest.digest == skopeo_digest == _sha256(raw)
    assert client.resolve_digest(ref) == skopeo_digest
    document = manifest.json()
    if fmt == "index":
        assert manifest.media_type == OCI_INDEX
        for child in document["manifests"]:
            assert client.get_manifest(ref.with_digest(child["digest"])).digest == child["digest"]
    else:
        assert manifest.media_type == (DOCKER_MANIFEST if fmt == "v2s2" else OCI_MANIFEST)
        for blob in [document["config"], *document["layers"]]:
            data = client.get_blob(ref, blob["digest"])
            assert len(data) == blob["size"]


def test_tags_and_delete(target: Target, tmp_path: Path) -> None:
    client = target.make_client()
    image = write_oci_layout(tmp_path / "a", seed=f"tags-{target.kind}", tag="a")
    other = write_oci_layout(tmp_path / "b", seed=f"tags2-{target.kind}", tag="b")
    first = push_image(client, target.ref("tags/app:one"), image)
    push_image(client, target.ref("tags/app:two"), image)
    second = push_image(client, target.ref("tags/app:three"), other)
    assert sorted(client.list_tags(target.ref("tags/app"))) == ["one", "three", "two"]

    client.delete_manifest(target.ref("tags/app"), first)
    assert client.head_manifest(target.ref("tags/app:one")) is None
    with pytest.raises(ImageNotFoundError) as info:
        client.get_manifest(target.ref("tags/app:two"))
    assert info.value.exit_code == 11
    assert client.list_tags(target.ref("tags/app")) == ["three"]
    assert client.resolve_digest(target.ref("tags/app:three")) == second
    with pytest.raises(ImageNotFoundError):
        client.delete_manifest(target.ref("tags/app"), first)
    with pytest.raises(ImageNotFoundError):
        client.list_tags(target.ref("tags/never-pushed"))


def test_referrers_tag_schema_fallback(target: Target, tmp_path: Path) -> None:
    client = target.make_client()
    ref = target.ref("referrers/app:v1")
    image = write_oci_layout(tmp_path / "img", seed=f"ref-{target.kind}", tag="v1")
    subject = push_image(client, ref, image)
    assert client.referrers(ref, subject) == []

    empty = b"{}"
    empty_digest = client.upload_blob(ref, empty)
    artifacts = []
    for n, artifact_type in enumerate(["application/vnd.dev.sigstore.bundle.v0.3+json",
                                       "application/spdx+json"]):
        layer = f"artifact {n}".encode()
        layer_digest = client.upload_blob(ref, layer)
        artifact = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                       "digest": empty_digest, "size": 2},
            "layers": [{"mediaType": artifact_type, "digest": layer_digest,
                        "size": len(layer)}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject,
                        "size": len(image.manifest or b"")},
        }, separators=(",", ":")).encode()
        digest = client.put_manifest(ref.with_digest(_sha256(artifact)), artifact, OCI_MANIFEST)
        artifacts.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(artifact),
                          "artifactType": artifact_type,
                          "annotations": {"n": str(n)}})
    # This registry has no referrers API: maintain the tag-schema index as clients do.
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": artifacts}).encode()
    client.put_manifest(ref.with_tag(subject.replace(":", "-")), index, OCI_INDEX)

    found = client.referrers(ref, subject)
    assert [d.digest for d in found] == [a["digest"] for a in artifacts]
    assert found[0].artifact_type == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert found[1].annotations == {"n": "1"}
    only = client.referrers(ref, subject, artifact_type="application/spdx+json")
    assert [d.digest for d in only] == [artifacts[1]["digest"]]
    assert client.referrers(ref, _sha256(b"unrelated")) == []


def test_chunked_upload_and_mount(target: Target) -> None:
    client = target.make_client(chunk_size=1000)
    ref = target.ref("chunks/app")
    data = bytes(range(256)) * 21  # 5376 bytes: six chunks
    digest = client.upload_blob(ref, data)
    assert digest == _sha256(data)
    assert client.blob_exists(ref, digest)
    assert client.get_blob(ref, digest) == data

    other = target.ref("chunks/other")
    assert not client.blob_exists(other, digest)
    assert client.mount_blob(other, digest, "chunks/app") is True
    assert client.blob_exists(other, digest)
    assert client.get_blob(other, digest) == data
    # A source in another registry is never tried; a blob the source lacks is not mounted.
    assert client.mount_blob(other, digest, Reference("elsewhere.example", "chunks/app")) is False
    missing = _sha256(b"never uploaded")
    assert client.mount_blob(other, missing, "chunks/app") is False
    assert not client.blob_exists(other, missing)


def test_size_caps_and_digest_checks(target: Target) -> None:
    client = target.make_client()
    ref = target.ref("caps/app")
    data = b"z" * 4096
    digest = client.upload_blob(ref, data)
    with pytest.raises(SizeLimitError):
        client.get_blob(ref, digest, limit=1024)
    with pytest.raises(DigestMismatchError):
        client.upload_blob(ref, data, digest=_sha256(b"something else"))
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                                      "digest": digest, "size": len(data)},
                           "layers": []}).encode()
    client.put_manifest(ref.with_tag("small"), manifest, OCI_MANIFEST)
    with pytest.raises(SizeLimitError):
        client.get_manifest(ref.with_tag("small"), limit=50)
    with pytest.raises(SizeLimitError):
        client.put_manifest(ref.with_tag("huge"), b" " * (MAX_MANIFEST_BYTES + 1), OCI_MANIFEST)
    assert client.head_manifest(ref.with_tag("huge")) is None
    with pytest.raises(DigestMismatchError):
        client.put_manifest(ref.with_digest(_sha256(b"other")), manifest, OCI_MANIFEST)


def test_localhost_name_reaches_the_plain_registry(registry: LocalRegistry,
                                                   tmp_path: Path) -> None:
    port = registry.host.rsplit(":", 1)[1]
    image = write_oci_layout(tmp_path / "img", seed="localhost", tag="v1")
    with RegistryClient(AnonymousKeychain()) as client:
        ref = parse_reference(f"localhost:{port}/loopback/app:v1")
        assert push_image(client, ref, image) == image.digest
        same = parse_reference(f"{registry.host}/loopback/app:v1")
        assert client.get_manifest(same).data == image.manifest
