"""Deterministic container images for tests and benchmarks, built offline.

Three on-disk forms, all byte-for-byte reproducible for the same arguments (tar
mtimes 0, gzip mtime 0, owner 0:0, compact JSON with a fixed key order):

* :func:`write_oci_layout` -- an OCI image layout directory (``oci-layout``,
  ``index.json``, ``blobs/sha256/...``), single-platform or a multi-platform index,
  with OCI or Docker media types;
* :func:`write_oci_archive` -- the same layout packed in a tar (optionally gzipped);
* :func:`write_docker_archive` -- a ``docker save`` tar (``manifest.json``,
  ``repositories``, ``<hex>.json`` config, ``<id>/layer.tar`` uncompressed layers).

``seed`` makes the content (and so every digest) unique per call: tests that need
distinct images pass distinct seeds. Every function returns a :class:`TestImage`
describing what was written, including each manifest's bytes and digest, so a test
can compare what a registry returns with what it pushed.

Typical use::

    image = write_oci_layout(tmp_path / "img", seed="t1", tag="v1")
    subprocess.run(["signer", "push", image.source, f"{host}/repo:v1"])
    assert pushed_digest == image.digest
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OCI_LAYOUT_VERSION = "1.0.0"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_INDEX = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class Platform:
    """An OS/architecture pair (with optional variant) of one image in an index."""

    os: str
    architecture: str
    variant: str | None = None

    def as_json(self) -> dict[str, str]:
        """The ``platform`` object of an index entry / the fields of a config."""
        value = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            value["variant"] = self.variant
        return value


#: the platforms of a multi-platform test image unless the caller names others.
DEFAULT_PLATFORMS: tuple[Platform, ...] = (Platform("linux", "amd64"), Platform("linux", "arm64"))


@dataclass
class TestImage:
    """What a writer produced.

    ``source`` is the string to give ``signer push`` (``oci:DIR:TAG`` or the tar path).
    ``digest``/``media_type``/``manifest`` describe the top-level manifest or index;
    they are None for a docker-save tar, which holds no manifest (the pusher builds
    one). ``manifests`` maps every manifest digest (top and children) to its bytes;
    ``blobs`` maps every config and layer digest to its bytes.
    """

    __test__ = False  # not a pytest test class despite the name

    path: Path
    source: str
    tag: str | None
    digest: str | None
    media_type: str | None
    manifest: bytes | None
    manifests: dict[str, bytes] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    config_digests: list[str] = field(default_factory=list)
    layer_digests: list[str] = field(default_factory=list)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _content(seed: str, label: str, size: int) -> bytes:
    """``size`` pseudo-random bytes derived from ``seed`` and ``label``."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}\0{label}\0{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def deterministic_tar(entries: Sequence[tuple[str, bytes | None]]) -> bytes:
    """A ustar archive of ``(name, data)`` entries (``data`` None: a directory).

    Every member has mtime 0, owner 0:0 and no user/group names, so the bytes
    depend only on the entries.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                archive.addfile(info)
            else:
                info.mode = 0o644
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def deterministic_gzip(data: bytes) -> bytes:
    """gzip ``data`` with mtime 0 and no file name (same bytes for the same input)."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def _layer_tar(seed: str, label: str, size: int) -> bytes:
    """An uncompressed layer holding one file whose content is unique to seed+label."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    return deterministic_tar([
        ("signer-test/", None),
        (f"signer-test/{safe}.bin", _content(seed, label, size)),
    ])


def _config(seed: str, platform: Platform, diff_ids: list[str]) -> bytes:
    document: dict[str, Any] = {
        "architecture": platform.architecture,
        "os": platform.os,
    }
    if platform.variant:
        document["variant"] = platform.variant
    document.update({
        "config": {"Labels": {"dev.signer.test.seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"signer test layer {i}"} for i in range(len(diff_ids))],
    })
    return _json(document)


@dataclass
class _Built:
    """An image's manifests and blobs before they are written somewhere."""

    top_digest: str
    top_media_type: str
    manifests: dict[str, bytes]
    blobs: dict[str, bytes]
    config_digests: list[str]
    layer_digests: list[str]


def _build_manifest(seed: str, platform: Platform, layers: int, layer_size: int, docker: bool,
                    built: _Built, platform_tag: str) -> tuple[str, bytes, str]:
    """One single-platform manifest; its blobs go into ``built``. Layer 0 is shared
    by every platform of the same seed, the others are per platform."""
    layer_descriptors = []
    diff_ids = []
    for index in range(layers):
        label = "base" if index == 0 else f"{platform_tag}-layer{index}"
        raw = _layer_tar(seed, label, layer_size)
        compressed = deterministic_gzip(raw)
        digest = _digest(compressed)
        built.blobs[digest] = compressed
        if digest not in built.layer_digests:
            built.layer_digests.append(digest)
        diff_ids.append(_digest(raw))
        layer_descriptors.append({
            "mediaType": DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP,
            "digest": digest,
            "size": len(compressed),
        })
    config = _config(seed, platform, diff_ids)
    config_digest = _digest(config)
    built.blobs[config_digest] = config
    built.config_digests.append(config_digest)
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = _json({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
            "digest": config_digest,
            "size": len(config),
        },
        "layers": layer_descriptors,
    })
    digest = _digest(manifest)
    built.manifests[digest] = manifest
    return digest, manifest, media_type


def _build(seed: str, platforms: Sequence[Platform] | None, layers: int, layer_size: int,
           docker: bool) -> _Built:
    if layers < 1:
        raise ValueError("an image needs at least one layer")
    built = _Built("", "", {}, {}, [], [])
    if not platforms:
        digest, _manifest, media_type = _build_manifest(
            seed, DEFAULT_PLATFORMS[0], layers, layer_size, docker, built, "single")
        built.top_digest, built.top_media_type = digest, media_type
        return built
    entries = []
    for platform in platforms:
        tag = "-".join(filter(None, (platform.os, platform.architecture, platform.variant)))
        digest, manifest, media_type = _build_manifest(
            seed, platform, layers, layer_size, docker, built, tag)
        entries.append({"mediaType": media_type, "digest": digest, "size": len(manifest),
                        "platform": platform.as_json()})
    index_type = DOCKER_INDEX if docker else OCI_INDEX
    index = _json({"schemaVersion": 2, "mediaType": index_type, "manifests": entries})
    built.top_digest, built.top_media_type = _digest(index), index_type
    built.manifests[built.top_digest] = index
    return built


def _layout_entries(built: _Built, tag: str | None) -> list[tuple[str, bytes | None]]:
    """The files of an OCI layout (relative paths) for ``built``."""
    top = built.manifests[built.top_digest]
    descriptor: dict[str, Any] = {"mediaType": built.top_media_type,
                                  "digest": built.top_digest, "size": len(top)}
    if tag:
        descriptor["annotations"] = {REF_NAME_ANNOTATION: tag}
    entries: list[tuple[str, bytes | None]] = [
        ("oci-layout", _json({"imageLayoutVersion": OCI_LAYOUT_VERSION})),
        ("index.json", _json({"schemaVersion": 2, "mediaType": OCI_INDEX,
                              "manifests": [descriptor]})),
        ("blobs/", None),
        ("blobs/sha256/", None),
    ]
    for digest, data in sorted({**built.blobs, **built.manifests}.items()):
        entries.append((f"blobs/sha256/{digest.removeprefix('sha256:')}", data))
    return entries


def _result(path: Path, source: str, tag: str | None, built: _Built) -> TestImage:
    return TestImage(
        path=path, source=source, tag=tag, digest=built.top_digest,
        media_type=built.top_media_type, manifest=built.manifests[built.top_digest],
        manifests=dict(built.manifests), blobs=dict(built.blobs),
        config_digests=list(built.config_digests), layer_digests=list(built.layer_digests),
    )


def write_oci_layout(directory: Path, *, seed: str = "0", tag: str | None = "latest",
                     platforms: Sequence[Platform] | None = None, docker_media_types: bool = False,
                     layers: int = 1, layer_size: int = 256) -> TestImage:
    """Write an OCI image layout directory and describe it.

    ``platforms`` None gives a single-platform image (linux/amd64); a sequence gives
    an index over those platforms (use :data:`DEFAULT_PLATFORMS` for amd64+arm64).
    ``docker_media_types`` uses Docker schema-2 manifest/list/config/layer types
    (``signer push`` reads such layouts; skopeo 1.9's ``oci:`` transport does not).
    ``tag`` is recorded as the ``org.opencontainers.image.ref.name`` of the one
    ``index.json`` entry (None: no name). ``source`` is ``oci:DIR:TAG`` (or ``oci:DIR``).
    """
    built = _build(seed, platforms, layers, layer_size, docker_media_types)
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in _layout_entries(built, tag):
        target = directory / name
        if data is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.write_bytes(data)
    source = f"oci:{directory}:{tag}" if tag else f"oci:{directory}"
    return _result(directory, source, tag, built)


def write_oci_archive(path: Path, *, seed: str = "0", tag: str | None = "latest",
                      platforms: Sequence[Platform] | None = None,
                      docker_media_types: bool = False, layers: int = 1, layer_size: int = 256,
                      compress: bool = False) -> TestImage:
    """Write an OCI image layout packed in a tar file (gzipped if ``compress``).

    Arguments as :func:`write_oci_layout`; ``source`` is the tar's path.
    """
    built = _build(seed, platforms, layers, layer_size, docker_media_types)
    data = deterministic_tar(_layout_entries(built, tag))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(deterministic_gzip(data) if compress else data)
    return _result(path, str(path), tag, built)


def write_docker_archive(path: Path, *, seed: str = "0",
                         repo_tag: str = "signer-test/image:latest", layers: int = 1,
                         layer_size: int = 256, compress: bool = False) -> TestImage:
    """Write a ``docker save`` tar of a single linux/amd64 image and describe it.

    Layers are stored uncompressed as ``<id>/layer.tar`` (as ``docker save`` does);
    ``blobs`` holds the config and those uncompressed layer tars by digest. The
    result has no manifest (``digest`` is None). ``compress`` gzips the whole tar.
    """
    if layers < 1:
        raise ValueError("an image needs at least one layer")
    raw_layers = [_layer_tar(seed, "base" if i == 0 else f"docker-layer{i}", layer_size)
                  for i in range(layers)]
    diff_ids = [_digest(raw) for raw in raw_layers]
    config = _config(seed, DEFAULT_PLATFORMS[0], diff_ids)
    config_digest = _digest(config)
    config_name = f"{config_digest.removeprefix('sha256:')}.json"
    entries: list[tuple[str, bytes | None]] = []
    layer_paths = []
    parent = ""
    layer_id = ""
    for diff_id, raw in zip(diff_ids, raw_layers, strict=True):
        layer_id = hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()
        parent = layer_id
        entries += [
            (f"{layer_id}/", None),
            (f"{layer_id}/VERSION", b"1.0"),
            (f"{layer_id}/json", _json({"id": layer_id})),
            (f"{layer_id}/layer.tar", raw),
        ]
        layer_paths.append(f"{layer_id}/layer.tar")
    repository, _, tag = repo_tag.rpartition(":")
    entries += [
        (config_name, config),
        ("manifest.json", _json([{"Config": config_name, "RepoTags": [repo_tag],
                                  "Layers": layer_paths}])),
        ("repositories", _json({repository: {tag: layer_id}})),
    ]
    data = deterministic_tar(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(deterministic_gzip(data) if compress else data)
    blobs = {config_digest: config}
    blobs.update(zip(diff_ids, raw_layers, strict=True))
    return TestImage(path=path, source=str(path), tag=tag, digest=None, media_type=None,
                     manifest=None, manifests={}, blobs=blobs, config_digests=[config_digest],
                     layer_digests=list(dict.fromkeys(diff_ids)))
