"""One configured HTTP session factory for every network call (layer L3).

Every request gets a timeout; idempotent methods retry with backoff on 429/5xx and
connection errors, honouring a (capped) ``Retry-After``; POST and PATCH are never
retried here. Response bodies are read with a size cap. Secrets are redacted from
any text we turn into an error.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from signer import __version__
from signer.errors import (
    InputError,
    NetworkError,
    ResponseCutError,
    ServiceTimeoutError,
    SizeLimitError,
)
from signer.localfile import read_local_file

#: (connect, read) seconds for every request unless the caller says otherwise.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
#: Longest ``Retry-After`` we are willing to wait, in seconds.
MAX_RETRY_AFTER = 10.0
USER_AGENT = f"signer/{__version__}"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = (429, 500, 502, 503, 504)


class _CappedRetry(Retry):
    """urllib3 Retry whose ``Retry-After`` wait is capped at :data:`MAX_RETRY_AFTER`."""

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        if value is None:
            return None
        return min(float(value), MAX_RETRY_AFTER)


class _TimeoutAdapter(HTTPAdapter):
    """An adapter that applies a default timeout to every request."""

    def __init__(self, timeout: tuple[float, float], **kwargs: Any) -> None:
        self._timeout = timeout
        super().__init__(**kwargs)

    # The base class spells out stream/timeout/verify/cert/proxies; passing them through
    # as **kwargs is the same call, which the stubs cannot express (hence the ignore).
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Send with the default timeout unless the caller gave one."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


class _Session(requests.Session):
    """A session whose hostile redirects fail as request errors, not ValueError.

    requests parses a response's ``Location`` even when it does not follow it, and
    urllib raises a bare ValueError for some (``http://[::1``)."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        try:
            return super().send(request, **kwargs)
        except requests.RequestException:
            raise
        except ValueError as exc:
            raise requests.exceptions.InvalidURL(f"invalid redirect target: {exc}") from None


def new_session(
    *,
    retries: int = 3,
    backoff: float = 0.2,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ca_bundle: str | None = None,
    pool_size: int = 16,
) -> requests.Session:
    """A ``requests.Session`` with timeouts, retries, pooling and our User-Agent.

    ``ca_bundle`` is a PEM file of extra trust anchors; TLS is always verified.
    Proxy and netrc settings from the environment are ignored (``trust_env`` off),
    so credentials are only ever the ones we attach ourselves.
    """
    retry = _CappedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        backoff_max=5.0,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    session = _Session()
    session.trust_env = False
    adapter = _TimeoutAdapter(timeout, max_retries=retry, pool_connections=pool_size,
                              pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.verify = checked_ca_bundle(ca_bundle or os.environ.get("SIGNER_CA_BUNDLE")) or True
    return session


def checked_ca_bundle(path: str | None) -> str | None:
    """``path`` if it names a readable CA bundle file of PEM certificates (checked now,
    bounded, so that a missing file, a directory or a device is one error naming it, not a
    failure deep in the first TLS connection); None stays None."""
    if not path:
        return None
    hint = ("SIGNER_CA_BUNDLE (the action's registry-ca-bundle) must be a PEM file of CA "
            "certificates")
    data = read_local_file(path, "CA bundle", hint=hint)
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise InputError(f"CA bundle {path} holds no PEM certificate", hint=hint)
    return path


#: Shortest time a whole response body may take, in seconds: the read timeout is per
#: socket read, so a server sending one byte at a time would otherwise never trip it.
BODY_MIN_SECONDS = 60.0
#: Beyond that, the slowest average rate (bytes per second) a body up to its limit may
#: arrive at: a body of ``limit`` bytes gets ``limit / BODY_MIN_RATE`` seconds.
BODY_MIN_RATE = 64 * 1024


def body_deadline(limit: int) -> float:
    """Seconds a body of at most ``limit`` bytes may take to arrive."""
    return max(BODY_MIN_SECONDS, limit / BODY_MIN_RATE)


def iter_body(response: requests.Response, what: str, *, chunk_size: int = 65536,
              deadline: float | None = None) -> Iterator[bytes]:
    """The body of a streamed response as it arrives, given up on after ``deadline``
    seconds in all (:class:`ServiceTimeoutError`); a cut connection is a
    :class:`ResponseCutError`. Each read returns what has arrived (at most
    ``chunk_size`` bytes), so the deadline holds however slowly the bytes come."""
    budget = BODY_MIN_SECONDS if deadline is None else deadline
    ends = time.monotonic() + budget
    raw = response.raw
    arrived = getattr(raw, "read1", None)
    try:
        if arrived is None or getattr(response, "_content_consumed", False):
            chunks: Iterable[bytes] = response.iter_content(chunk_size=chunk_size)
        else:
            chunks = iter(lambda: arrived(chunk_size, decode_content=True), b"")
        for chunk in chunks:
            if time.monotonic() > ends:
                raise ServiceTimeoutError(f"{what} did not arrive within {budget:g} s",
                                          hint="the server sends too slowly; try again")
            yield chunk
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise ResponseCutError(f"reading {what} failed: {type(exc).__name__}",
                               hint="the connection was cut; try again") from None
    finally:
        response.close()


def read_bounded(response: requests.Response, limit: int, what: str = "response", *,
                 deadline: float | None = None) -> bytes:
    """Read a (preferably streamed) response body, refusing more than ``limit`` bytes
    or taking longer than ``deadline`` seconds (by default :func:`body_deadline`)."""
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        response.close()
        raise SizeLimitError(f"{what} is {declared} bytes, over the {limit}-byte limit")
    chunks: list[bytes] = []
    total = 0
    for chunk in iter_body(response, what, deadline=body_deadline(limit) if deadline is None
                           else deadline):
        total += len(chunk)
        if total > limit:
            response.close()
            raise SizeLimitError(f"{what} exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


#: a secret's first characters that mark an echo of it (possibly cut short by the server)
REDACT_PREFIX_CHARS = 12


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret (4 characters or more) in ``text`` with ``***``, longest
    first; also the start of a long secret that a server echoed cut short (its first
    :data:`REDACT_PREFIX_CHARS` characters and as much as follows). Redact before
    shortening a text: a secret cut by us no longer matches."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
        if len(secret) > 2 * REDACT_PREFIX_CHARS:
            text = _redact_prefixes(text, secret)
    return text


def _redact_prefixes(text: str, secret: str) -> str:
    head = secret[:REDACT_PREFIX_CHARS]
    start = text.find(head)
    while start >= 0:
        end = start + REDACT_PREFIX_CHARS
        while end < len(text) and end - start < len(secret) and text[end] == secret[end - start]:
            end += 1
        text = text[:start] + "***" + text[end:]
        start = text.find(head, start + 3)
    return text


def display_host(url: str) -> str:
    """The ``host[:port]`` of ``url`` for messages, without any ``user:password@``."""
    return urlsplit(url).netloc.rpartition("@")[2]


def display_url(url: str) -> str:
    """``url`` for output and messages: any ``user:password@`` in it removed."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def describe_exception(exc: requests.RequestException, url: str) -> NetworkError:
    """Turn a requests exception into a one-line :class:`NetworkError` with a hint."""
    host = display_host(url)
    if isinstance(exc, requests.exceptions.SSLError):
        return NetworkError(f"TLS verification failed for {host}",
                            hint="check the server certificate or pass a CA bundle")
    if isinstance(exc, requests.exceptions.ConnectionError) and isinstance(
            getattr(exc.args[0] if exc.args else None, "reason", None), ReadTimeoutError):
        # after retries, urllib3 reports read timeouts as a ConnectionError(MaxRetryError)
        return ServiceTimeoutError(f"{host} did not answer in time",
                            hint="the service is slow or unreachable; try again")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return NetworkError(f"cannot connect to {host}",
                            hint="check the address and that the service is running")
    if isinstance(exc, requests.exceptions.Timeout):
        return ServiceTimeoutError(f"{host} did not answer in time",
                            hint="the service is slow or unreachable; try again")
    return NetworkError(f"request to {host} failed: {type(exc).__name__}")


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` fit for logs: authorization values hidden."""
    hidden = {"authorization", "proxy-authorization", "cookie", "set-cookie"}
    return {k: ("***" if k.lower() in hidden else v) for k, v in headers.items()}
