"""Registry authentication: challenges, basic auth and the bearer-token flow (layer L3).

A registry answers ``GET /v2/`` with 200 (anonymous) or 401 and a
``WWW-Authenticate`` challenge: ``Basic realm=...`` or ``Bearer realm=...,service=...``.
For Bearer, a token scoped to ``repository:<name>:pull`` (or ``pull,push``) is fetched
from the realm -- with the user's basic credentials when there are any, or as an
OAuth2 refresh-token exchange for identity tokens -- and cached per scope until
shortly before it expires. Tokens and passwords never appear in errors or reprs.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple
from urllib.parse import urlsplit

import requests

from signer.errors import AuthenticationError, RegistryError
from signer.http import read_bounded
from signer.reference import is_loopback_host
from signer.registry.credentials import Credentials
from signer.registry.failures import exception_error, response_error

#: Longest token-server answer we read.
MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024
#: Token lifetime assumed when the server does not say (the spec's default).
DEFAULT_TOKEN_LIFETIME = 60
#: Refresh a cached token this many seconds before it expires.
TOKEN_EXPIRY_MARGIN = 10
OAUTH_CLIENT_ID = "signer"

_PARAM_RE = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


class Challenge(NamedTuple):
    """A parsed ``WWW-Authenticate`` challenge: the scheme (lower-case) and its params."""

    scheme: str
    params: Mapping[str, str] = MappingProxyType({})

    @property
    def realm(self) -> str | None:
        """The token endpoint (Bearer) or realm name (Basic)."""
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        """The ``service`` parameter of a Bearer challenge."""
        return self.params.get("service")


def parse_challenge(header: str | None) -> Challenge | None:
    """Parse the first challenge of a ``WWW-Authenticate`` header (None if absent)."""
    if not header or not header.strip():
        return None
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _PARAM_RE.match(rest, position)
        if not match or match.end() == position:
            break
        quoted, bare = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else (bare or "")
        params[match.group(1).lower()] = value
        position = match.end()
    return Challenge(scheme.lower(), params)


def repository_scope(repository: str, actions: str) -> str:
    """A token scope such as ``repository:library/alpine:pull,push``."""
    return f"repository:{repository}:{actions}"


class _CachedToken(NamedTuple):
    value: str
    expires_at: float

    def __repr__(self) -> str:
        return f"_CachedToken(value=***, expires_at={self.expires_at})"


#: (registry host, realm, service, scopes, user name): a token is only ever sent back to
#: the registry it was fetched for, even if another registry names the same realm.
TokenKey = tuple[str, str, str, tuple[str, ...], str]


class TokenCache:
    """Bearer tokens keyed by :data:`TokenKey`; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[TokenKey, _CachedToken] = {}

    def __repr__(self) -> str:
        return f"TokenCache({len(self._tokens)} tokens)"

    @staticmethod
    def _covering(scopes: tuple[str, ...]) -> tuple[str, ...]:
        # A pull,push token also serves pull-only requests for the same repository.
        return tuple(s[: -len(":pull")] + ":pull,push" if s.endswith(":pull") else s
                     for s in scopes)

    def get(self, key: TokenKey) -> str | None:
        """A still-valid token for ``key`` (or for a wider push scope), else None."""
        now = time.monotonic()
        host, realm, service, scopes, who = key
        with self._lock:
            for candidate in (scopes, self._covering(scopes)):
                token = self._tokens.get((host, realm, service, candidate, who))
                if token and token.expires_at - TOKEN_EXPIRY_MARGIN > now:
                    return token.value
        return None

    def put(self, key: TokenKey, value: str, lifetime: int) -> None:
        """Remember a token for ``lifetime`` seconds."""
        with self._lock:
            self._tokens[key] = _CachedToken(value, time.monotonic() + lifetime)

    def drop(self, key: TokenKey) -> None:
        """Forget the token for ``key`` (after the registry refused it)."""
        with self._lock:
            self._tokens.pop(key, None)


def rejected_credentials_error(host: str, credentials: Credentials | None,
                               repository: str | None = None) -> AuthenticationError:
    """The error for a 401: wrong credentials if we sent some, else missing ones."""
    if credentials is not None:
        return AuthenticationError(
            f"{host} rejected the credentials for user {credentials.username!r} (HTTP 401)",
            hint=f"check the username and password or token for {host} (docker login {host})",
        )
    where = f" for {repository}" if repository else ""
    return AuthenticationError(
        f"{host} requires authentication{where} (HTTP 401)",
        hint=f"log in (docker login {host}), pass credentials, or set GITHUB_TOKEN for ghcr.io",
    )


def _token_request_allowed(realm: str, registry_host: str, insecure: bool) -> bool:
    parts = urlsplit(realm)
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and (insecure or is_loopback_host(parts.netloc)
                                       or is_loopback_host(registry_host))


def fetch_token(session: requests.Session, challenge: Challenge, scopes: Sequence[str],
                credentials: Credentials | None, registry_host: str, *, insecure: bool,
                verify: bool | str) -> tuple[str, int]:
    """Get a bearer token for ``scopes`` from the challenge's realm: (token, lifetime).

    Basic credentials are sent to the realm the registry named; an identity token is
    exchanged with an OAuth2 ``refresh_token`` POST. Plain-HTTP realms are used only
    for loopback or user-named insecure registries.
    """
    realm = challenge.realm
    if not realm:
        raise RegistryError(f"{registry_host} sent a Bearer challenge without a realm",
                            hint="the registry's auth configuration is broken")
    if not _token_request_allowed(realm, registry_host, insecure):
        raise AuthenticationError(
            f"{registry_host} asks for credentials over plain HTTP ({urlsplit(realm).netloc})",
            hint="refusing to send credentials unencrypted; name the registry insecure "
                 "only if you trust the network")
    realm_host = urlsplit(realm).netloc
    try:
        if credentials is not None and credentials.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": credentials.identity_token,
                    "client_id": OAUTH_CLIENT_ID, "scope": " ".join(scopes)}
            if challenge.service:
                form["service"] = challenge.service
            response = session.post(realm, data=form, stream=True, verify=verify,
                                    allow_redirects=False)
        else:
            params: list[tuple[str, str]] = [("scope", s) for s in scopes]
            if challenge.service:
                params.insert(0, ("service", challenge.service))
            headers = {"Authorization": credentials.basic_header()} if credentials else {}
            response = session.get(realm, params=params, headers=headers, stream=True,
                                   verify=verify, allow_redirects=False)
    except requests.RequestException as exc:
        raise exception_error(exc, realm_host) from None
    if response.status_code == 401:
        response.close()
        raise rejected_credentials_error(registry_host, credentials)
    if response.status_code != 200:
        raise response_error(response, f"token request to {realm_host}", realm_host,
                             secrets=credentials.secrets if credentials else ())
    body = read_bounded(response, MAX_TOKEN_RESPONSE_BYTES, "token response")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise RegistryError(f"token server {realm_host} answered with something other than JSON",
                            hint="check the registry's token realm") from None
    token = document.get("token") or document.get("access_token") if isinstance(
        document, dict) else None
    if not isinstance(token, str) or not token:
        raise RegistryError(f"token server {realm_host} answered without a token",
                            hint="check the registry's token realm")
    lifetime = document.get("expires_in")
    if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime <= 0:
        lifetime = DEFAULT_TOKEN_LIFETIME
    return token, lifetime
