"""Turning registry failures into one-line errors with hints (layer L3).

Each kind of failure a user meets gets its own message: unknown host (DNS), refused
connection, TLS failure, timeout, 401, 403, 404, 429, 5xx, an HTML page where the
registry API should answer. Server-provided text is scrubbed of every credential we
hold or sent with the request (a server may echo its ``Authorization`` header), then
shortened; response bodies are read with a small cap.
"""

from __future__ import annotations

import base64
import binascii
import json
import socket
from collections.abc import Iterable

import requests
import urllib3.exceptions

from signer.errors import (
    AuthenticationError,
    Error,
    NetworkError,
    RegistryError,
    ServiceTimeoutError,
)
from signer.http import redact

#: How much of an error body we read to explain a failure.
MAX_ERROR_BODY_BYTES = 64 * 1024
#: How much server-provided detail goes into a message.
MAX_DETAIL_CHARS = 160


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or any(current is s for s in seen) or len(seen) > 50:
            continue
        seen.append(current)
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None),
                  *current.args]
        stack += [c for c in linked if isinstance(c, BaseException)]
    return seen


def exception_error(exc: requests.RequestException, host: str) -> NetworkError:
    """The error for a request that got no HTTP answer at all."""
    causes = _causes(exc)
    if any(isinstance(c, (socket.gaierror, urllib3.exceptions.NameResolutionError))
           for c in causes):
        return NetworkError(f"unknown registry host {host!r}: the name does not resolve",
                            hint="check the registry name in the image reference (and DNS)")
    if isinstance(exc, requests.exceptions.SSLError):
        return NetworkError(f"TLS verification failed for {host}",
                            hint="give the registry's CA bundle (SIGNER_CA_BUNDLE), or name "
                                 "the registry insecure if you trust the network")
    if any(isinstance(c, ConnectionRefusedError) or "Connection refused" in str(c)
           for c in causes):
        return NetworkError(f"connection to {host} refused",
                            hint="nothing is listening there; check the host, port and that "
                                 "the registry is running")
    # after retries, urllib3 reports read timeouts as a ConnectionError(MaxRetryError)
    if isinstance(exc, requests.exceptions.Timeout) or any(
            isinstance(c, (urllib3.exceptions.ReadTimeoutError, TimeoutError)) for c in causes):
        return ServiceTimeoutError(f"{host} did not answer in time",
                            hint="the registry is slow or unreachable; try again")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return NetworkError(f"connection to {host} failed ({type(exc).__name__})",
                            hint="the connection was reset or cut; try again")
    return NetworkError(f"request to {host} failed ({type(exc).__name__})",
                        hint="try again; if it persists, check the network path to the registry "
                             "(proxy, firewall, TLS-intercepting middlebox)")


def _read_error_body(response: requests.Response) -> bytes:
    try:
        data = b""
        for chunk in response.iter_content(chunk_size=16384):
            data += chunk
            if len(data) >= MAX_ERROR_BODY_BYTES:
                break
        return data[:MAX_ERROR_BODY_BYTES]
    except requests.RequestException:
        return b""
    finally:
        response.close()


def looks_like_html(content_type: str, body: bytes) -> bool:
    """True if a response is a web page rather than a registry API answer."""
    if "html" in content_type.lower():
        return True
    start = body.lstrip()[:15].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def sent_credentials(request: requests.PreparedRequest | None) -> list[str]:
    """Every secret in the ``Authorization`` header ``request`` carried: the whole
    value, its credential (a bearer token, a Basic base64 blob) and, for Basic, the
    decoded ``user:password`` and the password."""
    value = request.headers.get("Authorization") if request is not None else None
    if not value:
        return []
    scheme, _, credential = value.strip().partition(" ")
    found = [value, credential.strip()]
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credential.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            decoded = ""
        found += [decoded, decoded.partition(":")[2]]
    return [secret for secret in found if secret]


def _detail(body: bytes, secrets: Iterable[str]) -> str:
    """``CODE: message`` from a distribution-spec error body, else ''."""
    try:
        document = json.loads(body)
        first = document["errors"][0]
        text = f"{first.get('code', '')}: {first.get('message', '')}".strip(": ")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, UnicodeDecodeError):
        return ""
    text = redact(" ".join(str(text).split()), secrets)
    return text[:MAX_DETAIL_CHARS]


def response_error(response: requests.Response, what: str, host: str, *,
                   secrets: Iterable[str] = (), username: str | None = None,
                   had_credentials: bool = False, retries: int = 0) -> Error:
    """The error for an unexpected HTTP status (or an HTML page) answering ``what``."""
    status = response.status_code
    content_type = response.headers.get("Content-Type", "")
    body = _read_error_body(response)
    secrets = (*secrets, *sent_credentials(response.request))
    detail = _detail(body, secrets)
    suffix = f" [{detail}]" if detail else ""
    insufficient_scope = "insufficient_scope" in response.headers.get("WWW-Authenticate", "")
    if status == 401 and had_credentials and insufficient_scope:
        return AuthenticationError(
            f"{host} denied {what}: the token lacks the needed scope (HTTP 401 "
            f"insufficient_scope){suffix}",
            hint="the credentials are valid but lack permission here "
                 "(pushing needs write access to the repository)")
    if status == 401:
        if had_credentials:
            user = f" for user {username!r}" if username else ""
            return AuthenticationError(
                f"{host} rejected the credentials{user} (HTTP 401){suffix}",
                hint=f"check the username and password or token for {host}")
        return AuthenticationError(
            f"{host} requires authentication for {what} (HTTP 401){suffix}",
            hint=f"log in (docker login {host}), pass credentials, or set GITHUB_TOKEN "
                 "for ghcr.io")
    if status == 403:
        return RegistryError(
            f"access denied by {host} for {what} (HTTP 403){suffix}",
            hint="the credentials are valid but lack permission here "
                 "(pushing needs write access to the repository)")
    if status == 429:
        tries = f" after {retries} retries" if retries else ""
        return RegistryError(
            f"{host} is rate-limiting requests (HTTP 429{tries}) for {what}",
            hint="wait a while and try again; authenticated requests get higher limits")
    if status >= 500:
        return RegistryError(
            f"{host} failed with a server error (HTTP {status}) for {what}{suffix}",
            hint="the registry has a problem on its side; try again later")
    if looks_like_html(content_type, body):
        return RegistryError(
            f"{host} answered {what} with an HTML page (HTTP {status}), not the registry API",
            hint=f"check that {host} is a container registry; a proxy, login page or "
                 "captive portal may be in the way")
    if status == 404:
        return RegistryError(f"{what} not found on {host} (HTTP 404){suffix}",
                             hint="check the repository name and that it exists")
    if status == 405:
        return RegistryError(f"{host} does not allow {what} (HTTP 405){suffix}",
                             hint="the registry has this operation disabled")
    return RegistryError(f"{host} answered {what} with HTTP {status}{suffix}",
                         hint="unexpected registry answer; check the registry and try again")
