"""Shared pytest fixtures: real Debian docker-registry instances on 127.0.0.1.

* ``registry`` -- plain HTTP, no auth (:class:`~signer.testing.registry.LocalRegistry`).
* ``tls_registry`` -- HTTPS with a self-signed certificate and htpasswd basic auth
  (:class:`~signer.testing.registry.AuthRegistry`: ``host``, ``url``, ``username``,
  ``password``, ``ca_bundle``).
* ``token_registry`` -- plain HTTP with ``auth.token`` and a local token server
  (``AuthRegistry`` with ``token_server``; user ``username`` may pull/push/delete,
  user ``reader`` with ``users["reader"]`` may only pull).

All are session-scoped: tests share them and use distinct repository names.

``TUF_ROOT`` points at a fresh directory for the whole session (autouse), so no
test reads or writes the user's TUF cache and every signer process the tests start
inherits it. The tests run offline, so the public-good TUF repository is stood in
for by a local one (python-tuf's Metadata API, its own keys) that publishes the
public-good ``trusted_root.json`` and ``signing_config.v0.2.json`` embedded in signer;
it is remembered there as ``signer initialize --mirror URL --root FILE`` would, so a
command without ``--trusted-root`` takes them through the real TUF client path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from signer.testing.registry import (
    AuthRegistry,
    LocalRegistry,
    registry_available,
    start_registry,
    start_tls_registry,
    start_token_registry,
)


@pytest.fixture(scope="session", autouse=True)
def tuf_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's ``TUF_ROOT``, initialised with a local public-good stand-in."""
    from signer.services.tuf.instances import TufInstance, remember
    from signer.testing.tuf_repo import TufRepository, TufServer
    from signer.trust import load_default

    previous = os.environ.get("TUF_ROOT")
    path = tmp_path_factory.mktemp("tuf-root")
    repo = TufRepository(tmp_path_factory.mktemp("tuf-public-good-stand-in"))
    repo.publish_targets({"trusted_root.json": _embedded("trusted_root.json"),
                          "signing_config.v0.2.json": _embedded("signing_config.v0.2.json")})
    assert load_default().tlogs  # the embedded root parses
    server = TufServer(repo.directory)
    server.start()
    os.environ["TUF_ROOT"] = str(path)
    remember(path, TufInstance(server.url, repo.root_path.read_bytes()))
    try:
        yield path
    finally:
        server.stop()
        if previous is None:
            os.environ.pop("TUF_ROOT", None)
        else:
            os.environ["TUF_ROOT"] = previous


def _embedded(name: str) -> bytes:
    """The public-good trusted root or signing config embedded in signer."""
    from importlib import resources

    return resources.files("signer").joinpath(f"data/{name}").read_bytes()


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
