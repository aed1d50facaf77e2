"""Push a local image (:mod:`signer.registry.sources`) to one or more registries (layer L3).

Order per target, so that nothing is ever visible half-pushed under the target tag:

1. every config and layer blob -- skipped when the registry already has it, mounted
   from a repository of the same registry that this push already filled (the second
   and later targets), uploaded otherwise; independent blobs go concurrently over one
   shared (thread-safe) client;
2. the child manifests of an index, by digest, children before parents;
3. the top manifest or index last: by the target's tag, or by digest when the target
   names none. Only then does the tag point at the new content.

The pushed bytes are the source's exact manifest bytes, so the digest we report is
the sha256 of those bytes -- what ``skopeo manifest-digest`` computes for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import NamedTuple, Protocol

from signer.errors import InputError, RegistryError
from signer.reference import Reference
from signer.registry.sources import Blob, ImageSource

#: concurrent blob uploads per target.
DEFAULT_WORKERS = 4
#: blobs at least this big are read into memory and uploaded one at a time, so that
#: a push holds at most one large blob (plus a few small ones) in memory.
LARGE_BLOB_BYTES = 64 * 1024 * 1024


class PushClient(Protocol):
    """The registry operations a push needs (:class:`signer.registry.client.RegistryClient`)."""

    def blob_exists(self, ref: Reference, digest: str) -> bool: ...

    def upload_blob(self, ref: Reference, data: bytes, digest: str | None = None, *,
                    digest_checked: bool = False) -> str: ...

    def mount_blob(self, ref: Reference, digest: str, from_repository: str) -> bool: ...

    def put_manifest(self, ref: Reference, data: bytes, media_type: str) -> str: ...


class PushResult(NamedTuple):
    """What one target received."""

    target: Reference
    digest: str
    uploaded: int = 0
    existing: int = 0
    mounted: int = 0

    @property
    def pinned(self) -> str:
        """``REGISTRY/REPOSITORY@sha256:…`` of the pushed image."""
        return f"{self.target.registry}/{self.target.repository}@{self.digest}"

    def summary(self) -> str:
        """One line on what was transferred."""
        return (f"{self.pinned}: {self.uploaded} blobs uploaded, {self.existing} already "
                f"present, {self.mounted} mounted")


def check_targets(source: ImageSource, targets: Sequence[Reference]) -> None:
    """Refuse targets that cannot receive ``source`` before anything is pushed."""
    if not targets:
        raise InputError("no target image given", hint="name at least one REGISTRY/REPO[:TAG]")
    for target in targets:
        if target.digest and target.digest != source.root.digest:
            raise InputError(
                f"target {target} names digest {target.digest} but the source image is "
                f"{source.root.digest}", hint="drop the @digest from the target or push "
                "the image it names")


def push_image(source: ImageSource, targets: Sequence[Reference], client: PushClient, *,
               workers: int = DEFAULT_WORKERS,
               on_pushed: Callable[[PushResult], None] | None = None) -> list[PushResult]:
    """Push ``source`` to every target in turn; return one :class:`PushResult` each.

    ``on_pushed`` is called as each target completes. Raises a
    :class:`signer.errors.Error` on the first failure; a target's tag is only written
    after all of its content is in the registry.
    """
    check_targets(source, targets)
    results: list[PushResult] = []
    filled: dict[str, list[str]] = {}  # api host -> repositories this push completed
    for target in targets:
        mount_from = [r for r in filled.get(target.api_host, []) if r != target.repository]
        result = _push_one(source, target, client, mount_from, workers)
        results.append(result)
        filled.setdefault(target.api_host, []).append(target.repository)
        if on_pushed:
            on_pushed(result)
    return results


def _push_one(source: ImageSource, target: Reference, client: PushClient,
              mount_from: list[str], workers: int) -> PushResult:
    counts = {"uploaded": 0, "existing": 0, "mounted": 0}
    large_blob = threading.Lock()

    def upload(blob: Blob) -> str:
        data = source.read_blob(blob)  # size and digest checked here, once
        return client.upload_blob(target, data, blob.digest, digest_checked=True)

    def ensure(blob: Blob) -> str:
        for repository in mount_from:
            if client.mount_blob(target, blob.digest, repository):
                return "mounted"
        if client.blob_exists(target, blob.digest):
            return "existing"
        if blob.size >= LARGE_BLOB_BYTES:
            with large_blob:
                stored = upload(blob)
        else:
            stored = upload(blob)
        if stored != blob.digest:
            raise RegistryError(f"{target.api_host} stored blob {blob.digest} as {stored}",
                                hint="the registry altered the content; do not use it")
        return "uploaded"

    blobs = source.blobs()
    if blobs:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(blobs))),
                                thread_name_prefix="signer-push") as pool:
            futures: list[Future[str]] = [pool.submit(ensure, blob) for blob in blobs]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
            for future in futures:
                error = future.exception() if future in done else None
                if error is not None:
                    raise error
            for future in futures:
                counts[future.result()] += 1

    for manifest in source.manifests_in_push_order():
        if manifest is source.root:
            continue
        _put(client, target.with_digest(manifest.digest), manifest.data, manifest.media_type,
             manifest.digest)
    root = source.root
    final = target.with_tag(target.tag) if target.tag else target.with_digest(root.digest)
    _put(client, final, root.data, root.media_type, root.digest)
    return PushResult(target, root.digest, **counts)


def _put(client: PushClient, ref: Reference, data: bytes, media_type: str, digest: str) -> None:
    stored = client.put_manifest(ref, data, media_type)
    if stored != digest:
        raise RegistryError(f"{ref.api_host} stored manifest {digest} as {stored}",
                            hint="the registry altered the manifest; do not use it")
