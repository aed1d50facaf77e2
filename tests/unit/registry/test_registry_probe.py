"""The bare TLS handshake that decides whether a loopback registry gets an HTTPS attempt.

Local servers on 127.0.0.1 only: one that speaks TLS, one that speaks plain HTTP, a
closed port; and, through the client, the order of the attempts it makes.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests

from signer.errors import NetworkError
from signer.reference import parse_reference
from signer.registry.client import PROBE_TIMEOUT, RegistryClient
from signer.registry.credentials import AnonymousKeychain
from signer.registry.probe import answers_tls
from signer.testing.registry import write_tls_certificate


class _Handler(BaseHTTPRequestHandler):
    status = 200
    body = b"{}"

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _HttpsServerSays(_Handler):
    """A plain-HTTP answer as Go gives to plain HTTP sent to its TLS port."""

    status = 400
    body = b"Client sent an HTTP request to an HTTPS server.\n"


def _serve(handler: type[BaseHTTPRequestHandler],
           context: ssl.SSLContext | None = None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def plain_http() -> Iterator[str]:
    yield from _serve(_Handler)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cert, key = write_tls_certificate(tmp_path / "tls")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    for host in _serve(_Handler, context):
        yield host, cert


def test_tls_port_answers_the_handshake(tls_server: tuple[str, Path]) -> None:
    assert answers_tls(tls_server[0], PROBE_TIMEOUT) is True


def test_plain_http_port_does_not(plain_http: str) -> None:
    assert answers_tls(plain_http, PROBE_TIMEOUT) is False


def test_closed_port_does_not() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert answers_tls(f"127.0.0.1:{port}", PROBE_TIMEOUT) is False


def _https_attempts(client: RegistryClient) -> list[str]:
    """Record the URLs the client's one-shot session (the HTTPS attempt) is asked for."""
    seen: list[str] = []
    original = client._once.get

    def get(url: str | bytes, **kwargs: Any) -> requests.Response:
        seen.append(str(url))
        return original(url, **kwargs)

    client._once.get = get  # type: ignore[method-assign]
    return seen


def test_plain_http_registry_gets_no_https_attempt(plain_http: str) -> None:
    with RegistryClient(AnonymousKeychain()) as client:
        seen = _https_attempts(client)
        state = client._host(parse_reference(f"{plain_http}/app"))
    assert seen == []
    assert state.base_url == f"http://{plain_http}"


def test_tls_registry_still_gets_the_verified_https_attempt(
        tls_server: tuple[str, Path]) -> None:
    host, cert = tls_server
    with RegistryClient(AnonymousKeychain(), ca_bundle=str(cert)) as client:
        seen = _https_attempts(client)
        state = client._host(parse_reference(f"{host}/app"))
    assert seen == [f"https://{host}/v2/"]
    assert state.base_url == f"https://{host}" and state.verify == str(cert)


def test_missed_tls_port_gets_the_https_attempt_after_all() -> None:
    # If the handshake check says "no TLS" but the port answers plain HTTP the way a
    # TLS server does, the HTTPS attempt is still made and its failure reported.
    for host in _serve(_HttpsServerSays):
        with RegistryClient(AnonymousKeychain(), retries=0) as client, \
                mock.patch("signer.registry.client.answers_tls", return_value=False):
            seen = _https_attempts(client)
            with pytest.raises(NetworkError, match="TLS"):
                client._host(parse_reference(f"{host}/app"))
        assert seen == [f"https://{host}/v2/"]
