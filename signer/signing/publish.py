"""Append a signature layer to a ``.sig`` image without losing anyone's (layer L4).

cosign's write is read-modify-write with no lock (docs/cosign-format.md §1.4). We do the
same, keeping the existing manifest and config media types and every existing
layer descriptor verbatim, and narrow the race:

1. the new payload blob is uploaded first (it depends on nothing);
2. read the current signature manifest (404 = none) and note its digest;
3. skip if an identical layer is already there (cosign's dedupe);
4. build manifest + config, upload the config blob;
5. HEAD the tag again: if it moved since step 2, go back to 2;
6. PUT the manifest, then read it back (twice, the second time after a settle
   delay of a few PUT round trips): if our layer or any layer we merged is
   missing, another signer overwrote us with a stale merge; go back to 2.

Without compare-and-swap in the registry API this is not a lock, but a lost
write is detected and repaired by whichever signer loses.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from signer.digest import sha256_digest
from signer.errors import (
    AuthenticationError,
    DigestMismatchError,
    Error,
    ImageNotFoundError,
    InputError,
    NetworkError,
    RegistryError,
    SigningError,
    SizeLimitError,
)
from signer.formats.legacy import (
    ANNOTATION_SIGNATURE,
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    MAX_SIGNATURE_LAYERS,
    OCI_CONFIG,
    OCI_MANIFEST,
    Descriptor,
    SignatureLayer,
    SignatureManifest,
    build_manifest_from_descriptors,
    parse_signature_manifest,
)
from signer.reference import Reference
from signer.signing.store import RegistryStore

#: Longest wait before the second read-back of a written ``.sig`` manifest.
MAX_SETTLE = 2.0
#: Decides whether an existing layer carrying our payload is our signature already.
SignatureMatcher = Callable[[bytes, bytes], bool]


@dataclass(frozen=True)
class PublishResult:
    """What happened to the ``.sig`` image."""

    signature_ref: Reference
    manifest_digest: str
    added: bool  # False when an identical signature was already there
    layer_count: int
    attempts: int


def _read_existing(store: RegistryStore, ref: Reference
                   ) -> tuple[SignatureManifest | None, str | None]:
    try:
        manifest = store.get_manifest(ref)
    except ImageNotFoundError:
        return None, None
    try:
        parsed = parse_signature_manifest(manifest.data)
    except InputError as error:
        raise SigningError(f"the existing signature image {ref} is malformed: {error.message}",
                           hint="refusing to overwrite it; inspect or delete it first") from None
    if parsed.media_type != manifest.media_type and manifest.media_type in (
            OCI_MANIFEST, DOCKER_MANIFEST):
        parsed = SignatureManifest(manifest.media_type, parsed.config, parsed.layers)
    return parsed, manifest.digest


def is_duplicate(new: SignatureLayer, existing: Descriptor,
                 same_signer: SignatureMatcher | None) -> bool:
    """cosign's dedupe: same digest and media type, every new annotation but the
    signature present with the same value, and the existing signature verifying
    with our key (``same_signer(payload, existing_signature)``)."""
    if existing.digest != new.digest or existing.media_type != new.media_type:
        return False
    for key, value in new.annotations.items():
        if key != ANNOTATION_SIGNATURE and existing.annotations.get(key) != value:
            return False
    existing_signature = existing.annotations.get(ANNOTATION_SIGNATURE, "")
    if existing_signature == new.annotations.get(ANNOTATION_SIGNATURE):
        return True
    if same_signer is None:
        return False
    import base64
    import binascii

    try:
        raw = base64.b64decode(existing_signature, validate=True)
    except (ValueError, binascii.Error):
        return False
    return same_signer(new.payload, raw)


def _contains(layers: Sequence[Descriptor], wanted: Descriptor) -> bool:
    return any(layer.digest == wanted.digest and dict(layer.annotations) == dict(wanted.annotations)
               for layer in layers)


def publish_signature(store: RegistryStore, signature_ref: Reference, layer: SignatureLayer, *,
                      same_signer: SignatureMatcher | None = None, attempts: int = 8,
                      settle_seconds: float = 0.05) -> PublishResult:
    """Append ``layer`` to the signature image at ``signature_ref`` (a tag reference).

    ``settle_seconds`` is the least wait before the second read-back; it grows to
    three times the manifest PUT's duration (at most :data:`MAX_SETTLE`).
    """
    new_descriptor = layer.descriptor()
    last_error: Error | None = None
    for attempt in range(1, attempts + 1):
        try:
            result = _merge_and_write(store, signature_ref, layer, new_descriptor, same_signer,
                                      settle_seconds, attempt)
        except Error as error:
            if not is_transient_registry_error(error):
                raise
            last_error = error  # a concurrent writer left the repository mid-update
            result = None
        if result is not None:
            return result
        pause_before_retry(attempt)
    if last_error is not None:
        raise last_error
    raise SigningError(f"could not publish the signature to {signature_ref} after {attempts} "
                       "attempts: other signers kept overwriting it",
                       hint="run the signing again; existing signatures were not removed")


#: Registry error codes seen while another client writes the same blobs or tag
#: (distribution's filesystem storage is not atomic): retried by re-merging.
_TRANSIENT_CODES = ("DIGEST_INVALID", "BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN")


def is_transient_registry_error(error: Error) -> bool:
    """True for failures a concurrent writer causes (worth a fresh read-merge-write)."""
    if isinstance(error, AuthenticationError):
        return False
    if isinstance(error, DigestMismatchError):
        return True
    if isinstance(error, RegistryError):
        return any(code in error.message for code in _TRANSIENT_CODES) or \
            re.search(r"HTTP (429|5\d\d)", error.message) is not None
    return isinstance(error, NetworkError)  # connection refused, reset, cut or timed out


def _merge_and_write(store: RegistryStore, signature_ref: Reference, layer: SignatureLayer,
                     new_descriptor: Descriptor, same_signer: SignatureMatcher | None,
                     settle_seconds: float, attempt: int) -> PublishResult | None:
    """One read-merge-write round; None when it must be repeated."""
    # every round: a concurrent upload of the same blob may have disturbed ours, or
    # the registry failed transiently in the previous round
    store.upload_blob(signature_ref, layer.payload, layer.digest)
    existing, existing_digest = _read_existing(store, signature_ref)
    old_layers = list(existing.layers) if existing else []
    for old in old_layers:
        if is_duplicate(layer, old, same_signer):
            assert existing_digest is not None
            return PublishResult(signature_ref, existing_digest, False, len(old_layers),
                                 attempt)
    if len(old_layers) + 1 > MAX_SIGNATURE_LAYERS:
        raise SizeLimitError(f"{signature_ref} already holds {len(old_layers)} signatures, "
                             f"the most cosign reads is {MAX_SIGNATURE_LAYERS}")
    manifest_type = existing.media_type if existing else OCI_MANIFEST
    config_type = existing.config.media_type if existing else (
        DOCKER_CONFIG if manifest_type == DOCKER_MANIFEST else OCI_CONFIG)
    layers = [*old_layers, new_descriptor]
    manifest, config = build_manifest_from_descriptors(layers, manifest_type, config_type)
    store.upload_blob(signature_ref, config, str(sha256_digest(config)))
    current = store.head_manifest(signature_ref)
    if (current.digest if current else None) != existing_digest:
        return None  # someone wrote in between: merge again
    put_started = time.perf_counter()
    digest = store.put_manifest(signature_ref, manifest, manifest_type)
    # A stale writer's PUT can land at most about one request after its HEAD saw
    # the old tag, so wait a few of our own PUT round trips before the last check.
    settle = min(max(settle_seconds, 3 * (time.perf_counter() - put_started)), MAX_SETTLE)
    if _survived(store, signature_ref, layers, settle):
        return PublishResult(signature_ref, digest, True, len(layers), attempt)
    return None


def _survived(store: RegistryStore, ref: Reference, layers: Sequence[Descriptor],
              settle_seconds: float) -> bool:
    """Read back: every layer we wrote is still there, now and after ``settle_seconds``."""
    for delay in (0.0, settle_seconds):
        if delay:
            time.sleep(delay)
        try:
            current, _ = _read_existing(store, ref)
        except Error:
            return False
        if current is None or not all(_contains(current.layers, layer) for layer in layers):
            return False
    return True


def pause_before_retry(attempt: int) -> None:
    """A short jittered wait that grows with ``attempt`` (before a fresh read-merge-write)."""
    time.sleep(random.uniform(0.05, 0.15) * attempt)  # noqa: S311 (jitter, not crypto)
