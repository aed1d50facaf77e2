"""ngclient's downloads over our HTTP session, with the cache as a stand-in.

Every request has a timeout (:data:`TIMEOUT`) and one retry; the byte limits are
ngclient's (its ``UpdaterConfig`` lengths, set by the client). When the repository
cannot be reached (connection refused or cut, timeout, 5xx), the fetcher answers
the rest of the update from the local cache, as if the repository still served
what it served last: the next root is "not found" and ``timestamp.json`` is the
cached one. ngclient still checks everything it gets, so a cache whose metadata
has expired is refused; only a still-valid cache is used, and the caller warns.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import requests
from tuf.api import exceptions
from tuf.ngclient import FetcherInterface

from signer.errors import NetworkError
from signer.http import describe_exception, iter_body, new_session

#: (connect, read) seconds for every TUF request
TIMEOUT: tuple[float, float] = (5.0, 20.0)
_CHUNK = 65536


class CachingFetcher(FetcherInterface):
    """Fetches from the repository; after it proves unreachable, from the cache."""

    def __init__(self, mirror: str, metadata_dir: Path, *, ca_bundle: str | None = None,
                 session: requests.Session | None = None) -> None:
        self._mirror = mirror.rstrip("/") + "/"
        self._metadata_dir = metadata_dir
        self._session = session or new_session(retries=1, backoff=0.2, timeout=TIMEOUT,
                                                ca_bundle=ca_bundle, pool_size=2)
        #: why the repository is considered unreachable (None while it answers)
        self.unreachable: str | None = None
        #: URLs requested from the network, in order (for tests and the bench)
        self.requested: list[str] = []

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def _fetch(self, url: str) -> Iterator[bytes]:
        if self.unreachable is None:
            try:
                return self._from_network(url)
            except _Unreachable as why:
                self.unreachable = str(why)
        return self._from_cache(url)

    def _from_network(self, url: str) -> Iterator[bytes]:
        self.requested.append(url)
        try:
            response = self._session.get(url, stream=True, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise _Unreachable(describe_exception(exc, url).message) from None
        if response.status_code >= 500:
            response.close()
            raise _Unreachable(f"HTTP {response.status_code} for {url}")
        if response.status_code != 200:
            response.close()
            raise exceptions.DownloadHTTPError(f"HTTP {response.status_code} for {url}",
                                               response.status_code)
        return _chunks(response, url)

    def _from_cache(self, url: str) -> Iterator[bytes]:
        name = url[len(self._mirror):] if url.startswith(self._mirror) else ""
        if name.endswith(".root.json"):
            # the cache holds every root it accepted; no newer one is known
            raise exceptions.DownloadHTTPError(f"{url} not reachable", 404)
        if name == "timestamp.json":
            try:
                return iter([(self._metadata_dir / name).read_bytes()])
            except OSError:
                pass
        raise exceptions.DownloadError(
            f"{self.unreachable}; {name or url} is not in the cache")


class _Unreachable(Exception):
    """The repository did not answer (connection, timeout, server error)."""


def _chunks(response: requests.Response, url: str) -> Iterator[bytes]:
    try:
        yield from iter_body(response, url, chunk_size=_CHUNK)
    except NetworkError as error:  # cut, or too slow in all (a server trickling bytes)
        raise exceptions.DownloadError(error.message) from None
