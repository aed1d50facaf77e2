"""Store a bundle as cosign v3 does: an OCI 1.1 referrer of the image (layer L4).

docs/cosign-format.md §6.3: upload the ``{}`` config blob and the bundle blob, PUT the
referrer manifest by digest, then — unless the registry serves the referrers API —
add it to the ``sha256-<hex>`` tag index (the referrers tag schema).

That index is read-modify-write on registries without conditional PUT (distribution
2.8, GHCR), so concurrent signers of one image race for it. The merge loses nothing
the same way the ``.sig`` append does (:mod:`signer.signing.publish`):

1. read the index (404 = none); add our entry, keeping every
   existing entry and field as read (nothing dropped), sorted by digest;
2. PUT it, then read it back after a settle delay of a few PUT round trips: if our
   entry or any entry we merged is missing, a concurrent signer overwrote us with a
   stale merge, so go back to 1. No HEAD of the tag before the PUT and no read-back
   right after it: the read of step 1 is as recent as such a HEAD would be (the merge
   between them takes microseconds), and the read after the delay is the one that
   catches a stale overwrite.

A signer returns only after it saw its own entry, and all it merged, survive the
settle delay; whoever loses an entry repairs it. An entry already listed is not
written again. The referrer manifest itself is content-addressed and never lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from signer.digest import parse_digest, sha256_digest
from signer.errors import Error, ImageNotFoundError, InputError, SigningError
from signer.formats.bundle import BUNDLE_MEDIA_TYPE_V03
from signer.formats.referrer import (
    EMPTY_CONFIG,
    EMPTY_CONFIG_DIGEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Subject,
    index_digests,
    index_entry,
    merge_referrers_index,
    referrer_manifest,
)
from signer.reference import Reference
from signer.signing.publish import MAX_SETTLE, is_transient_registry_error, pause_before_retry
from signer.signing.store import RegistryStore


class ConfigBlobs:
    """The ``{}`` config blob every referrer shares, uploaded once per repository by
    the signers of one run (thread-safe: the first one uploads, the others wait)."""

    def __init__(self) -> None:
        self._stored: set[tuple[str, str]] = set()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def ensure(self, store: RegistryStore, repository: Reference) -> None:
        """Upload the blob to ``repository`` unless this run did already."""
        key = (repository.api_host, repository.repository)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._stored:
                store.upload_blob(repository, EMPTY_CONFIG, EMPTY_CONFIG_DIGEST)
                self._stored.add(key)


@dataclass(frozen=True)
class ReferrerResult:
    """Where the bundle went."""

    manifest_ref: str  # repository@sha256:… of the referrer manifest
    manifest_digest: str
    bundle_digest: str
    index_tag: str | None  # the fallback tag written, None with the referrers API
    attempts: int


def publish_bundle_referrer(store: RegistryStore, repository: Reference, subject: Subject,
                            bundle: bytes, *, predicate_type: str, created: str,
                            attempts: int = 8, settle_seconds: float = 0.05,
                            config_blobs: ConfigBlobs | None = None) -> ReferrerResult:
    """Write ``bundle`` as a referrer of ``subject`` into ``repository``.

    ``config_blobs``, shared by the images of one run, uploads the ``{}`` config blob
    once per repository rather than once per referrer."""
    bundle_digest = str(sha256_digest(bundle))
    manifest = referrer_manifest(bundle_digest=bundle_digest, bundle_size=len(bundle),
                                 subject=subject, predicate_type=predicate_type,
                                 created=created)
    manifest_digest = str(sha256_digest(manifest))
    manifest_ref = repository.with_digest(manifest_digest)

    shared = config_blobs or ConfigBlobs()

    def store_referrer() -> bool:
        shared.ensure(store, repository)
        store.upload_blob(repository, bundle, bundle_digest)
        store.put_manifest(manifest_ref, manifest, OCI_MANIFEST)
        return store.serves_referrers_api(repository, subject.digest)

    where = f"{repository.repository_name}@{manifest_digest}"
    if _again_if_transient(store_referrer, attempts):
        return ReferrerResult(where, manifest_digest, bundle_digest, None, 1)
    tag = parse_digest(subject.digest).tag_form
    entry = index_entry(manifest_digest, len(manifest), BUNDLE_MEDIA_TYPE_V03)
    used = _merge_into_index(store, repository.with_tag(tag), entry, attempts, settle_seconds)
    return ReferrerResult(where, manifest_digest, bundle_digest, tag, used)


def _again_if_transient(action: Callable[[], bool], attempts: int) -> bool:
    """Run ``action`` (idempotent: content-addressed writes) again after a transient
    registry failure, up to ``attempts`` times."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Error as error:
            if attempt == attempts or not is_transient_registry_error(error):
                raise
        pause_before_retry(attempt)
    raise AssertionError("unreachable")


def _read_index(store: RegistryStore, ref: Reference) -> bytes | None:
    try:
        found = store.get_manifest(ref)
    except ImageNotFoundError:
        return None
    if found.media_type != OCI_INDEX:
        raise SigningError(f"the referrers tag {ref} holds a {found.media_type or 'non-index'}, "
                           "not an OCI image index",
                           hint="refusing to overwrite it; inspect or delete the tag")
    return found.data


def _merge_into_index(store: RegistryStore, tag_ref: Reference, entry: dict[str, object],
                      attempts: int, settle_seconds: float) -> int:
    wanted = str(entry["digest"])
    last_error: Error | None = None
    for attempt in range(1, attempts + 1):
        try:
            if _merge_once(store, tag_ref, entry, wanted, settle_seconds):
                return attempt
        except InputError as error:
            raise SigningError(f"{tag_ref}: {error.message}", hint=error.hint) from None
        except Error as error:
            if not is_transient_registry_error(error):
                raise
            last_error = error
        pause_before_retry(attempt)
    if last_error is not None:
        raise last_error
    raise SigningError(f"could not list the signature in {tag_ref} after {attempts} attempts: "
                       "other signers kept overwriting it",
                       hint="sign again; the referrer manifest itself is stored")


def _merge_once(store: RegistryStore, tag_ref: Reference, entry: dict[str, object],
                wanted: str, settle_seconds: float) -> bool:
    """One read-merge-write round; False when it must be repeated."""
    existing = _read_index(store, tag_ref)
    merged = merge_referrers_index(existing, entry)
    if merged is None:  # listed already (by an earlier round or an earlier run)
        return _survived(store, tag_ref, [wanted], settle_seconds)
    expected = index_digests(merged)
    put_started = time.perf_counter()
    store.put_manifest(tag_ref, merged, OCI_INDEX)
    settle = min(max(settle_seconds, 3 * (time.perf_counter() - put_started)), MAX_SETTLE)
    return _survived(store, tag_ref, expected, settle)


def _survived(store: RegistryStore, tag_ref: Reference, digests: list[str],
              settle_seconds: float) -> bool:
    """Every digest is listed after ``settle_seconds``."""
    time.sleep(settle_seconds)
    data = _read_index(store, tag_ref)
    return data is not None and set(digests) <= set(index_digests(data))
