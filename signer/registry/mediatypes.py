"""Manifest media types and the Accept header every manifest request sends (layer L3)."""

from __future__ import annotations

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_MANIFEST_V1 = "application/vnd.docker.distribution.manifest.v1+json"

#: Single-image manifests and multi-image indexes we read and write.
MANIFEST_MEDIA_TYPES: tuple[str, ...] = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST,
                                         DOCKER_MANIFEST_LIST)
INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})

#: Sent on every manifest GET/HEAD: without it some registries (Debian's among them)
#: answer an OCI manifest with 404.
MANIFEST_ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)


def is_index(media_type: str) -> bool:
    """True for an OCI image index or a Docker manifest list."""
    return media_type in INDEX_MEDIA_TYPES
