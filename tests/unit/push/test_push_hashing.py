"""Each blob is hashed once per upload: by the source as it is read, not again by the client.

No registry: a recording client stands in for the push, and the client's own upload
step is replaced where its check is under test.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from signer.errors import DigestMismatchError, InputError
from signer.reference import Reference, parse_reference
from signer.registry.client import RegistryClient
from signer.registry.credentials import AnonymousKeychain
from signer.registry.push import push_image
from signer.registry.sources import open_source
from signer.testing.images import write_oci_layout

TARGET = parse_reference("127.0.0.1:5000/app:v1")


class _RecordingClient:
    def __init__(self) -> None:
        self.uploads: list[tuple[str, bool, bytes]] = []

    def blob_exists(self, ref: Reference, digest: str) -> bool:
        return False

    def upload_blob(self, ref: Reference, data: bytes, digest: str | None = None, *,
                    digest_checked: bool = False) -> str:
        assert digest is not None
        self.uploads.append((digest, digest_checked, data))
        return digest

    def mount_blob(self, ref: Reference, digest: str, from_repository: str) -> bool:
        return False

    def put_manifest(self, ref: Reference, data: bytes, media_type: str) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()


def test_push_hands_over_blobs_it_has_checked(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="hash-once", tag="v1")
    client = _RecordingClient()
    with open_source(image.source) as source:
        push_image(source, [TARGET], client)
    assert sorted(d for d, _, _ in client.uploads) == sorted(image.blobs)
    for digest, checked, data in client.uploads:
        assert checked and data == image.blobs[digest]


def test_corrupt_blob_is_still_refused_before_any_upload(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="hash-corrupt", tag="v1")
    layer = max(image.blobs, key=lambda d: len(image.blobs[d]))
    path = image.path / "blobs" / "sha256" / layer.split(":", 1)[1]
    path.write_bytes(bytes(len(image.blobs[layer])))  # same size, other content
    client = _RecordingClient()
    with open_source(image.source) as source, pytest.raises(DigestMismatchError) as raised:
        push_image(source, [TARGET], client, workers=1)
    assert "image files are corrupt" in (raised.value.hint or "")
    assert layer not in [d for d, _, _ in client.uploads]


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> tuple[RegistryClient, list[Any]]:
    sent: list[Any] = []
    registry = RegistryClient(AnonymousKeychain())
    monkeypatch.setattr(registry, "_upload_once", lambda *args: sent.append(args))
    return registry, sent


def test_client_checks_the_digest_unless_told_it_was_checked(
        client: tuple[RegistryClient, list[Any]]) -> None:
    registry, sent = client
    data = b"blob bytes"
    wrong = "sha256:" + hashlib.sha256(b"other bytes").hexdigest()
    with registry, pytest.raises(DigestMismatchError):
        registry.upload_blob(TARGET, data, wrong)
    assert sent == []
    right = "sha256:" + hashlib.sha256(data).hexdigest()
    assert registry.upload_blob(TARGET, data, right, digest_checked=True) == right
    assert len(sent) == 1


def test_client_still_refuses_a_malformed_digest_when_told_it_was_checked(
        client: tuple[RegistryClient, list[Any]]) -> None:
    registry, sent = client
    with registry, pytest.raises(InputError):
        registry.upload_blob(TARGET, b"x", "sha256:not-hex", digest_checked=True)
    assert sent == []
