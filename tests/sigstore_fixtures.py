"""Pytest fixtures for the local Sigstore stack (import them into a conftest.py).

    from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

``sigstore_stack`` is session-scoped: one stack (OIDC issuer + token endpoint, Fulcio
with CT log, Rekor) for the whole test session. Tests must not leave fault knobs on
(use ``fresh_faults`` or call ``stack.faults(name).clear()``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from signer.testing.stack import Stack, start_stack


@pytest.fixture(scope="session")
def sigstore_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A running local Sigstore stack shared by the session."""
    with start_stack(tmp_path_factory.mktemp("sigstore-stack")) as stack:
        yield stack


@pytest.fixture
def fresh_faults(sigstore_stack: Stack) -> Iterator[Stack]:
    """The session stack, with every fault knob and token-claim override reset after."""
    yield sigstore_stack
    for service in sigstore_stack.services.values():
        service.faults.clear()
    sigstore_stack.set_token_claims()
    sigstore_stack.set_clock_skew()
    sigstore_stack.ct_log.fail_next(0)
