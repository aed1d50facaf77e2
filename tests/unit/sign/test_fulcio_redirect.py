"""The identity token goes to Fulcio and nowhere else, even when Fulcio redirects.

A certificate request carries the OIDC token twice: in the Authorization header
(requests drops it on a cross-host redirect) and in the JSON body (which a 307/308
redirect would send on, unchanged, to whatever host the ``Location`` names).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from signer.errors import SigningError
from signer.oidc import IdentityToken
from signer.services.fulcio import FulcioClient

SECRET = "eyJhbGciOiJub25lIn0.eyJzZWNyZXQiOiJ0b2tlbiJ9.c2VjcmV0LXNpZ25hdHVyZQ"


class _Recorder(BaseHTTPRequestHandler):
    """Records every request; answers with ``server.answer(handler)``."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.seen.append((self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        self.server.answer(self)  # type: ignore[attr-defined]

    do_GET = do_POST  # a 301-303 redirect turns the POST into a GET

    def log_message(self, format: str, *args: object) -> None:
        return


def _serve(answer: object) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen = []  # type: ignore[attr-defined]
    server.answer = answer  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def elsewhere() -> Iterator[ThreadingHTTPServer]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(500)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    yield from _serve(answer)


def _token() -> IdentityToken:
    return IdentityToken(raw=SECRET, issuer="https://issuer.test", subject="me",
                         identity="me@example.test", audience=("sigstore",),
                         expires_at=datetime.now(timezone.utc) + timedelta(minutes=5),
                         source="test")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirecting_fulcio_never_forwards_the_token(
    elsewhere: ThreadingHTTPServer, status: int
) -> None:
    # "localhost" is another host name than "127.0.0.1": a cross-host redirect
    target = f"http://localhost:{elsewhere.server_address[1]}/api/v2/signingCert"

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    for fulcio in _serve(redirect):
        client = FulcioClient(f"http://127.0.0.1:{fulcio.server_address[1]}", attempts=1,
                              timeout=(2.0, 2.0))
        try:
            with pytest.raises(SigningError) as caught:
                client.request_certificate(ec.generate_private_key(ec.SECP256R1()), _token())
        finally:
            client.close()
        assert len(fulcio.seen) == 1  # type: ignore[attr-defined]
    assert elsewhere.seen == []  # type: ignore[attr-defined]
    assert "redirect" in caught.value.message
    assert SECRET not in caught.value.diagnostics()
