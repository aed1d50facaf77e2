"""Shared fixtures for the bundle unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus import CONFORMANCE as CONFORMANCE_DIR


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """The conformance corpus (README in it); tests needing it skip when it is absent."""
    if not (CONFORMANCE_DIR / "bundles").is_dir():
        pytest.fail(f"conformance corpus not found at {CONFORMANCE_DIR}")
    return CONFORMANCE_DIR
