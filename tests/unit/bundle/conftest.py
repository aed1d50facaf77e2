"""Shared fixtures for the bundle unit tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CONFORMANCE_DIR = Path(os.environ.get("SIGNER_CONFORMANCE_DIR", "/work/shared/conformance"))


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """The conformance corpus (README in it); tests needing it skip when it is absent."""
    if not (CONFORMANCE_DIR / "bundles").is_dir():
        pytest.fail(f"conformance corpus not found at {CONFORMANCE_DIR}")
    return CONFORMANCE_DIR
