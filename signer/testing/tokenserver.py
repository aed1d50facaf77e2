"""A small Docker token server for tests (the ``auth.token`` flow of distribution).

It checks HTTP basic credentials (or an OAuth2 refresh token) against a user table,
grants the intersection of the requested scopes and the user's allowed actions, and
returns an ES256 JWT whose ``kid`` is the libtrust key ID of its signing key. The
signing key's self-signed certificate goes into the registry's ``rootcertbundle``,
so the registry verifies the tokens exactly as it verifies Docker Hub's or GHCR's.

Binds to 127.0.0.1 on a free port; serves ``GET /token`` and ``POST /token``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TOKEN_LIFETIME_SECONDS = 300
ALL_ACTIONS = frozenset({"pull", "push", "delete", "*"})


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """The key ID distribution expects in a token's ``kid`` header (libtrust format)."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i:i + 4] for i in range(0, len(encoded), 4))


@dataclass(frozen=True)
class TokenUser:
    """A user of the token server: password and the actions it may be granted."""

    password: str = field(repr=False)
    actions: frozenset[str] = frozenset({"pull", "push", "delete"})
    refresh_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TokenRequest:
    """What a client asked for (recorded for assertions): user, scopes, method."""

    username: str | None
    scopes: tuple[str, ...]
    method: str
    granted: tuple[str, ...]


def _self_signed_certificate(key: ec.EllipticCurvePrivateKey, name: str) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


class TokenServer:
    """A running token server; ``realm`` is its token URL."""

    def __init__(self, directory: Path, users: Mapping[str, TokenUser], *,
                 service: str = "signer-test-registry", issuer: str = "signer-test-issuer",
                 anonymous_actions: frozenset[str] = frozenset()) -> None:
        self.service = service
        self.issuer = issuer
        self.users = dict(users)
        self.anonymous_actions = anonymous_actions
        self.requests: list[TokenRequest] = []
        self._lock = threading.Lock()
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = libtrust_key_id(self._key.public_key())
        directory.mkdir(parents=True, exist_ok=True)
        self.rootcertbundle = directory / "token-rootcertbundle.pem"
        certificate = _self_signed_certificate(self._key, "signer test token signer")
        self.rootcertbundle.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        handler = type("_BoundHandler", (_TokenHandler,), {"server_state": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name="token-server")
        self._thread.start()

    def __repr__(self) -> str:
        return f"TokenServer(realm={self.realm!r}, users={sorted(self.users)})"

    @property
    def realm(self) -> str:
        """The token endpoint URL the registry names in its challenge."""
        return f"http://127.0.0.1:{self.port}/token"

    def stop(self) -> None:
        """Stop serving (the thread is ours; no process to kill)."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> TokenServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def record(self, request: TokenRequest) -> None:
        """Remember a token request."""
        with self._lock:
            self.requests.append(request)

    def authenticate(self, authorization: str | None) -> tuple[bool, str | None]:
        """(ok, username) for a Basic header; (True, None) when there is none."""
        if not authorization:
            return True, None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False, None
        try:
            username, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False, None
        user = self.users.get(username)
        if user is None or not hmac.compare_digest(user.password.encode(), password.encode()):
            return False, username
        return True, username

    def user_for_refresh_token(self, token: str) -> str | None:
        """The user owning an OAuth2 refresh (identity) token."""
        for name, user in self.users.items():
            if user.refresh_token and hmac.compare_digest(user.refresh_token, token):
                return name
        return None

    def grant(self, username: str | None, scopes: list[str]) -> list[dict[str, Any]]:
        """The ``access`` claim: requested actions the user may have, per repository."""
        allowed = self.users[username].actions if username else self.anonymous_actions
        access: list[dict[str, Any]] = []
        for scope in scopes:
            for single in scope.split(" "):
                parts = single.split(":")
                if len(parts) < 3 or parts[0] != "repository":
                    continue
                name, actions = ":".join(parts[1:-1]), parts[-1].split(",")
                granted = [a for a in actions if a in allowed or "*" in allowed]
                access.append({"type": "repository", "name": name, "actions": granted})
        return access

    def issue(self, username: str | None, access: list[dict[str, Any]]) -> str:
        """A signed JWT for ``access``."""
        now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
        claims = {
            "iss": self.issuer, "sub": username or "", "aud": self.service,
            "exp": now + TOKEN_LIFETIME_SECONDS, "nbf": now - 10, "iat": now,
            "jti": secrets.token_hex(8), "access": access,
        }
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.key_id})


class _TokenHandler(BaseHTTPRequestHandler):
    server_state: TokenServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _issue(self, username: str | None, scopes: list[str], method: str) -> None:
        state = self.server_state
        access = state.grant(username, scopes)
        state.record(TokenRequest(username, tuple(scopes), method,
                                  tuple(f"{a['name']}:{','.join(a['actions'])}" for a in access)))
        token = state.issue(username, access)
        self._answer(200, {"token": token, "access_token": token,
                           "expires_in": TOKEN_LIFETIME_SECONDS})

    def do_GET(self) -> None:
        """Docker token flow: basic credentials (or none) and ``scope`` parameters."""
        parts = urlsplit(self.path)
        if parts.path != "/token":
            self._answer(404, {"error": "not found"})
            return
        query = parse_qs(parts.query)
        state = self.server_state
        if query.get("service", [state.service])[0] != state.service:
            self._answer(400, {"error": "unknown service"})
            return
        ok, username = state.authenticate(self.headers.get("Authorization"))
        if not ok:
            state.record(TokenRequest(username, tuple(query.get("scope", [])), "GET", ()))
            self._answer(401, {"errors": [{"code": "UNAUTHORIZED",
                                           "message": "invalid username or password"}]})
            return
        self._issue(username, query.get("scope", []), "GET")

    def do_POST(self) -> None:
        """OAuth2 refresh-token exchange (Docker identity tokens)."""
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(min(length, 65536)).decode()))
        state = self.server_state
        username = state.user_for_refresh_token(form.get("refresh_token", ""))
        if form.get("grant_type") != "refresh_token" or username is None:
            self._answer(401, {"error": "invalid_grant"})
            return
        self._issue(username, [s for s in form.get("scope", "").split(" ") if s], "POST")
