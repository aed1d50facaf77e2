"""Image tars for :mod:`signer.registry.sources`: members indexed in place, ``docker save``.

A tar (gzip-compressed ones are first decompressed once into a temporary file, never
filling the disk) is indexed without extracting it: every member is validated (no
absolute paths, no ``..``, links must stay inside the archive, no devices or FIFOs) and
its regular files are read in place by offset. An OCI layout in a tar is then read by
:func:`signer.registry.sources.read_layout`; a ``docker save`` archive here.

A ``docker save`` archive has no registry manifest; we build a Docker schema-2
manifest for it. Its layers are pushed exactly as stored: an uncompressed
``layer.tar`` gets media type ``application/vnd.docker.image.rootfs.diff.tar`` (so its
digest is the layer's diff_id and the result is the same on every machine, with no
re-compression), a gzip-compressed one ``...diff.tar.gzip``. Docker, containerd,
skopeo and the distribution registry all accept both.

Imported only when a tar source is opened (layer L3, no network).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import posixpath
import re
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Any

from signer.digest import sha256_digest
from signer.errors import DigestMismatchError, InputError, SizeLimitError
from signer.registry.sources import (
    DISK_RESERVE_BYTES,
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    MAX_LINK_HOPS,
    MAX_TAR_MEMBERS,
    READ_CHUNK_BYTES,
    Blob,
    ImageManifest,
    ImageSource,
    parse_json_file,
    read_small_file,
)


class _MemberReader:
    """A read-only window onto one member's bytes inside an uncompressed tar file."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 -- closed by close()
        self._file.seek(offset)
        self._left = size

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self._left:
            n = self._left
        data = self._file.read(n)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> _MemberReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _TarStore:
    """Regular-file members of an (uncompressed) tar, read in place by offset."""

    def __init__(self, path: Path, members: dict[str, tuple[int, int]],
                 temp_dir: str | None) -> None:
        self.path = path
        self.members = members
        self._temp_dir = temp_dir

    def size(self, name: str) -> int | None:
        entry = self.members.get(name)
        return entry[1] if entry else None

    def open(self, name: str) -> _MemberReader:
        offset, size = self.members[name]
        return _MemberReader(self.path, offset, size)

    def close(self) -> None:
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None


def _safe_member_name(archive: str, name: str) -> str:
    """The normalised relative name of a tar member; reject escapes."""
    if name.startswith("/") or "\\" in name or "\0" in name:
        raise InputError(f"{archive}: unsafe member name {name!r}",
                         hint="the archive tries to write outside its directory; do not use it")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InputError(f"{archive}: unsafe member name {name!r} (contains '..')",
                         hint="the archive tries to write outside its directory; do not use it")
    return "/".join(parts)


def _resolve_link(archive: str, name: str, target: str, symbolic: bool) -> str:
    """Where a link member points, as a member name; reject targets outside the archive."""
    if target.startswith("/") or "\\" in target or "\0" in target:
        raise InputError(f"{archive}: link {name!r} points outside the archive ({target!r})",
                         hint="the archive is unsafe; do not use it")
    base = posixpath.dirname(name) if symbolic else ""
    joined = posixpath.normpath(posixpath.join(base, target))
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        raise InputError(f"{archive}: link {name!r} points outside the archive ({target!r})",
                         hint="the archive is unsafe; do not use it")
    return joined


def _uncompressed_tar(path: Path) -> tuple[Path, str | None]:
    """``path`` itself, or a temporary decompressed copy if it is gzip-compressed."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic != b"\x1f\x8b":
        return path, None
    temp_dir = tempfile.mkdtemp(prefix="signer-source-")
    target = Path(temp_dir) / "archive.tar"
    # A gzip bomb must not fill the disk: stop while some space is still free.
    limit = max(0, shutil.disk_usage(temp_dir).free - DISK_RESERVE_BYTES)
    written = 0
    try:
        with gzip.open(path, "rb") as src, open(target, "wb") as dst:
            while chunk := src.read(READ_CHUNK_BYTES):
                written += len(chunk)
                if written > limit:
                    raise SizeLimitError(
                        f"{path} decompresses to more than the {limit} bytes of free disk "
                        "space", hint="free some space in the temporary directory (TMPDIR), "
                        "or push an uncompressed tar")
                dst.write(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise InputError(f"{path}: corrupt gzip data ({type(exc).__name__})",
                         hint="the archive is truncated or damaged; re-create it") from None
    except BaseException:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return target, temp_dir


def open_tar_store(path: Path) -> _TarStore:
    """Index a tar's regular files (validating every member) without extracting it."""
    archive = str(path)
    tar_path, temp_dir = _uncompressed_tar(path)
    try:
        total = tar_path.stat().st_size
        files: dict[str, tuple[int, int]] = {}
        links: dict[str, tuple[str, bool]] = {}
        count = 0
        try:
            with tarfile.open(tar_path, mode="r:") as tar:
                for member in tar:
                    count += 1
                    if count > MAX_TAR_MEMBERS:
                        raise SizeLimitError(f"{archive} has more than {MAX_TAR_MEMBERS} members")
                    name = _safe_member_name(archive, member.name)
                    if member.isfile():
                        if member.offset_data + member.size > total:
                            raise InputError(f"{archive} is truncated (member {name!r} "
                                             "ends past the end of the file)",
                                             hint="re-create or re-download the archive")
                        if name in files or name in links:
                            raise InputError(f"{archive}: member {name!r} appears twice",
                                             hint="the archive is ambiguous; re-create it")
                        files[name] = (member.offset_data, member.size)
                    elif member.issym() or member.islnk():
                        links[name] = (_resolve_link(archive, name, member.linkname,
                                                     member.issym()), member.issym())
                    elif member.isdir():
                        continue
                    else:
                        raise InputError(f"{archive}: member {name!r} is a device, FIFO "
                                         "or other special file",
                                         hint="image archives hold only files and directories")
        except tarfile.TarError as exc:
            raise InputError(f"{archive} is not a readable tar archive ({exc})",
                             hint="the file is corrupt or truncated; re-create it") from None
        if count == 0:
            raise InputError(f"{archive} is an empty or unreadable tar archive",
                             hint="the file is corrupt or truncated; re-create it")
        for name, (target, _symbolic) in links.items():
            hops = 0
            while target in links:
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise InputError(f"{archive}: link {name!r} is part of a loop",
                                     hint="the archive is unsafe; do not use it")
                target = links[target][0]
            if target in files:
                files[name] = files[target]
        return _TarStore(tar_path, files, temp_dir)
    except BaseException:
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise


def read_docker_archive(store: _TarStore, where: str, selector: str | None) -> ImageSource:
    """The image (``selector`` = ``NAME:TAG``, or the only one) of a ``docker save`` tar."""
    document = parse_json_file(read_small_file(store, "manifest.json", "manifest.json", where),
                           "manifest.json", where)
    if not isinstance(document, list) or not document:
        raise InputError(f"{where}/manifest.json lists no images",
                         hint="the archive is corrupt; re-create it with docker save")
    entry = _choose_docker_entry(document, selector, where)
    config_name = entry.get("Config")
    layer_names = entry.get("Layers")
    if not isinstance(config_name, str) or not isinstance(layer_names, list) or not all(
            isinstance(n, str) for n in layer_names):
        raise InputError(f"{where}/manifest.json has no Config or Layers",
                         hint="the archive is corrupt; re-create it with docker save")
    config_member = _safe_member_name(where, config_name)
    config_data = read_small_file(store, config_member, "image config", where)
    config_digest = str(sha256_digest(config_data))
    stem = posixpath.basename(config_member).removesuffix(".json")
    if re.fullmatch(r"[0-9a-f]{64}", stem) and f"sha256:{stem}" != config_digest:
        raise DigestMismatchError(f"image config {config_member} in {where} does not match "
                                  f"its name (sha256 is {config_digest})",
                                  hint="the archive is corrupt; re-create it with docker save")
    config = parse_json_file(config_data, "image config", where)
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or len(diff_ids) != len(layer_names):
        raise InputError(f"image config in {where} lists {len(diff_ids or [])} layers but "
                         f"manifest.json lists {len(layer_names)}",
                         hint="the archive is corrupt; re-create it with docker save")
    locations = {config_digest: config_member}
    blobs = [Blob(config_digest, len(config_data), DOCKER_CONFIG)]
    for layer_name, diff_id in zip(layer_names, diff_ids, strict=True):
        member = _safe_member_name(where, layer_name)
        blob = _docker_layer(store, member, diff_id, where)
        locations[blob.digest] = member
        blobs.append(blob)
    manifest = _docker_manifest(blobs)
    root = ImageManifest(str(sha256_digest(manifest)), DOCKER_MANIFEST, manifest, tuple(blobs))
    tags = entry.get("RepoTags")
    tag = None
    if isinstance(tags, list) and tags and isinstance(tags[0], str):
        tag = tags[0].rpartition(":")[2] or None
    return ImageSource(where, root, tag, store, locations)


def _choose_docker_entry(document: list[Any], selector: str | None, where: str) -> Any:
    if selector is None:
        if len(document) > 1:
            raise InputError(f"{where} holds {len(document)} images; name one",
                             hint=f"write docker-archive:{where}:NAME:TAG")
        entry = document[0]
    else:
        found = [e for e in document if isinstance(e, dict)
                 and selector in (e.get("RepoTags") or [])]
        if not found:
            raise InputError(f"{where} has no image tagged {selector!r}",
                             hint="see RepoTags in the archive's manifest.json")
        entry = found[0]
    if not isinstance(entry, dict):
        raise InputError(f"{where}/manifest.json entry is not an object",
                         hint="the archive is corrupt; re-create it with docker save")
    return entry


def _docker_layer(store: _TarStore, member: str, diff_id: Any, where: str) -> Blob:
    """Hash one layer file; an uncompressed one must match its diff_id."""
    size = store.size(member)
    if size is None:
        raise InputError(f"{where} is missing layer {member}",
                         hint="the archive is incomplete; re-create it with docker save")
    hasher = hashlib.sha256()
    with store.open(member) as stream:
        head = stream.read(2)
        hasher.update(head)
        while chunk := stream.read(READ_CHUNK_BYTES):
            hasher.update(chunk)
    digest = f"sha256:{hasher.hexdigest()}"
    compressed = head == b"\x1f\x8b"
    if not compressed and digest != diff_id:
        raise DigestMismatchError(f"layer {member} in {where} does not match its diff_id "
                                  f"{diff_id} (sha256 is {digest})",
                                  hint="the archive is corrupt; re-create it with docker save")
    return Blob(digest, size, DOCKER_LAYER_GZIP if compressed else DOCKER_LAYER)


def _docker_manifest(blobs: list[Blob]) -> bytes:
    """The Docker schema-2 manifest for a config blob followed by layer blobs."""
    config, *layers = blobs
    document = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": config.media_type, "size": config.size, "digest": config.digest},
        "layers": [{"mediaType": b.media_type, "size": b.size, "digest": b.digest}
                   for b in layers],
    }
    return json.dumps(document, separators=(",", ":")).encode()
