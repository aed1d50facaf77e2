"""Fixtures for verify integration tests: push signature material into the real test
registry and run ``python -m signer verify`` as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from signer.formats.legacy import (
    OCI_MANIFEST,
    SignatureLayer,
    build_signature_manifest,
    signature_tag,
)
from signer.reference import Reference, parse_reference
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry


@dataclass
class CliResult:
    """Exit code and output of one CLI run."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(args: Sequence[str], env: dict[str, str] | None = None) -> CliResult:
    """Run ``python -m signer ARGS`` with a bounded time."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SIGSTORE_",
                                                                            "COSIGN_"))}
    environment.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "signer", *args], capture_output=True,
                          text=True, env=environment, timeout=120, check=False)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def registry_client() -> Iterator[RegistryClient]:
    """One client for pushing test material."""
    with RegistryClient() as client:
        yield client


PushSignatures = Callable[[str, str, Sequence[SignatureLayer]], Reference]


@pytest.fixture
def push_signatures(registry: LocalRegistry, registry_client: RegistryClient) -> PushSignatures:
    """Store ``layers`` as the ``sha256-<hex>.sig`` image of ``digest`` in ``repository``;
    returns the digest reference of the signed image."""

    def push(repository: str, digest: str, layers: Sequence[SignatureLayer]) -> Reference:
        return push_signatures_to(registry, registry_client, repository, digest, layers)

    return push


@dataclass
class KeySignedImage:
    """An image in the test registry with a key-based signature (no tlog)."""

    tag_reference: Reference
    digest_reference: Reference
    public_key_path: str


@pytest.fixture(scope="session")
def signing_key_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    """An ECDSA P-256 test key and the path of its PEM public key."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from signer.keys import public_key_pem

    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path_factory.mktemp("keys") / "cosign.pub"
    path.write_bytes(public_key_pem(key.public_key()))
    return key, str(path)


@pytest.fixture
def key_signed_image(registry: LocalRegistry, registry_client: RegistryClient,
                     signing_key_file: tuple[Any, str]) -> Callable[..., KeySignedImage]:
    """Push a small image under a tag and sign its digest with the test key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from signer.formats.legacy import (
        SIMPLE_SIGNING_MEDIA_TYPE,
        build_simple_signing_payload,
        signature_annotations,
    )

    key, public_path = signing_key_file

    def make(repository: str, tag: str = "v1", annotations: dict[str, str] | None = None,
             signature_repository: str | None = None) -> KeySignedImage:
        repo = push_plain_image(registry, registry_client, repository, tag).repository_only()
        digest = registry_client.resolve_digest(repo.with_tag(tag))
        payload = build_simple_signing_payload(repo.repository_name, digest, annotations)
        signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
        layer = SignatureLayer(payload, SIMPLE_SIGNING_MEDIA_TYPE,
                               signature_annotations(signature))
        target = signature_repository or repository
        push_signatures_to(registry, registry_client, target, digest, [layer])
        return KeySignedImage(repo.with_tag(tag), repo.with_digest(digest), public_path)

    return make


def push_signatures_to(registry: LocalRegistry, client: RegistryClient, repository: str,
                       digest: str, layers: Sequence[SignatureLayer]) -> Reference:
    """Store ``layers`` as the ``.sig`` image of ``digest`` in ``repository``."""
    repo = parse_reference(f"{registry.host}/{repository}")
    manifest, config = build_signature_manifest(layers)
    client.upload_blob(repo, config)
    for payload in {layer.payload for layer in layers}:
        client.upload_blob(repo, payload)
    client.put_manifest(repo.with_tag(signature_tag(digest)), manifest, OCI_MANIFEST)
    return repo.with_digest(digest)


def push_plain_image(registry: LocalRegistry, client: RegistryClient, repository: str,
                     tag: str = "v1") -> Reference:
    """Push a minimal image (a unique config, no layers) under ``tag``; return its
    digest reference."""
    from signer.formats.gojson import go_json

    repo = parse_reference(f"{registry.host}/{repository}")
    config = go_json({"architecture": "amd64", "os": "linux", "created": repository,
                      "rootfs": {"type": "layers", "diff_ids": []}})
    config_digest = client.upload_blob(repo, config)
    manifest = go_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                   "size": len(config), "digest": config_digest},
                        "layers": []})
    digest = client.put_manifest(repo.with_tag(tag), manifest, OCI_MANIFEST)
    return repo.with_digest(digest)
