"""The OCI 1.1 referrer cosign v3 writes for a bundle, and the referrers tag index (L2).

docs/cosign-format.md §6.3, byte for byte as Go's ``encoding/json`` writes
go-containerregistry's structs (field order; annotation maps sorted; HTML-safe
escaping):

- :func:`referrer_manifest`: ``schemaVersion``, ``mediaType``, ``config`` (the empty
  ``{}`` blob, with ``artifactType``), one bundle ``layers`` entry, ``annotations``
  (``dev.sigstore.bundle.content``, ``dev.sigstore.bundle.predicateType``,
  ``org.opencontainers.image.created``), ``subject``, then ``artifactType`` last;
- :func:`merge_referrers_index`: the ``sha256-<hex>`` fallback index with one more
  entry ``{mediaType, size, digest, artifactType}``, entries sorted by digest, as
  go-containerregistry does — except that nothing of the existing index is dropped:
  every entry and every field (its annotations, platform, unknown keys) is kept as
  it was read.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from signer.errors import InputError
from signer.formats.bundle import BUNDLE_MEDIA_TYPE_V03
from signer.formats.gojson import go_json

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
#: the two bytes ``{}`` cosign uploads as the config blob
EMPTY_CONFIG = b"{}"
EMPTY_CONFIG_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
ANNOTATION_CONTENT = "dev.sigstore.bundle.content"
ANNOTATION_PREDICATE_TYPE = "dev.sigstore.bundle.predicateType"
ANNOTATION_CREATED = "org.opencontainers.image.created"
#: most entries a fallback index may hold before we refuse to add more
MAX_INDEX_ENTRIES = 10_000


class Subject(NamedTuple):
    """The descriptor of the signed manifest (from a HEAD request)."""

    media_type: str
    size: int
    digest: str


def created_annotation(when: datetime.datetime) -> str:
    """``org.opencontainers.image.created``: UTC RFC 3339 to the second (Go's RFC3339)."""
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def referrer_manifest(*, bundle_digest: str, bundle_size: int, subject: Subject,
                      predicate_type: str, created: str,
                      content: str = "dsse-envelope") -> bytes:
    """The referrer manifest bytes for one bundle blob."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_EMPTY, "size": len(EMPTY_CONFIG),
                   "digest": EMPTY_CONFIG_DIGEST, "artifactType": BUNDLE_MEDIA_TYPE_V03},
        "layers": [{"mediaType": BUNDLE_MEDIA_TYPE_V03, "size": bundle_size,
                    "digest": bundle_digest}],
        "annotations": {ANNOTATION_CONTENT: content,
                        ANNOTATION_PREDICATE_TYPE: predicate_type,
                        ANNOTATION_CREATED: created},
        "subject": {"mediaType": subject.media_type, "size": subject.size,
                    "digest": subject.digest},
        "artifactType": BUNDLE_MEDIA_TYPE_V03,
    }
    return go_json(manifest, sort_keys=False)


def index_entry(manifest_digest: str, manifest_size: int,
                artifact_type: str = BUNDLE_MEDIA_TYPE_V03) -> dict[str, Any]:
    """The fallback-index descriptor of a referrer manifest."""
    return {"mediaType": OCI_MANIFEST, "size": manifest_size, "digest": manifest_digest,
            "artifactType": artifact_type}


def index_digests(index: bytes | None) -> list[str]:
    """The digests an existing fallback index lists (``[]`` for none)."""
    return [str(e["digest"]) for e in _entries(_parse_index(index))]


def _parse_index(index: bytes | None) -> dict[str, Any]:
    if index is None:
        return {}
    try:
        document = json.loads(index)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InputError("the referrers tag index is not JSON",
                         hint="refusing to overwrite it; inspect or delete the tag") from None
    if not isinstance(document, dict):
        raise InputError("the referrers tag index is not a JSON object",
                         hint="refusing to overwrite it; inspect or delete the tag")
    return document


def _entries(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    entries = document.get("manifests", [])
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("digest"), str) for e in entries):
        raise InputError("the referrers tag index has malformed manifest entries",
                         hint="refusing to overwrite it; inspect or delete the tag")
    return entries


def merge_referrers_index(existing: bytes | None, entry: Mapping[str, Any]) -> bytes | None:
    """The fallback index with ``entry`` added, or None when it is already listed.

    Existing entries and top-level fields are kept exactly as read; the entries are
    sorted by digest string (stable for equal digests).
    """
    document = _parse_index(existing)
    entries = _entries(document)
    if any(e["digest"] == entry["digest"] for e in entries):
        return None
    if len(entries) >= MAX_INDEX_ENTRIES:
        raise InputError(f"the referrers tag index already lists {len(entries)} manifests")
    ordered = sorted([*entries, dict(entry)], key=lambda e: str(e["digest"]))
    # Go's IndexManifest field order: schemaVersion, mediaType, manifests, then the rest
    result: dict[str, Any] = {"schemaVersion": document.get("schemaVersion", 2),
                              "mediaType": document.get("mediaType", OCI_INDEX),
                              "manifests": ordered}
    result.update({k: v for k, v in document.items() if k not in result})
    return go_json(result, sort_keys=False)
