"""Read an image to push from local files (layer L3, no network).

Accepted sources (see :func:`open_source`):

* ``oci:DIR[:TAG]``, or a bare directory holding ``oci-layout`` -- an OCI image layout;
* ``oci-archive:FILE[:TAG]``, or a bare tar file holding ``oci-layout`` -- a layout in a tar;
* ``docker-archive:FILE[:NAME:TAG]``, or a bare tar file holding ``manifest.json`` --
  a ``docker save`` archive.

Tars may be gzip-compressed (they are then decompressed once into a temporary file).
Everything is validated before anything is pushed: the layout files, every manifest
(size cap, JSON shape, digest), every descriptor's blob (present, right size), and tar
members (no absolute paths, no ``..``, links must stay inside the archive, no devices).
Blob bytes are checked against their digest when they are read for upload.

This module reads layouts (from a directory, or from a tar through the same store
interface); :mod:`signer.registry.archives` indexes tars and reads ``docker save``
archives, and is imported only when a tar is opened, so pushing a layout directory
loads none of the tar and gzip machinery.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Protocol

from signer.digest import Digest, check_digest, parse_digest
from signer.errors import DigestMismatchError, InputError, SizeLimitError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_INDEX = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_INDEX})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

#: largest manifest (or index.json / manifest.json) we read; the registry's own cap.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
#: most manifests in one index, and deepest nesting of indexes.
MAX_INDEX_ENTRIES = 1000
MAX_INDEX_DEPTH = 4
#: most members we accept in a tar, and longest chain of links we follow.
MAX_TAR_MEMBERS = 100_000
MAX_LINK_HOPS = 8
#: free disk space we leave when decompressing a gzipped tar to a temporary file.
DISK_RESERVE_BYTES = 256 * 1024 * 1024
#: read size for streaming blob and archive files.
READ_CHUNK_BYTES = 1024 * 1024
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class Blob(NamedTuple):
    """A config or layer blob of an image: what a manifest says about it."""

    digest: str
    size: int
    media_type: str


class ImageManifest(NamedTuple):
    """A manifest or index to push: its exact bytes and what it refers to.

    ``blobs`` are the config and layers of a manifest (empty for an index);
    ``children`` the manifests of an index (empty for a manifest).
    """

    digest: str
    media_type: str
    data: bytes
    blobs: tuple[Blob, ...] = ()
    children: tuple[ImageManifest, ...] = ()

    @property
    def is_index(self) -> bool:
        """True for an OCI index or Docker manifest list."""
        return bool(self.children) or self.media_type in INDEX_TYPES


class BlobReader(Protocol):
    """What reading a source file needs: a file object, or a window onto a tar member."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...

    def __enter__(self) -> BlobReader: ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None, /) -> object: ...


class _Store(Protocol):
    """Where a source's files live: a directory or a tar file."""

    def size(self, name: str) -> int | None: ...

    def open(self, name: str) -> BlobReader: ...

    def close(self) -> None: ...


class ImageSource:
    """A validated image ready to push. Use as a context manager (closes temp files)."""

    def __init__(self, description: str, root: ImageManifest, tag: str | None, store: _Store,
                 locations: dict[str, str] | None = None) -> None:
        self.description = description
        self.root = root
        self.tag = tag
        self._store = store
        self._locations: dict[str, str] = locations if locations is not None else {}

    def __repr__(self) -> str:
        return f"ImageSource({self.description!r}, root={self.root.digest}, tag={self.tag!r})"

    def manifests_in_push_order(self) -> list[ImageManifest]:
        """Every manifest once, children before the index that lists them; root last."""
        ordered: dict[str, ImageManifest] = {}

        def visit(node: ImageManifest) -> None:
            for child in node.children:
                visit(child)
            ordered.setdefault(node.digest, node)

        visit(self.root)
        return list(ordered.values())

    def blobs(self) -> list[Blob]:
        """Every distinct config and layer blob of every manifest."""
        unique: dict[str, Blob] = {}
        for manifest in self.manifests_in_push_order():
            for blob in manifest.blobs:
                unique.setdefault(blob.digest, blob)
        return list(unique.values())

    def open_blob(self, blob: Blob) -> BlobReader:
        """A raw reader of ``blob``'s bytes (not yet digest-checked; see :func:`read_blob`)."""
        return self._store.open(self._locations[blob.digest])

    def read_blob(self, blob: Blob) -> bytes:
        """``blob``'s bytes, checked against its size and digest."""
        with self.open_blob(blob) as stream:
            data = stream.read(blob.size + 1)
        if len(data) != blob.size:
            raise InputError(f"blob {blob.digest} in {self.description} is {len(data)} bytes, "
                             f"its descriptor says {blob.size}",
                             hint="the image files are corrupt; rebuild or re-save the image")
        _check_blob(blob.digest, data, self.description)
        return data

    def close(self) -> None:
        """Release open files and temporary copies."""
        self._store.close()

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _check_blob(digest: str, data: bytes, description: str) -> None:
    try:
        check_digest(digest, data, f"blob {digest} in {description}")
    except DigestMismatchError as err:
        raise DigestMismatchError(err.message, hint="the image files are corrupt or were "
                                  "edited; rebuild or re-save the image") from None


# --------------------------------------------------------------------------- stores


class _DirectoryStore:
    """Files of an OCI layout directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def size(self, name: str) -> int | None:
        path = self.root / name
        return path.stat().st_size if path.is_file() else None

    def open(self, name: str) -> BlobReader:
        return open(self.root / name, "rb")

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------ parsing


def read_small_file(store: _Store, name: str, what: str, where: str) -> bytes:
    """The bytes of the store's file ``name`` (``what`` in ``where``), capped like a manifest."""
    size = store.size(name)
    if size is None:
        raise InputError(f"{where} has no {name}", hint=f"{what} is missing; is this an image?")
    if size > MAX_MANIFEST_BYTES:
        raise SizeLimitError(f"{what} in {where} is {size} bytes, over the "
                             f"{MAX_MANIFEST_BYTES}-byte limit",
                             hint="registries reject manifests this large")
    with store.open(name) as stream:
        return stream.read(MAX_MANIFEST_BYTES + 1)


def parse_json_file(data: bytes, what: str, where: str) -> Any:
    """``data`` parsed as JSON; an :class:`InputError` naming ``what`` in ``where`` if not."""
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InputError(f"{what} in {where} is not valid JSON",
                         hint="the image files are corrupt; rebuild the image") from None


def _descriptor(value: Any, what: str, where: str) -> Blob:
    """A validated descriptor (media type may be empty when absent)."""
    if not isinstance(value, dict):
        raise InputError(f"{what} in {where} is not a descriptor object",
                         hint="the image files are corrupt; rebuild the image")
    digest, size, media_type = value.get("digest"), value.get("size"), value.get("mediaType", "")
    if not isinstance(digest, str):
        raise InputError(f"{what} in {where} has no digest",
                         hint="the image files are corrupt; rebuild the image")
    try:
        parse_digest(digest)
    except InputError as err:
        raise InputError(f"{what} in {where} has an invalid digest {digest!r}",
                         hint=err.hint) from None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InputError(f"{what} {digest} in {where} has no valid size",
                         hint="the image files are corrupt; rebuild the image")
    if not isinstance(media_type, str):
        raise InputError(f"{what} {digest} in {where} has an invalid mediaType",
                         hint="the image files are corrupt; rebuild the image")
    return Blob(digest, size, media_type)


def _blob_path(digest: str) -> str:
    parsed = parse_digest(digest)
    return f"blobs/{parsed.algorithm}/{parsed.hex}"


class _LayoutReader:
    """Walks an OCI layout (in a directory or tar) from one index.json entry down."""

    def __init__(self, store: _Store, where: str) -> None:
        self.store = store
        self.where = where
        self.locations: dict[str, str] = {}

    def blob_location(self, blob: Blob, what: str) -> str:
        name = _blob_path(blob.digest)
        size = self.store.size(name)
        if size is None:
            raise InputError(f"{self.where} is missing blob {blob.digest} ({what})",
                             hint="the layout is incomplete; re-export the image")
        if size != blob.size:
            raise InputError(f"blob {blob.digest} ({what}) in {self.where} is {size} bytes, "
                             f"its descriptor says {blob.size}",
                             hint="the image files are corrupt; re-export the image")
        return name

    def manifest(self, descriptor: Blob, depth: int = 0) -> ImageManifest:
        if depth > MAX_INDEX_DEPTH:
            raise InputError(f"indexes in {self.where} are nested more than "
                             f"{MAX_INDEX_DEPTH} deep", hint="flatten the image index")
        if descriptor.size > MAX_MANIFEST_BYTES:
            raise SizeLimitError(f"manifest {descriptor.digest} in {self.where} is "
                                 f"{descriptor.size} bytes, over the {MAX_MANIFEST_BYTES}-byte "
                                 "limit", hint="registries reject manifests this large")
        name = self.blob_location(descriptor, "manifest")
        data = read_small_file(self.store, name, f"manifest {descriptor.digest}", self.where)
        _check_blob(descriptor.digest, data, self.where)
        document = parse_json_file(data, f"manifest {descriptor.digest}", self.where)
        if not isinstance(document, dict):
            raise InputError(f"manifest {descriptor.digest} in {self.where} is not a JSON "
                             "object", hint="the image files are corrupt; rebuild the image")
        media_type = _manifest_media_type(document, descriptor, self.where)
        if media_type in INDEX_TYPES or "manifests" in document:
            entries = document.get("manifests")
            if not isinstance(entries, list):
                raise InputError(f"index {descriptor.digest} in {self.where} has no manifests "
                                 "list", hint="the image files are corrupt; rebuild the image")
            if len(entries) > MAX_INDEX_ENTRIES:
                raise SizeLimitError(f"index {descriptor.digest} in {self.where} lists more "
                                     f"than {MAX_INDEX_ENTRIES} manifests")
            children = tuple(
                self.manifest(_descriptor(entry, "index entry", self.where), depth + 1)
                for entry in entries
            )
            return ImageManifest(descriptor.digest, media_type, data, (), children)
        blobs: list[Blob] = []
        config = document.get("config")
        if config is not None:
            blobs.append(_descriptor(config, "config", self.where))
        layers = document.get("layers", [])
        if not isinstance(layers, list):
            raise InputError(f"manifest {descriptor.digest} in {self.where} has an invalid "
                             "layers list", hint="the image files are corrupt; rebuild the image")
        for layer in layers:
            blob = _descriptor(layer, "layer", self.where)
            if isinstance(layer.get("urls"), list) and self.store.size(
                    _blob_path(blob.digest)) is None:
                continue  # a foreign layer fetched from its URLs, not pushed
            blobs.append(blob)
        for blob in blobs:
            self.locations[blob.digest] = self.blob_location(
                blob, f"of manifest {descriptor.digest}")
        return ImageManifest(descriptor.digest, media_type, data, tuple(blobs), ())


def _manifest_media_type(document: dict[str, Any], descriptor: Blob, where: str) -> str:
    declared = document.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise InputError(f"manifest {descriptor.digest} in {where} has an invalid mediaType",
                         hint="the image files are corrupt; rebuild the image")
    if declared and descriptor.media_type and declared != descriptor.media_type:
        raise InputError(f"manifest {descriptor.digest} in {where} says mediaType {declared!r} "
                         f"but its descriptor says {descriptor.media_type!r}",
                         hint="the image files are corrupt; rebuild the image")
    media_type = declared or descriptor.media_type
    if not media_type:
        media_type = OCI_INDEX if "manifests" in document else OCI_MANIFEST
    if document.get("schemaVersion") != 2:
        raise InputError(f"manifest {descriptor.digest} in {where} is not schemaVersion 2",
                         hint="only OCI and Docker schema-2 images can be pushed")
    return media_type


def read_layout(store: _Store, where: str, tag: str | None) -> ImageSource:
    """The image ``tag`` (or the only one) of the OCI layout in ``store``, validated."""
    if store.size("oci-layout") is None:
        raise InputError(f"{where} is not an OCI image layout (no oci-layout file)",
                         hint="export the image with e.g. skopeo copy ... oci:DIR:TAG")
    layout = parse_json_file(read_small_file(store, "oci-layout", "oci-layout", where),
                         "oci-layout", where)
    if not isinstance(layout, dict) or not isinstance(layout.get("imageLayoutVersion"), str):
        raise InputError(f"{where}/oci-layout has no imageLayoutVersion",
                         hint="the layout is corrupt; re-export the image")
    index = parse_json_file(read_small_file(store, "index.json", "index.json", where),
                        "index.json", where)
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise InputError(f"{where}/index.json has no manifests list",
                         hint="the layout is corrupt; re-export the image")
    entries = index["manifests"]
    if len(entries) > MAX_INDEX_ENTRIES:
        raise SizeLimitError(f"{where}/index.json lists more than {MAX_INDEX_ENTRIES} images")
    chosen = _choose_entry(entries, tag, where)
    reader = _LayoutReader(store, where)
    root = reader.manifest(_descriptor(chosen, "index.json entry", where))
    return ImageSource(where, root, tag, store, reader.locations)


def _entry_name(entry: Any) -> str | None:
    annotations = entry.get("annotations") if isinstance(entry, dict) else None
    name = annotations.get(REF_NAME_ANNOTATION) if isinstance(annotations, dict) else None
    return name if isinstance(name, str) else None


def _choose_entry(entries: list[Any], tag: str | None, where: str) -> Any:
    if tag is None:
        if len(entries) == 1:
            return entries[0]
        if not entries:
            raise InputError(f"{where}/index.json lists no images",
                             hint="the layout is empty; export an image into it")
        names = sorted({n for n in map(_entry_name, entries) if n})
        raise InputError(f"{where} holds {len(entries)} images; name one",
                         hint=f"write oci:{where}:NAME with NAME one of {', '.join(names)}"
                         if names else "the images have no names; export one image per layout")
    matches = [e for e in entries if _entry_name(e) == tag]
    if not matches:
        names = sorted({n for n in map(_entry_name, entries) if n})
        raise InputError(f"{where} has no image named {tag!r}",
                         hint=f"names in the layout: {', '.join(names)}" if names
                         else "the layout's images have no names; leave out :TAG")
    if len(matches) > 1:
        raise InputError(f"{where} has {len(matches)} images named {tag!r}",
                         hint="the layout is ambiguous; re-export the image")
    return matches[0]


# ----------------------------------------------------------------------- entry point


def _split_tag(rest: str) -> tuple[str, str | None]:
    """Split ``PATH[:TAG]``: an existing path wins, else the part after the last ':'."""
    if os.path.exists(rest) or ":" not in rest:
        return rest, None
    path, _, tag = rest.rpartition(":")
    if not _TAG_RE.match(tag):
        raise InputError(f"invalid image name {tag!r} in source {rest!r}",
                         hint="write oci:DIR:NAME with NAME like a tag (letters, digits, ._-)")
    return path, tag


def _split_docker_selector(rest: str) -> tuple[str, str | None]:
    if os.path.exists(rest) or ":" not in rest:
        return rest, None
    path, _, selector = rest.partition(":")
    return path, selector


def open_source(text: str) -> ImageSource:
    """Open and validate the image source ``text``; raise :class:`InputError` if unusable."""
    if not text:
        raise InputError("empty image source", hint="give an OCI layout directory or an image tar")
    kind = None
    for prefix in ("oci:", "oci-archive:", "docker-archive:"):
        if text.startswith(prefix):
            kind, text = prefix[:-1], text[len(prefix):]
            break
    if kind == "docker-archive":
        path_text, selector = _split_docker_selector(text)
        tag = None
    elif kind is not None:
        path_text, tag = _split_tag(text)
        selector = None
    else:
        path_text, tag, selector = text, None, None
    path = Path(path_text)
    if not path.exists():
        raise InputError(f"image source {path_text!r} does not exist",
                         hint="give an OCI layout directory (oci:DIR[:TAG]) or a "
                         "docker-save / OCI tar file")
    if path.is_dir():
        if kind not in (None, "oci"):
            raise InputError(f"{path_text} is a directory, not a tar archive",
                             hint=f"write oci:{path_text} for a layout directory")
        if kind is None and not (path / "oci-layout").exists():
            raise InputError(f"{path_text} is not an OCI image layout (no oci-layout file)",
                             hint="export the image with e.g. skopeo copy ... oci:DIR:TAG")
        return read_layout(_DirectoryStore(path), path_text, tag)
    if kind == "oci":
        raise InputError(f"{path_text} is a file, not an OCI layout directory",
                         hint=f"write oci-archive:{path_text} for a layout in a tar")
    from signer.registry.archives import open_tar_store, read_docker_archive

    try:
        store = open_tar_store(path)
    except OSError as exc:
        raise InputError(f"cannot read {path_text}: {exc.strerror or type(exc).__name__}",
                         hint="check the path and its permissions") from None
    try:
        has_layout = store.size("oci-layout") is not None and store.size("index.json") is not None
        if kind == "oci-archive" or (kind is None and has_layout):
            return read_layout(store, path_text, tag)
        if store.size("manifest.json") is not None:
            return read_docker_archive(store, path_text, selector)
        raise InputError(f"{path_text} is neither a docker-save tar nor an OCI layout tar",
                         hint="it has no manifest.json and no oci-layout/index.json")
    except BaseException:
        store.close()
        raise


def iter_blob_chunks(source: ImageSource, blob: Blob, chunk_size: int = READ_CHUNK_BYTES
                     ) -> Iterator[bytes]:
    """Yield ``blob``'s bytes in chunks, raising :class:`DigestMismatchError` at the end
    if they do not hash to its digest (so a corrupt blob fails its upload)."""
    parsed: Digest = parse_digest(blob.digest)
    hasher = hashlib.new(parsed.algorithm)
    total = 0
    with source.open_blob(blob) as stream:
        while chunk := stream.read(chunk_size):
            total += len(chunk)
            hasher.update(chunk)
            yield chunk
    if total != blob.size or hasher.hexdigest() != parsed.hex:
        raise DigestMismatchError(f"blob {blob.digest} in {source.description} does not "
                                  "match its digest or size",
                                  hint="the image files are corrupt; rebuild the image")
