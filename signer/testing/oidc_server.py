"""A local OIDC issuer minting GitHub-Actions-style ID tokens, and GitHub's token endpoint.

Served paths (issuer = the server's base URL):

- ``GET /.well-known/openid-configuration`` and ``GET /.well-known/jwks``: discovery
  and the RS256 key set, as GitHub's issuer serves them;
- ``GET|POST /<run>/idtoken/<plan>/<job>?api-version=2.0&audience=AUD``: behaves like
  ``ACTIONS_ID_TOKEN_REQUEST_URL``: requires ``Authorization: Bearer <request token>``
  (401 without credentials, 403 with a wrong token), answers ``{"value": "<jwt>"}``;
- ``/email/...``: a second issuer (same key) whose tokens carry an ``email`` identity.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from signer.testing.httpbase import Request, Response, Service, json_response
from signer.testing.keystore import key_id

SIGSTORE_AUDIENCE = "sigstore"
TOKEN_LIFETIME = 300
EMAIL_ISSUER_PATH = "/email"

GITHUB_CLAIMS_SUPPORTED = [
    "sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository",
    "repository_id", "repository_owner", "repository_owner_id", "enterprise",
    "enterprise_id", "run_id", "run_number", "run_attempt", "actor", "actor_id",
    "workflow", "workflow_ref", "workflow_sha", "head_ref", "base_ref", "event_name",
    "ref_type", "ref_protected", "environment", "environment_node_id",
    "job_workflow_ref", "job_workflow_sha", "repository_visibility",
    "runner_environment", "check_run_id",
]  # fmt: skip


def default_github_claims(issuer: str, audience: str, now: int) -> dict[str, Any]:
    """Claims of a GitHub Actions token for a push to ``main`` of a public repository."""
    repository = "octo-org/octo-repo"
    workflow_ref = f"{repository}/.github/workflows/release.yml@refs/heads/main"
    sha = "5c0a9c1e8e3f6f2ad3c5c27d0b3f7e0a6f7a8b9c"
    return {
        "jti": str(uuid.uuid4()),
        "sub": f"repo:{repository}:ref:refs/heads/main",
        "aud": audience,
        "ref": "refs/heads/main",
        "sha": sha,
        "repository": repository,
        "repository_owner": "octo-org",
        "repository_owner_id": "123456",
        "run_id": "9876543210",
        "run_number": "42",
        "run_attempt": "1",
        "repository_visibility": "public",
        "repository_id": "654321",
        "actor_id": "111111",
        "actor": "octocat",
        "workflow": "Release",
        "head_ref": "",
        "base_ref": "",
        "event_name": "push",
        "ref_protected": "false",
        "ref_type": "branch",
        "workflow_ref": workflow_ref,
        "workflow_sha": sha,
        "job_workflow_ref": workflow_ref,
        "job_workflow_sha": sha,
        "runner_environment": "github-hosted",
        "check_run_id": "22222222",
        "iss": issuer,
        "nbf": now - TOKEN_LIFETIME,
        "exp": now + TOKEN_LIFETIME,
        "iat": now,
    }


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class OidcIssuer:
    """Mints RS256 tokens for the GitHub-style issuer and the e-mail issuer."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key
        self.kid = key_id(key.public_key()).hex()[:40]
        self.base_url = ""

    @property
    def github_issuer(self) -> str:
        """The GitHub-style issuer URL (the server's base URL)."""
        return self.base_url

    @property
    def email_issuer(self) -> str:
        """The e-mail-identity issuer URL."""
        return self.base_url + EMAIL_ISSUER_PATH

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set publishing the signing key."""
        numbers = self._key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "alg": "RS256",
                    "use": "sig",
                    "kid": self.kid,
                    "n": _b64url_uint(numbers.n),
                    "e": _b64url_uint(numbers.e),
                }
            ]
        }

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        """Sign arbitrary claims with the issuer key (RS256, ``kid`` header)."""
        header = {"kid": self.kid, "typ": "JWT"}
        header.update(headers or {})
        return jwt.encode(claims, self._key, algorithm="RS256", headers=header)

    def issue_token(self, audience: str = SIGSTORE_AUDIENCE, **overrides: Any) -> str:
        """A GitHub Actions token; ``overrides`` replace claims (``None`` removes one)."""
        claims = default_github_claims(self.github_issuer, audience, int(time.time()))
        return self.sign(_apply(claims, overrides))

    def issue_email_token(
        self,
        email: str = "signer@example.com",
        audience: str = SIGSTORE_AUDIENCE,
        **overrides: Any,
    ) -> str:
        """A token from the e-mail issuer (``email``, ``email_verified``)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.email_issuer,
            "sub": "user-" + email.split("@")[0],
            "aud": audience,
            "email": email,
            "email_verified": True,
            "iat": now,
            "nbf": now - TOKEN_LIFETIME,
            "exp": now + TOKEN_LIFETIME,
        }
        return self.sign(_apply(claims, overrides))


def _apply(claims: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    result = dict(claims)
    for name, value in overrides.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


class OidcServer(Service):
    """HTTP front end of :class:`OidcIssuer` plus the GitHub token request endpoint."""

    name = "oidc"

    def __init__(self, issuer: OidcIssuer, port: int = 0) -> None:
        super().__init__(port)
        self.issuer = issuer
        self.request_token = secrets.token_urlsafe(32)
        self.token_path = f"/{secrets.randbelow(10**6)}/idtoken/{uuid.uuid4()}/{uuid.uuid4()}"
        self.claim_overrides: dict[str, Any] = {}
        self._overrides_lock = threading.Lock()

    def bind(self) -> None:
        """Bind, then fix the issuer URL to the bound address."""
        super().bind()
        self.issuer.base_url = self.url

    @property
    def token_request_url(self) -> str:
        """The ``ACTIONS_ID_TOKEN_REQUEST_URL`` equivalent (already has a query)."""
        return f"{self.url}{self.token_path}?api-version=2.0"

    def set_claim_overrides(self, **overrides: Any) -> None:
        """Claims that tokens from the request endpoint get (``None`` removes one)."""
        with self._overrides_lock:
            self.claim_overrides = dict(overrides)

    def handle(self, request: Request) -> Response:
        """Route discovery, JWKS and token requests."""
        path = request.path
        if request.method == "GET" and path in (
            "/.well-known/openid-configuration",
            EMAIL_ISSUER_PATH + "/.well-known/openid-configuration",
        ):
            issuer = self.issuer.email_issuer if path.startswith(EMAIL_ISSUER_PATH) else self.url
            return json_response(200, self._discovery(issuer))
        if request.method == "GET" and path in (
            "/.well-known/jwks",
            EMAIL_ISSUER_PATH + "/.well-known/jwks",
        ):
            return json_response(200, self.issuer.jwks())
        if path == self.token_path and request.method in ("GET", "POST"):
            return self._token_request(request)
        return json_response(404, {"message": "Not Found"})

    def _discovery(self, issuer: str) -> dict[str, Any]:
        return {
            "issuer": issuer,
            "jwks_uri": f"{issuer}/.well-known/jwks",
            "subject_types_supported": ["public", "pairwise"],
            "response_types_supported": ["id_token"],
            "claims_supported": GITHUB_CLAIMS_SUPPORTED,
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid"],
        }

    def _token_request(self, request: Request) -> Response:
        authorization = request.header("authorization") or ""
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            return json_response(401, {"message": "Unauthorized: bearer token required"})
        if not secrets.compare_digest(credential.strip(), self.request_token):
            return json_response(403, {"message": "Forbidden: invalid request token"})
        audience = request.query_value("audience")
        with self._overrides_lock:
            overrides = dict(self.claim_overrides)
        if audience is None:
            owner = str(overrides.get("repository_owner") or "octo-org")
            audience = f"https://github.com/{owner}"
        token = self.issuer.issue_token(audience=audience, **overrides)
        return json_response(200, {"value": token})
