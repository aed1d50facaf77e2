"""Fixtures for verify integration tests: push signature material into the real test
registry and run ``python -m signer verify`` as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

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
        repo = parse_reference(f"{registry.host}/{repository}")
        manifest, config = build_signature_manifest(layers)
        registry_client.upload_blob(repo, config)
        for layer in layers:
            registry_client.upload_blob(repo, layer.payload)
        registry_client.put_manifest(repo.with_tag(signature_tag(digest)), manifest, OCI_MANIFEST)
        return repo.with_digest(digest)

    return push
