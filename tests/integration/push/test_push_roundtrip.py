"""``signer push`` against the real registry, with skopeo as the independent reader."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from signer.reference import parse_reference
from signer.registry.client import RegistryClient
from signer.registry.sources import open_source
from signer.testing.images import (
    DEFAULT_PLATFORMS,
    TestImage,
    write_docker_archive,
    write_oci_archive,
    write_oci_layout,
)
from signer.testing.registry import LocalRegistry
from tests.integration.push.conftest import (
    run_push,
    skopeo,
    skopeo_manifest_digest,
    skopeo_raw,
)

KINDS = ["oci", "oci-docker-types", "oci-index", "docker-index", "docker-save",
         "docker-save-gz", "oci-tar", "oci-tar-gz"]


def make_source(kind: str, tmp_path: Path, seed: str) -> TestImage:
    """A fresh test image of ``kind`` (see KINDS)."""
    multi = DEFAULT_PLATFORMS if kind.endswith("index") else None
    if kind.startswith("docker-save"):
        return write_docker_archive(tmp_path / "save.tar", seed=seed, layers=2,
                                    compress=kind.endswith("gz"))
    if kind.startswith("oci-tar"):
        return write_oci_archive(tmp_path / "image.tar", seed=seed, layers=2,
                                 compress=kind.endswith("gz"))
    return write_oci_layout(tmp_path / "layout", seed=seed, tag="src", layers=2, platforms=multi,
                            docker_media_types=kind.startswith("docker"))


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def pushed_digest(stdout: str, repository: str) -> str:
    """The digest from the one ``REPOSITORY@sha256:…`` line."""
    [line] = stdout.splitlines()
    name, at, digest = line.partition("@")
    assert name == repository and at, line
    return digest


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_push_round_trip_read_back_by_skopeo(registry: LocalRegistry, tmp_path: Path,
                                             kind: str) -> None:
    image = make_source(kind, tmp_path, seed=f"roundtrip-{kind}")
    repository = f"{registry.host}/push-roundtrip/{kind}"
    outcome = run_push([image.source, f"{repository}:v1"])
    assert outcome.code == 0, outcome.stderr
    digest = pushed_digest(outcome.stdout, repository)

    raw = skopeo_raw(f"{repository}:v1")
    assert raw is not None
    assert digest == sha256(raw) == skopeo_manifest_digest(raw, tmp_path)
    document = json.loads(raw)
    if image.manifest is not None:
        assert raw == image.manifest  # byte-identical to what we pushed
        assert digest == image.digest
        for child_digest, child in image.manifests.items():
            assert skopeo_raw(f"{repository}@{child_digest}") == child
    else:  # docker save: we built a schema-2 manifest from the archive
        assert document["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
        assert document["config"]["digest"] == image.config_digests[0]
        assert [layer["digest"] for layer in document["layers"]] == image.layer_digests

    # skopeo copies our image back out, byte for byte
    copy = tmp_path / "copy"
    skopeo("copy", "--all", "--preserve-digests", "--src-tls-verify=false",
           f"docker://{repository}:v1", f"dir:{copy}")
    assert (copy / "manifest.json").read_bytes() == raw
    for blob_digest, blob in image.blobs.items():
        assert (copy / blob_digest.removeprefix("sha256:")).read_bytes() == blob
    if "docker" not in kind:
        skopeo("copy", "--all", "--preserve-digests", "--src-tls-verify=false",
               f"docker://{repository}:v1", f"oci:{tmp_path / 'oci-copy'}:back")
        with open_source(f"oci:{tmp_path / 'oci-copy'}:back") as source:
            assert source.root.digest == digest
    else:  # skopeo understands our Docker media types well enough to convert them to OCI
        skopeo("copy", "--all", "--src-tls-verify=false", f"docker://{repository}:v1",
               f"oci:{tmp_path / 'oci-converted'}:back")
        with open_source(f"oci:{tmp_path / 'oci-converted'}:back") as source:
            assert len(source.manifests_in_push_order()) == max(1, len(image.manifests))
            assert len(source.blobs()) == len(image.blobs)


@pytest.mark.slow
def test_several_targets_mount_and_untagged_target_is_pushed_by_digest(
        registry: LocalRegistry, tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "layout", seed="targets", platforms=DEFAULT_PLATFORMS)
    first, second, third = (f"{registry.host}/push-targets/{n}" for n in ("a", "b", "c"))
    outcome = run_push([image.source, f"{first}:v1,{second}:v2", third])
    assert outcome.code == 0, outcome.stderr
    lines = outcome.stdout.splitlines()
    assert lines == [f"{first}@{image.digest}", f"{second}@{image.digest}",
                     f"{third}@{image.digest}"]
    blob_count = len(image.blobs)
    assert f"{blob_count} blobs uploaded, 0 already present, 0 mounted" in outcome.stderr
    assert f"0 blobs uploaded, 0 already present, {blob_count} mounted" in outcome.stderr
    assert skopeo_raw(f"{first}:v1") == image.manifest
    assert skopeo_raw(f"{second}:v2") == image.manifest
    assert skopeo_raw(f"{third}@{image.digest}") == image.manifest
    assert skopeo_raw(f"{third}:latest") is None  # no tag given: none written

    again = run_push([image.source, f"{first}:v1"])
    assert again.code == 0, again.stderr
    assert f"0 blobs uploaded, {blob_count} already present" in again.stderr


@pytest.mark.slow
def test_skopeo_pushed_layout_gets_the_same_digest_from_us(registry: LocalRegistry,
                                                           tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "layout", seed="peer", tag="src",
                             platforms=DEFAULT_PLATFORMS)
    theirs = f"{registry.host}/push-peer/skopeo"
    ours = f"{registry.host}/push-peer/signer"
    skopeo("copy", "--all", "--preserve-digests", "--dest-tls-verify=false", image.source,
           f"docker://{theirs}:v1")
    raw = skopeo_raw(f"{theirs}:v1")
    assert raw is not None
    outcome = run_push([image.source, f"{ours}:v1"])
    assert outcome.code == 0, outcome.stderr
    assert pushed_digest(outcome.stdout, ours) == skopeo_manifest_digest(raw, tmp_path)
    assert skopeo_raw(f"{ours}:v1") == raw
    # and our client reads what skopeo pushed, digest-checked
    with RegistryClient() as client:
        ref = parse_reference(f"{theirs}:v1")
        assert client.resolve_digest(ref) == image.digest
        manifest = client.get_manifest(ref)
        assert (manifest.data, manifest.digest) == (raw, image.digest)
        for child in json.loads(raw)["manifests"]:
            got = client.get_manifest(ref.with_digest(child["digest"]))
            assert got.data == image.manifests[child["digest"]]
            config = json.loads(got.data)["config"]["digest"]
            assert client.get_blob(ref, config) == image.blobs[config]


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["docker-archive", "oci-archive"])
def test_archives_written_by_skopeo_push_correctly(registry: LocalRegistry, tmp_path: Path,
                                                   transport: str) -> None:
    image = write_oci_layout(tmp_path / "layout", seed=f"skopeo-{transport}", tag="src",
                             layers=2)
    archive = tmp_path / f"{transport}.tar"
    name = "example/app:v1" if transport == "docker-archive" else "v1"
    skopeo("copy", image.source, f"{transport}:{archive}:{name}")
    repository = f"{registry.host}/push-skopeo-archive/{transport}"
    outcome = run_push([str(archive), f"{repository}:v1"])
    assert outcome.code == 0, outcome.stderr
    digest = pushed_digest(outcome.stdout, repository)
    raw = skopeo_raw(f"{repository}:v1")
    assert raw is not None and digest == skopeo_manifest_digest(raw, tmp_path)
    document = json.loads(raw)
    config = json.loads(image.blobs[image.config_digests[0]])
    if transport == "oci-archive":  # skopeo kept the manifest as it was
        assert raw == image.manifest
    else:  # skopeo stored uncompressed layers; we pushed them as they are
        assert [layer["digest"] for layer in document["layers"]] == config["rootfs"]["diff_ids"]
    copy = tmp_path / "copy"
    skopeo("copy", "--src-tls-verify=false", f"docker://{repository}:v1", f"dir:{copy}")
    assert (copy / "manifest.json").read_bytes() == raw


@pytest.mark.slow
def test_large_layer_goes_through_chunked_upload(registry: LocalRegistry, tmp_path: Path) -> None:
    from signer.registry.client import DEFAULT_CHUNK_SIZE

    image = write_oci_layout(tmp_path / "big", seed="large", layer_size=DEFAULT_CHUNK_SIZE + 4096)
    repository = f"{registry.host}/push-large/img"
    outcome = run_push([image.source, f"{repository}:v1"])
    assert outcome.code == 0, outcome.stderr
    assert pushed_digest(outcome.stdout, repository) == image.digest
    copy = tmp_path / "copy"
    skopeo("copy", "--src-tls-verify=false", f"docker://{repository}:v1", f"dir:{copy}")
    layer = image.layer_digests[0]
    assert len(image.blobs[layer]) > DEFAULT_CHUNK_SIZE
    assert (copy / layer.removeprefix("sha256:")).read_bytes() == image.blobs[layer]
