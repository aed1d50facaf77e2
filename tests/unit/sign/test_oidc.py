"""Identity tokens: precedence of sources, GitHub ambient fetch, exp/aud checks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from signer.errors import IdentityTokenError
from signer.oidc import (
    github_token_request_url,
    parse_identity_token,
    resolve_identity_token,
)


def make_token(**overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": "https://token.actions.githubusercontent.com",
                              "sub": "repo:o/r:ref:refs/heads/main", "aud": "sigstore",
                              "iat": now, "nbf": now - 300, "exp": now + 300}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, "k" * 32, algorithm="HS256")


class _TokenEndpoint(BaseHTTPRequestHandler):
    requests: list[tuple[str, str | None]] = []  # noqa: RUF012
    status = 200
    token = ""

    def do_GET(self) -> None:
        type(self).requests.append((self.path, self.headers.get("Authorization")))
        body = json.dumps({"value": type(self).token, "count": 1}).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[tuple[str, type[_TokenEndpoint]]]:
    handler = type("Handler", (_TokenEndpoint,), {"requests": [], "status": 200,
                                                  "token": make_token()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/idtoken/abc?api-version=2.0", handler
    finally:
        server.shutdown()
        server.server_close()


def test_audience_is_merged_into_existing_query() -> None:
    url = github_token_request_url("https://h.example/1//idtoken/a/b?api-version=2.0&audience=x")
    parts = urlsplit(url)
    assert parts.path == "/1//idtoken/a/b"
    assert parse_qs(parts.query) == {"api-version": ["2.0"], "audience": ["sigstore"]}


def test_explicit_token_wins_over_env_and_ambient(tmp_path: Path) -> None:
    flag, env_token = make_token(sub="flag"), make_token(sub="env")
    env = {"SIGSTORE_ID_TOKEN": env_token, "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:9/",
           "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t", "GITHUB_ACTIONS": "true"}
    assert resolve_identity_token(flag, env=env).subject == "flag"
    path = tmp_path / "token"
    path.write_text(make_token(sub="file") + "\n")
    assert resolve_identity_token(f"@{path}", env=env).subject == "file"
    assert resolve_identity_token(str(path), env=env).subject == "file"
    resolved = resolve_identity_token(None, env=env)
    assert resolved.subject == "env" and resolved.source == "SIGSTORE_ID_TOKEN"


def test_github_ambient_token(endpoint: tuple[str, type[_TokenEndpoint]]) -> None:
    url, handler = endpoint
    env = {"ACTIONS_ID_TOKEN_REQUEST_URL": url, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "req-secret",
           "GITHUB_ACTIONS": "true"}
    token = resolve_identity_token(None, env=env)
    assert token.raw == handler.token
    assert token.identity == "repo:o/r:ref:refs/heads/main"
    path, auth = handler.requests[0]
    assert parse_qs(urlsplit(path).query) == {"api-version": ["2.0"], "audience": ["sigstore"]}
    assert auth == "bearer req-secret"
    assert token.raw not in repr(token) and token.raw not in str(token)


def test_github_endpoint_refusal_is_clear(endpoint: tuple[str, type[_TokenEndpoint]]) -> None:
    url, handler = endpoint
    handler.status = 403
    env = {"ACTIONS_ID_TOKEN_REQUEST_URL": url, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "req-secret"}
    with pytest.raises(IdentityTokenError) as info:
        resolve_identity_token(None, env=env)
    assert "HTTP 403" in info.value.message
    assert "req-secret" not in info.value.diagnostics()


def test_in_actions_without_permission_shows_permissions_lines() -> None:
    with pytest.raises(IdentityTokenError) as info:
        resolve_identity_token(None, env={"GITHUB_ACTIONS": "true"})
    assert "permissions:\n      id-token: write" in info.value.diagnostics()
    assert "\n" not in info.value.message


def test_no_source_at_all() -> None:
    with pytest.raises(IdentityTokenError, match="no identity token"):
        resolve_identity_token(None, env={})


def test_expired_token_refused_without_showing_it() -> None:
    raw = make_token(exp=int(time.time()) - 10)
    with pytest.raises(IdentityTokenError) as info:
        parse_identity_token(raw)
    assert "expired" in info.value.message
    assert raw not in info.value.diagnostics()


def test_wrong_audience_refused() -> None:
    with pytest.raises(IdentityTokenError, match="audience other, not 'sigstore'"):
        parse_identity_token(make_token(aud="other"))
    assert parse_identity_token(make_token(aud=["x", "sigstore"])).audience == ("x", "sigstore")


def test_malformed_and_missing_claims() -> None:
    with pytest.raises(IdentityTokenError, match="not a valid JWT"):
        parse_identity_token("abc.def")
    with pytest.raises(IdentityTokenError, match="lacks 'iss' or 'sub'"):
        parse_identity_token(make_token(sub=None))
    with pytest.raises(IdentityTokenError, match="no valid 'exp'"):
        parse_identity_token(make_token(exp=None))


def test_email_issuer_identity_is_email() -> None:
    token = parse_identity_token(make_token(iss="https://oauth2.sigstore.dev/auth",
                                            email="a@b.c"))
    assert token.identity == "a@b.c"
