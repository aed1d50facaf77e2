"""Shared pytest fixtures: real Debian docker-registry instances on 127.0.0.1.

* ``registry`` -- plain HTTP, no auth (:class:`~signer.testing.registry.LocalRegistry`).
* ``tls_registry`` -- HTTPS with a self-signed certificate and htpasswd basic auth
  (:class:`~signer.testing.registry.AuthRegistry`: ``host``, ``url``, ``username``,
  ``password``, ``ca_bundle``).
* ``token_registry`` -- plain HTTP with ``auth.token`` and a local token server
  (``AuthRegistry`` with ``token_server``; user ``username`` may pull/push/delete,
  user ``reader`` with ``users["reader"]`` may only pull).

All are session-scoped: tests share them and use distinct repository names.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from signer.testing.registry import (
    AuthRegistry,
    LocalRegistry,
    registry_available,
    start_registry,
    start_tls_registry,
    start_token_registry,
)


def _require_registry() -> None:
    if not registry_available():
        pytest.fail("docker-registry is not installed; run the README's test command")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A plain-HTTP registry for the whole session (tests use distinct repositories)."""
    _require_registry()
    with start_registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """An HTTPS + htpasswd registry; trust ``ca_bundle`` and log in as ``username``."""
    _require_registry()
    with start_tls_registry(tmp_path_factory.mktemp("tls-registry")) as reg:
        yield reg


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """A bearer-token registry (``auth.token``) with its token server."""
    _require_registry()
    with start_token_registry(tmp_path_factory.mktemp("token-registry")) as reg:
        yield reg
