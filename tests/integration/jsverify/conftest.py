"""Fixtures for the sigstore-js checks: the local stack and the sigstore-js verifier."""

from tests.sigstore_fixtures import sigstore_stack  # noqa: F401
from tests.sigstore_js import sigstore_js  # noqa: F401
