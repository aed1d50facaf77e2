"""Shared pytest fixtures: a real Debian docker-registry on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from signer.testing.registry import LocalRegistry, registry_available, start_registry

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CONFORMANCE = SHARED / "conformance"


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A plain-HTTP registry for the whole session (tests use distinct repositories)."""
    if not registry_available():
        pytest.fail("docker-registry is not installed; run the README's test command")
    with start_registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg
