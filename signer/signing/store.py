"""What the signing flow needs from a registry client (structural typing only)."""

from __future__ import annotations

from typing import Protocol

from signer.reference import Reference


class ManifestLike(Protocol):
    """A fetched manifest: raw bytes, media type, digest."""

    @property
    def data(self) -> bytes: ...

    @property
    def media_type(self) -> str: ...

    @property
    def digest(self) -> str: ...


class DescriptorLike(Protocol):
    """A manifest HEAD result."""

    @property
    def digest(self) -> str: ...

    @property
    def media_type(self) -> str: ...

    @property
    def size(self) -> int: ...


class RegistryStore(Protocol):
    """The subset of :class:`signer.registry.client.RegistryClient` the flow uses."""

    def get_manifest(self, ref: Reference) -> ManifestLike: ...

    def head_manifest(self, ref: Reference) -> DescriptorLike | None: ...

    def resolve_digest(self, ref: Reference) -> str: ...

    def put_manifest(self, ref: Reference, data: bytes, media_type: str) -> str: ...

    def blob_exists(self, ref: Reference, digest: str) -> bool: ...

    def upload_blob(self, ref: Reference, data: bytes, digest: str | None = None) -> str: ...

    def serves_referrers_api(self, ref: Reference, digest: str) -> bool: ...
