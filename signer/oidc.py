"""OIDC identity tokens for keyless signing (layer L3).

Where the token comes from, first match wins:

1. ``--identity-token VALUE`` or ``--identity-token @FILE`` (a value that is not a
   JWT but names an existing file is read as a file too, as cosign does);
2. the ``SIGSTORE_ID_TOKEN`` environment variable;
3. the GitHub Actions ambient token: ``GET $ACTIONS_ID_TOKEN_REQUEST_URL`` with
   ``audience=sigstore`` merged into the URL's own query and
   ``Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN``. Inside GitHub Actions
   (``GITHUB_ACTIONS=true``) without those variables the job lacks
   ``permissions: id-token: write`` and the error says so.

Before use the token's ``exp`` and ``aud`` are checked locally (its signature is
Fulcio's job). The raw token is never printed, logged or put in a ``repr``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from signer.errors import IdentityTokenError
from signer.localfile import read_local_file

SIGSTORE_AUDIENCE = "sigstore"
ENV_TOKEN = "SIGSTORE_ID_TOKEN"  # noqa: S105 (a variable name, not a secret)
ENV_REQUEST_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"
ENV_REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 (a name)
#: Issuers whose identity is the ``email`` claim (others use ``sub``), as Fulcio does.
EMAIL_ISSUERS = frozenset({
    "https://accounts.google.com",
    "https://oauth2.sigstore.dev/auth",
    "https://oauth2.sigstage.dev/auth",
})
MAX_TOKEN_BYTES = 64 * 1024
#: Refuse a token that expires sooner than this: Fulcio would reject it mid-flight.
MIN_REMAINING_SECONDS = 5
PERMISSIONS_HINT = (
    "grant the job an OIDC token by adding to the workflow or job:\n"
    "    permissions:\n"
    "      id-token: write"
)


@dataclass(frozen=True)
class IdentityToken:
    """A checked identity token; ``repr`` and ``str`` never show the raw JWT."""

    raw: str = field(repr=False)
    issuer: str
    subject: str
    identity: str
    audience: tuple[str, ...]
    expires_at: datetime
    source: str
    #: every claim of the token (GitHub's name the workflow run: repository, ref, sha,
    #: run_id, runner_environment, ...); unverified here, Fulcio checks the signature
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __str__(self) -> str:
        return f"identity token for {self.identity} from {self.issuer} (via {self.source})"


def parse_identity_token(raw: str, *, source: str = "token",
                         audience: str = SIGSTORE_AUDIENCE,
                         now: float | None = None) -> IdentityToken:
    """Decode ``raw`` without verifying its signature; check ``exp``, ``nbf``, ``aud``."""
    import jwt

    token = raw.strip()
    current = time.time() if now is None else now
    try:
        claims = jwt.decode(
            token,
            options={"verify_signature": False, "verify_exp": False, "verify_aud": False,
                     "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError:
        raise IdentityTokenError(f"the identity token from {source} is not a valid JWT",
                                 hint="pass the raw token (three base64url parts)") from None
    issuer, subject, expiry = claims.get("iss"), claims.get("sub"), claims.get("exp")
    if not isinstance(issuer, str) or not isinstance(subject, str) or not issuer:
        raise IdentityTokenError(f"the identity token from {source} lacks 'iss' or 'sub'")
    if not isinstance(expiry, (int, float)) or isinstance(expiry, bool) or \
            not 0 <= expiry <= 253402300799:  # beyond 9999-12-31 no datetime holds it
        raise IdentityTokenError(f"the identity token from {source} has no valid 'exp'")
    audiences = claims.get("aud")
    audience_list = ((audiences,) if isinstance(audiences, str)
                     else tuple(a for a in audiences if isinstance(a, str))
                     if isinstance(audiences, list) else ())
    if audience not in audience_list:
        shown = ", ".join(audience_list) or "missing"
        raise IdentityTokenError(
            f"the identity token from {source} has audience {shown}, not {audience!r}",
            hint=f"request the token with audience={audience}")
    expires_at = datetime.fromtimestamp(float(expiry), tz=timezone.utc)
    if float(expiry) - current < MIN_REMAINING_SECONDS:
        raise IdentityTokenError(
            f"the identity token from {source} expired at "
            f"{expires_at.isoformat(timespec='seconds')}",
            hint="get a fresh token (GitHub tokens live about 5 minutes)")
    not_before = claims.get("nbf")
    if isinstance(not_before, (int, float)) and float(not_before) > current + 60:
        raise IdentityTokenError(f"the identity token from {source} is not valid yet")
    email = claims.get("email")
    identity = email if issuer in EMAIL_ISSUERS and isinstance(email, str) else subject
    return IdentityToken(token, issuer, subject, identity, audience_list, expires_at, source,
                         MappingProxyType(dict(claims)))


def _read_token_file(path: str) -> str:
    data = read_local_file(path, "identity token file", limit=MAX_TOKEN_BYTES)
    return data.decode("utf-8", errors="replace").strip()


def _looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and " " not in value and "/" not in value


def github_token_request_url(request_url: str, audience: str = SIGSTORE_AUDIENCE) -> str:
    """``request_url`` with ``audience`` merged into its existing query string."""
    parts = urlsplit(request_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k != "audience"]
    query.append(("audience", audience))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def fetch_github_token(request_url: str, request_token: str, *,
                       audience: str = SIGSTORE_AUDIENCE,
                       timeout: tuple[float, float] = (5.0, 30.0),
                       ca_bundle: str | None = None) -> str:
    """Ask the GitHub Actions token endpoint for an OIDC token for ``audience``."""
    import requests

    from signer.http import describe_exception, display_host, new_session, read_bounded, redact

    url = github_token_request_url(request_url, audience)
    host = display_host(url)
    session = new_session(retries=3, backoff=0.5, timeout=timeout, ca_bundle=ca_bundle)
    try:
        response = session.get(url, headers={"Authorization": f"bearer {request_token}",
                                             "Accept": "application/json"}, stream=True)
        body = read_bounded(response, MAX_TOKEN_BYTES, "GitHub OIDC token response")
    except requests.RequestException as exc:
        error = describe_exception(exc, url)
        raise IdentityTokenError(f"cannot get the GitHub Actions OIDC token: {error.message}",
                                 hint=error.hint) from None
    finally:
        session.close()
    if response.status_code != 200:
        raise IdentityTokenError(
            f"the GitHub Actions token endpoint {host} answered HTTP {response.status_code}",
            hint=PERMISSIONS_HINT if response.status_code in (401, 403) else None)
    try:
        value = json.loads(body)["value"]
    except (ValueError, KeyError, TypeError, RecursionError):
        value = None
    if not isinstance(value, str) or not value:
        raise IdentityTokenError(
            redact(f"the GitHub Actions token endpoint {host} returned no token 'value'",
                   [request_token]))
    return value


def resolve_identity_token(explicit: str | None = None, *,
                           env: Mapping[str, str] | None = None,
                           audience: str = SIGSTORE_AUDIENCE,
                           ca_bundle: str | None = None) -> IdentityToken:
    """Find, fetch and check the identity token, following the module's precedence."""
    environ = os.environ if env is None else env
    if explicit:
        value, source = explicit, "--identity-token"
        if explicit.startswith("@"):
            value, source = _read_token_file(explicit[1:]), f"file {explicit[1:]}"
        elif not _looks_like_jwt(explicit) and Path(explicit).is_file():
            value, source = _read_token_file(explicit), f"file {explicit}"
        return parse_identity_token(value, source=source, audience=audience)
    if environ.get(ENV_TOKEN):
        return parse_identity_token(environ[ENV_TOKEN], source=ENV_TOKEN, audience=audience)
    request_url, request_token = environ.get(ENV_REQUEST_URL), environ.get(ENV_REQUEST_TOKEN)
    if request_url and request_token:
        raw = fetch_github_token(request_url, request_token, audience=audience,
                                 ca_bundle=ca_bundle)
        return parse_identity_token(raw, source="GitHub Actions", audience=audience)
    if environ.get("GITHUB_ACTIONS") == "true":
        raise IdentityTokenError(
            "running in GitHub Actions without an OIDC token: the job lacks the "
            "id-token: write permission", hint=PERMISSIONS_HINT)
    raise IdentityTokenError(
        "no identity token for keyless signing",
        hint=f"pass --identity-token VALUE|@FILE, set {ENV_TOKEN}, run in GitHub Actions "
             "with 'id-token: write', or sign with --key")
