"""Fixtures for the local-stack tests."""

from tests.sigstore_fixtures import fresh_faults, sigstore_stack  # noqa: F401
