"""Fixtures for the hardening tests (issue 8): fault proxies, small images, keys."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from signer.keys import PrivateKey, load_private_key, write_cosign_key_pair
from signer.reference import Reference, parse_reference
from signer.registry.client import RegistryClient
from signer.testing.faultproxy import FaultProxy
from signer.testing.images import write_oci_layout
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.sigstore_fixtures import fresh_faults, sigstore_stack  # noqa: F401

KEY_PASSWORD = "hardening-key-password-7c1e"
_counter = itertools.count()


@pytest.fixture
def registry_proxy(registry: LocalRegistry) -> Iterator[FaultProxy]:
    """A fault proxy in front of the session registry (no faults until a plan is set)."""
    with FaultProxy(registry.host, name="registry") as proxy:
        yield proxy


@pytest.fixture
def fulcio_proxy(sigstore_stack: Stack) -> Iterator[FaultProxy]:  # noqa: F811
    """A fault proxy in front of the local Fulcio."""
    with FaultProxy(sigstore_stack.fulcio_url, name="fulcio") as proxy:
        yield proxy


@pytest.fixture
def rekor_proxy(sigstore_stack: Stack) -> Iterator[FaultProxy]:  # noqa: F811
    """A fault proxy in front of the local Rekor."""
    with FaultProxy(sigstore_stack.rekor_url, name="rekor") as proxy:
        yield proxy


@pytest.fixture
def direct_client(registry: LocalRegistry) -> Iterator[RegistryClient]:
    """A client talking to the registry directly (no proxy): the ground truth."""
    with RegistryClient(insecure=(registry.host,)) as client:
        yield client


PushImage = Callable[[str], Reference]


@pytest.fixture
def push_image(registry: LocalRegistry, direct_client: RegistryClient,
               tmp_path: Path) -> PushImage:
    """Push a small deterministic image straight to the registry; return its tag ref
    (repository ``hardening/<name>-<n>``, registry host = the real registry)."""

    def push(name: str) -> Reference:
        number = next(_counter)
        image = write_oci_layout(tmp_path / f"img-{number}", seed=f"{os.getpid()}-{name}-{number}",
                                 tag="v1", layer_size=64)
        ref = parse_reference(f"{registry.host}/hardening/{name}-{number}:v1")
        for digest, blob in image.blobs.items():
            direct_client.upload_blob(ref, blob, digest)
        assert image.manifest is not None and image.media_type is not None
        direct_client.put_manifest(ref, image.manifest, image.media_type)
        return ref

    return push


def via(ref: Reference, host: str) -> Reference:
    """The same repository/tag/digest on another registry host (a proxy)."""
    return Reference(host, ref.repository, ref.tag, ref.digest)


@pytest.fixture(scope="session")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, PrivateKey]:
    """A cosign key pair (encrypted with :data:`KEY_PASSWORD`) and the loaded key."""
    folder = tmp_path_factory.mktemp("hardening-keys")
    key_path, pub_path = write_cosign_key_pair(folder, KEY_PASSWORD.encode())
    return key_path, pub_path, load_private_key(key_path, KEY_PASSWORD.encode())


def signer_cli(args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 120,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m signer`` with no ambient token/password variables plus ``env``."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("SIGSTORE_ID_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL",
                         "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "GITHUB_ACTIONS",
                         "COSIGN_PASSWORD", "COSIGN_REPOSITORY", "SIGNER_CA_BUNDLE")}
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "signer", *args], env=base,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd=cwd)
