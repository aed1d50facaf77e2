"""A TUF repository (python-tuf's Metadata API) served on 127.0.0.1 for each test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from signer.services.tuf.client import TufTrust, load_trust
from signer.services.tuf.instances import TufInstance
from signer.testing.tuf_repo import TufRepository, TufServer

#: any valid trusted root will do as the published target
TRUSTED_ROOT = (Path(__file__).resolve().parents[3] / "signer" / "data" /
                "trusted_root.json").read_bytes()
SIGNING_CONFIG = b'{"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json"}\n'


@dataclass
class Served:
    """A repository, its server and a client cache directory."""

    repo: TufRepository
    server: TufServer
    cache: Path
    #: the server's URL (kept when a test stops the server)
    url: str = ""

    @property
    def instance(self) -> TufInstance:
        """The repository as a client sees it, bootstrapped with its 1.root.json."""
        return TufInstance(self.url, self.repo.root_path.read_bytes())

    def load(self, **kwargs: bool) -> TufTrust:
        """One client update (as one signer process makes it)."""
        return load_trust(self.instance, self.cache, **kwargs)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    repo = TufRepository(tmp_path / "repo")
    repo.publish_targets({"trusted_root.json": TRUSTED_ROOT,
                          "signing_config.v0.2.json": SIGNING_CONFIG})
    server = TufServer(repo.directory)
    server.start()
    try:
        yield Served(repo, server, tmp_path / "cache", server.url)
    finally:
        server.stop()
