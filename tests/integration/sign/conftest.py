"""Fixtures for signing tests: the real registry, the local Sigstore stack, images."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from signer.reference import Reference, parse_reference
from signer.registry.client import RegistryClient
from signer.testing.images import Platform, TestImage, write_oci_layout
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.sigstore_fixtures import fresh_faults, sigstore_stack  # noqa: F401

_counter = itertools.count()


@pytest.fixture
def client(registry: LocalRegistry) -> Iterator[RegistryClient]:
    """A registry client allowed to use plain HTTP to the test registry."""
    with RegistryClient(insecure=(registry.host,)) as registry_client:
        yield registry_client


PushImage = Callable[..., tuple[Reference, TestImage]]


@pytest.fixture
def push_image(registry: LocalRegistry, client: RegistryClient,
               tmp_path: Path) -> PushImage:
    """Push a deterministic test image to a fresh repository; return (tag ref, image)."""

    def push(name: str = "app", tag: str = "v1",
             platforms: Sequence[Platform] | None = None) -> tuple[Reference, TestImage]:
        number = next(_counter)
        seed = f"{os.getpid()}-{number}-{name}"
        image = write_oci_layout(tmp_path / f"layout-{number}", seed=seed, tag=tag,
                                 platforms=platforms)
        ref = parse_reference(f"{registry.host}/sign-tests/{name}-{number}:{tag}")
        for digest, blob in image.blobs.items():
            client.upload_blob(ref, blob, digest)
        assert image.digest is not None and image.media_type is not None
        assert image.manifest is not None
        for digest, manifest in image.manifests.items():
            if digest != image.digest:
                media_type = json.loads(manifest).get("mediaType")
                client.put_manifest(ref.with_digest(digest), manifest, media_type)
        client.put_manifest(ref, image.manifest, image.media_type)
        return ref, image

    return push


def signer_cli(args: Sequence[str], env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m signer`` with a clean token environment plus ``env``."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("SIGSTORE_ID_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL",
                         "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "GITHUB_ACTIONS",
                         "COSIGN_PASSWORD", "COSIGN_REPOSITORY")}
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "signer", *args], env=base,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def stack_flags(stack: Stack, registry: LocalRegistry) -> list[str]:
    """The flags that point ``signer sign`` at the local stack and registry."""
    return ["--fulcio-url", stack.fulcio_url, "--rekor-url", stack.rekor_url,
            "--trusted-root", str(stack.trusted_root_path),
            "--insecure-registry", registry.host]


def skopeo_raw(reference: str, *, config: bool = False) -> bytes:
    """``skopeo inspect --raw`` (``--config``: the config blob) of a plain-HTTP reference."""
    extra = ["--config"] if config else []
    result = subprocess.run(["skopeo", "inspect", "--raw", *extra, "--tls-verify=false",
                             f"docker://{reference}"], capture_output=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout
