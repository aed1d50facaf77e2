"""Reading image sources: OCI layouts, OCI tars, docker-save tars, and everything bad."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
import tempfile
from pathlib import Path

import pytest

from signer.errors import DigestMismatchError, Error, InputError, SizeLimitError
from signer.registry import sources
from signer.registry.sources import open_source
from signer.testing.images import (
    DEFAULT_PLATFORMS,
    deterministic_tar,
    write_docker_archive,
    write_oci_archive,
    write_oci_layout,
)


def _blob_file(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.removeprefix("sha256:")


# ------------------------------------------------------------------ good sources


@pytest.mark.parametrize("docker", [False, True])
@pytest.mark.parametrize("multi", [False, True])
def test_layout_round_trips_manifests_and_blobs(tmp_path: Path, docker: bool, multi: bool) -> None:
    image = write_oci_layout(tmp_path / "img", seed=f"s-{docker}-{multi}", tag="v1", layers=2,
                             platforms=DEFAULT_PLATFORMS if multi else None,
                             docker_media_types=docker)
    with open_source(image.source) as source:
        assert source.root.digest == image.digest
        assert source.root.data == image.manifest
        assert source.root.media_type == image.media_type
        order = source.manifests_in_push_order()
        assert order[-1] is source.root
        assert {m.digest: m.data for m in order} == image.manifests
        assert len(source.root.children) == (2 if multi else 0)
        assert {b.digest for b in source.blobs()} == set(image.blobs)
        for blob in source.blobs():
            assert source.read_blob(blob) == image.blobs[blob.digest]
            assert b"".join(sources.iter_blob_chunks(source, blob, 7)) == image.blobs[blob.digest]


def test_bare_directory_and_untagged_layout(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="bare", tag=None)
    assert image.source == f"oci:{tmp_path / 'img'}"
    with open_source(str(tmp_path / "img")) as source:
        assert source.root.digest == image.digest


@pytest.mark.parametrize("compress", [False, True])
def test_oci_archive(tmp_path: Path, compress: bool) -> None:
    image = write_oci_archive(tmp_path / "img.tar", seed="arch", platforms=DEFAULT_PLATFORMS,
                              compress=compress)
    for text in (str(image.path), f"oci-archive:{image.path}", f"oci-archive:{image.path}:latest"):
        with open_source(text) as source:
            assert source.root.digest == image.digest
            for blob in source.blobs():
                assert source.read_blob(blob) == image.blobs[blob.digest]


@pytest.mark.parametrize("compress", [False, True])
def test_docker_archive_builds_schema2_manifest(tmp_path: Path, compress: bool) -> None:
    image = write_docker_archive(tmp_path / "save.tar", seed="dock", layers=3, compress=compress)
    with open_source(str(image.path)) as source:
        manifest = json.loads(source.root.data)
        assert source.root.media_type == sources.DOCKER_MANIFEST
        assert source.root.digest == "sha256:" + hashlib.sha256(source.root.data).hexdigest()
        assert manifest["config"]["digest"] == image.config_digests[0]
        assert manifest["config"]["mediaType"] == sources.DOCKER_CONFIG
        # uncompressed layers are pushed as they are: digest == diff_id
        assert [layer["digest"] for layer in manifest["layers"]] == image.layer_digests
        assert {layer["mediaType"] for layer in manifest["layers"]} == {sources.DOCKER_LAYER}
        for blob in source.blobs():
            assert source.read_blob(blob) == image.blobs[blob.digest]
        assert source.tag == "latest"


def test_docker_archive_with_gzipped_layer_and_internal_symlink(tmp_path: Path) -> None:
    layer = deterministic_tar([("f", b"hello")])
    gz_layer = gzip.compress(layer, mtime=0)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [diff_id, diff_id]}}).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in (("a/layer.tar", gz_layer), ("c.json", config),
                           ("manifest.json", json.dumps([{"Config": "c.json", "RepoTags": None,
                                                          "Layers": ["a/layer.tar",
                                                                     "b/layer.tar"]}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("b/layer.tar")
        link.type = tarfile.SYMTYPE
        link.linkname = "../a/layer.tar"
        tar.addfile(link)
    path = tmp_path / "save.tar"
    path.write_bytes(buffer.getvalue())
    with open_source(f"docker-archive:{path}") as source:
        layers = json.loads(source.root.data)["layers"]
        assert layers[0]["mediaType"] == sources.DOCKER_LAYER_GZIP
        assert layers[0]["digest"] == "sha256:" + hashlib.sha256(gz_layer).hexdigest()
        assert layers[0] == layers[1]
        assert len(source.blobs()) == 2


def test_distinct_seeds_give_distinct_digests_and_same_seed_same_bytes(tmp_path: Path) -> None:
    a = write_oci_layout(tmp_path / "a", seed="x")
    b = write_oci_layout(tmp_path / "b", seed="x")
    c = write_oci_layout(tmp_path / "c", seed="y")
    assert a.digest == b.digest != c.digest
    index_a, index_b = (tmp_path / n / "index.json" for n in "ab")
    assert index_a.read_bytes() == index_b.read_bytes()
    t1 = write_docker_archive(tmp_path / "1.tar", seed="x")
    t2 = write_docker_archive(tmp_path / "2.tar", seed="x")
    assert t1.path.read_bytes() == t2.path.read_bytes()


# ------------------------------------------------------------------- bad sources


def _error(text: str) -> Error:
    with pytest.raises(Error) as info:
        open_source(text).close()
    err = info.value
    assert "\n" not in err.message and err.hint
    assert err.exit_code == 1
    return err


def test_missing_directory(tmp_path: Path) -> None:
    err = _error(f"oci:{tmp_path / 'nope'}")
    assert isinstance(err, InputError) and "does not exist" in err.message


def test_directory_without_layout(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    assert "oci-layout" in _error(str(tmp_path / "d")).message
    assert "oci-layout" in _error(f"oci:{tmp_path / 'd'}").message


def test_missing_index_json(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="noindex")
    (image.path / "index.json").unlink()
    assert "index.json" in _error(image.source).message


def test_missing_blob(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="missing")
    _blob_file(image.path, image.layer_digests[0]).unlink()
    err = _error(image.source)
    assert "missing blob" in err.message and image.layer_digests[0] in err.message


def test_missing_child_manifest(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="child", platforms=DEFAULT_PLATFORMS)
    child = next(d for d in image.manifests if d != image.digest)
    _blob_file(image.path, child).unlink()
    assert child in _error(image.source).message


def test_blob_with_wrong_bytes_is_refused_when_read(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="corrupt")
    path = _blob_file(image.path, image.layer_digests[0])
    data = bytearray(path.read_bytes())
    data[10] ^= 1
    path.write_bytes(bytes(data))
    with open_source(image.source) as source:
        blob = next(b for b in source.blobs() if b.digest == image.layer_digests[0])
        with pytest.raises(DigestMismatchError):
            source.read_blob(blob)
        with pytest.raises(DigestMismatchError):
            b"".join(sources.iter_blob_chunks(source, blob))


def test_blob_with_wrong_size(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="size")
    path = _blob_file(image.path, image.config_digests[0])
    path.write_bytes(path.read_bytes() + b" ")
    assert "bytes" in _error(image.source).message


def test_edited_manifest_fails_its_digest(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="edited")
    assert image.digest
    path = _blob_file(image.path, image.digest)
    path.write_bytes(path.read_bytes().replace(b'"schemaVersion":2', b'"schemaVersion":3'))
    assert isinstance(_error(image.source), DigestMismatchError)


def test_manifest_over_size_cap(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="big")
    assert image.manifest is not None
    document = json.loads(image.manifest)
    document["annotations"] = {"pad": "x" * (sources.MAX_MANIFEST_BYTES + 10)}
    data = json.dumps(document).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _blob_file(image.path, digest).write_bytes(data)
    index = json.loads((image.path / "index.json").read_bytes())
    index["manifests"][0].update(digest=digest, size=len(data))
    (image.path / "index.json").write_text(json.dumps(index))
    err = _error(image.source)
    assert isinstance(err, SizeLimitError) and "limit" in err.message


def test_unknown_and_ambiguous_names(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="names", tag="v1")
    assert "no image named 'v2'" in _error(f"oci:{image.path}:v2").message
    index = json.loads((image.path / "index.json").read_bytes())
    second = dict(index["manifests"][0], annotations={sources.REF_NAME_ANNOTATION: "v3"})
    index["manifests"].append(second)
    (image.path / "index.json").write_text(json.dumps(index))
    err = _error(str(image.path))
    assert "holds 2 images" in err.message and "v1" in (err.hint or "")
    with open_source(f"oci:{image.path}:v3") as source:
        assert source.root.digest == image.digest


def _tar_with(tmp_path: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    base = write_oci_archive(tmp_path / "base.tar", seed="evil")
    buffer = io.BytesIO()
    with tarfile.open(base.path) as src, tarfile.open(fileobj=buffer, mode="w") as dst:
        for info in src.getmembers():
            dst.addfile(info, src.extractfile(info) if info.isfile() else None)
        member.size = len(data) if member.isfile() else 0
        dst.addfile(member, io.BytesIO(data) if member.isfile() else None)
    path = tmp_path / "evil.tar"
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize("name", ["../escape", "blobs/../../escape", "/etc/passwd"])
def test_tar_path_traversal_is_refused(tmp_path: Path, name: str) -> None:
    path = _tar_with(tmp_path, tarfile.TarInfo(name), b"x")
    assert "unsafe member name" in _error(str(path)).message


@pytest.mark.parametrize(("kind", "target"), [(tarfile.SYMTYPE, "../../../etc/passwd"),
                                              (tarfile.SYMTYPE, "/etc/passwd"),
                                              (tarfile.LNKTYPE, "../outside")])
def test_tar_links_outside_are_refused(tmp_path: Path, kind: bytes, target: str) -> None:
    link = tarfile.TarInfo("blobs/sha256/link")
    link.type = kind
    link.linkname = target
    assert "points outside" in _error(str(_tar_with(tmp_path, link))).message


def test_tar_device_member_is_refused(tmp_path: Path) -> None:
    device = tarfile.TarInfo("dev")
    device.type = tarfile.CHRTYPE
    assert "special file" in _error(str(_tar_with(tmp_path, device))).message


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_tar(tmp_path: Path, keep: float) -> None:
    image = write_oci_archive(tmp_path / "img.tar", seed="trunc", platforms=DEFAULT_PLATFORMS,
                              layer_size=20000)
    data = image.path.read_bytes()
    image.path.write_bytes(data[: int(len(data) * keep)])
    _error(str(image.path))


def test_corrupt_gzip_and_garbage(tmp_path: Path) -> None:
    image = write_oci_archive(tmp_path / "img.tar.gz", seed="gz", compress=True)
    data = image.path.read_bytes()
    image.path.write_bytes(data[: len(data) // 2])
    assert "gzip" in _error(str(image.path)).message
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"this is not a tar archive at all" * 40)
    _error(str(garbage))


def test_docker_layer_not_matching_diff_id(tmp_path: Path) -> None:
    image = write_docker_archive(tmp_path / "save.tar", seed="diff")
    data = bytearray(image.path.read_bytes())
    marker = data.find(image.blobs[image.layer_digests[0]][1024:1064])
    data[marker] ^= 1
    image.path.write_bytes(bytes(data))
    err = _error(str(image.path))
    assert isinstance(err, DigestMismatchError) and "diff_id" in err.message


def test_wrong_kind_prefixes(tmp_path: Path) -> None:
    layout = write_oci_layout(tmp_path / "img", seed="kinds")
    tar = write_docker_archive(tmp_path / "save.tar", seed="kinds")
    assert "not a tar" in _error(f"docker-archive:{layout.path}").message
    assert "not an OCI layout directory" in _error(f"oci:{tar.path}").message
    not_oci = tmp_path / "plain.tar"
    not_oci.write_bytes(deterministic_tar([("hello.txt", b"hi")]))
    assert "neither" in _error(str(not_oci)).message


def test_docker_archive_with_two_images_needs_a_name(tmp_path: Path) -> None:
    first = write_docker_archive(tmp_path / "a.tar", seed="two-a", repo_tag="app/a:v1")
    second = write_docker_archive(tmp_path / "b.tar", seed="two-b", repo_tag="app/b:v2")
    members: dict[str, bytes | None] = {}
    entries = []
    for archive in (first, second):
        with tarfile.open(archive.path) as tar:
            for info in tar.getmembers():
                handle = tar.extractfile(info) if info.isfile() else None
                data = handle.read() if handle else None
                if info.name == "manifest.json":
                    assert data is not None
                    entries += json.loads(data)
                elif info.name != "repositories":
                    members[info.name] = data
    members["manifest.json"] = json.dumps(entries).encode()
    both = tmp_path / "both.tar"
    both.write_bytes(deterministic_tar(sorted(members.items())))
    err = _error(str(both))
    assert "holds 2 images" in err.message and "docker-archive:" in (err.hint or "")
    with open_source(f"docker-archive:{both}:app/b:v2") as source:
        assert json.loads(source.root.data)["config"]["digest"] == second.config_digests[0]
        assert source.tag == "v2"
    assert "no image tagged" in _error(f"docker-archive:{both}:app/c:v3").message


def test_gzip_that_would_fill_the_disk_is_stopped(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    image = write_oci_archive(tmp_path / "img.tar.gz", seed="bomb", compress=True,
                              layer_size=200_000)
    free = sources.DISK_RESERVE_BYTES + 100_000  # less than the tar's uncompressed size
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda _path: type("Usage", (), {"free": free})())
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    err = _error(str(image.path))
    assert isinstance(err, SizeLimitError) and "free disk space" in err.message
    assert list(scratch.iterdir()) == []  # the partial copy is gone


def test_foreign_layer_without_local_blob_is_not_pushed(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="foreign")
    assert image.manifest is not None and image.digest is not None
    document = json.loads(image.manifest)
    foreign = {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
               "digest": "sha256:" + "ab" * 32, "size": 123,
               "urls": ["https://example.invalid/layer"]}
    document["layers"].append(foreign)
    data = json.dumps(document).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _blob_file(image.path, digest).write_bytes(data)
    (image.path / "index.json").write_text(json.dumps(
        {"schemaVersion": 2, "manifests": [{"mediaType": image.media_type, "digest": digest,
                                            "size": len(data)}]}))
    with open_source(str(image.path)) as source:
        assert source.root.data == data
        assert foreign["digest"] not in {b.digest for b in source.blobs()}
        assert len(source.blobs()) == 2


def test_gzip_temporary_copy_is_removed_on_close(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    image = write_oci_archive(tmp_path / "img.tar.gz", seed="cleanup", compress=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with open_source(str(image.path)) as source:
        assert len(list(scratch.iterdir())) == 1
        assert source.root.digest == image.digest
    assert list(scratch.iterdir()) == []
