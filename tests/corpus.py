"""Where the conformance corpus lives: ``tests/conformance/`` in this repository.

The one place tests, fixtures and ``bench/`` find it (its README names each case's
upstream source and licence).
"""

from __future__ import annotations

from pathlib import Path

CONFORMANCE = Path(__file__).resolve().parent / "conformance"
BUNDLES = CONFORMANCE / "bundles"
LEGACY = CONFORMANCE / "cosign-legacy"
TRUST = CONFORMANCE / "trust"
