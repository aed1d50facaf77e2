"""A local Fulcio (v2 REST, grpc-gateway style).

``POST /api/v2/signingCert`` takes a CSR or ``publicKeyRequest`` + proof of possession,
the token in ``credentials.oidcIdentityToken`` or ``Authorization: Bearer``. The token
is verified like Fulcio does: issuer allow-list, OIDC discovery + JWKS fetched over
HTTP, RS256 signature, ``aud`` containing the client id, ``exp``/``nbf``. Errors use
Fulcio's gRPC status codes and messages. Also ``GET /api/v2/trustBundle``,
``GET /api/v2/configuration`` and the legacy ``GET /api/v1/rootCert``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import threading
import urllib.request
from typing import Any

import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from signer.testing.ca import CertificateAuthority
from signer.testing.ctlog import CtLog, CtLogError
from signer.testing.fulcio_identity import (
    IdentityError,
    IssuerConfig,
    challenge_value,
    leaf_profile,
)
from signer.testing.httpbase import Request, Response, Service, json_response, text_response
from signer.testing.keystore import verify_with_default_hash

# Fulcio's client-facing messages (pkg/server/error.go) and gRPC codes.
INVALID_SIGNATURE = "The signature supplied in the request could not be verified"
INVALID_PUBLIC_KEY = "The public key supplied in the request could not be parsed"
INVALID_CSR = "The certificate signing request could not be parsed"
INSECURE_PUBLIC_KEY = "The public key supplied in the request is insecure"
INVALID_IDENTITY_TOKEN = "There was an error processing the identity token"  # noqa: S105
CT_ERROR = "Error entering certificate in CTL"
GRPC_INVALID_ARGUMENT = 3
GRPC_NOT_FOUND = 5
GRPC_INTERNAL = 13

_DISCOVERY_TIMEOUT = 5.0
_MAX_DISCOVERY_BYTES = 256 * 1024


class FulcioError(Exception):
    """A refusal carrying the gRPC code, HTTP status and client message."""

    def __init__(self, grpc_code: int, message: str) -> None:
        super().__init__(message)
        self.grpc_code = grpc_code
        self.message = message

    @property
    def http_status(self) -> int:
        """grpc-gateway's HTTP mapping of the code."""
        return {GRPC_INVALID_ARGUMENT: 400, GRPC_NOT_FOUND: 404}.get(self.grpc_code, 500)


def grpc_error(status: int, code: int, message: str) -> Response:
    """grpc-gateway's error body."""
    return json_response(status, {"code": code, "message": message, "details": []})


# Discovery goes straight to the issuer: never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _fetch_json(url: str) -> Any:
    if not url.startswith(("http://", "https://")):
        raise ValueError("issuer URLs must be http(s)")
    with _OPENER.open(url, timeout=_DISCOVERY_TIMEOUT) as resp:
        return json.loads(resp.read(_MAX_DISCOVERY_BYTES))


class KeySetCache:
    """JWKS per issuer, found through OIDC discovery and refreshed on an unknown ``kid``."""

    def __init__(self) -> None:
        self._keys: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def key_for(self, issuer: str, kid: str | None) -> Any:
        """The verification key for ``kid`` of ``issuer`` (raises on any failure)."""
        with self._lock:
            cached = self._keys.get(issuer)
        if cached is None or (kid is not None and kid not in cached):
            discovery = _fetch_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
            if discovery.get("issuer") != issuer:
                raise ValueError("discovery document names another issuer")
            jwks = _fetch_json(str(discovery["jwks_uri"]))
            cached = {str(k.get("kid")): k for k in jwks.get("keys", [])}
            with self._lock:
                self._keys[issuer] = cached
        if kid is None:
            if len(cached) != 1:
                raise ValueError("token has no kid and the key set is ambiguous")
            jwk = next(iter(cached.values()))
        else:
            jwk = cached[kid]
        return jwt.PyJWK(jwk).key


class FulcioServer(Service):
    """The CA front end."""

    name = "fulcio"

    def __init__(
        self,
        ca: CertificateAuthority,
        ct_log: CtLog,
        issuers: list[IssuerConfig],
        port: int = 0,
    ) -> None:
        super().__init__(port)
        self.ca = ca
        self.ct_log = ct_log
        self.issuers = list(issuers)
        self.key_sets = KeySetCache()
        self.issued: list[x509.Certificate] = []
        self.clock_skew_seconds = 0  # shifts the validity of new leaves (tests)

    def handle(self, request: Request) -> Response:
        """Route the v2 (and legacy root) endpoints."""
        path = request.path
        if path == "/api/v2/signingCert" and request.method == "POST":
            try:
                chain = self.create_signing_certificate(request)
            except FulcioError as exc:
                return grpc_error(exc.http_status, exc.grpc_code, exc.message)
            return json_response(
                200, {"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}}
            )
        if path == "/api/v2/trustBundle" and request.method == "GET":
            return json_response(200, {"chains": [{"certificates": self.ca.chain_pem()}]})
        if path == "/api/v2/configuration" and request.method == "GET":
            return json_response(200, {"issuers": [i.to_configuration() for i in self.issuers]})
        if path == "/api/v1/rootCert" and request.method == "GET":
            return text_response(
                200, "".join(self.ca.chain_pem()), "application/pem-certificate-chain"
            )
        return grpc_error(404, GRPC_NOT_FOUND, "Not Found")

    # -- signingCert ------------------------------------------------------------------
    def create_signing_certificate(self, request: Request) -> list[str]:
        """Authenticate, check possession of the key, issue; returns the PEM chain."""
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError) as exc:
            raise FulcioError(GRPC_INVALID_ARGUMENT, f"invalid request body: {exc}") from exc
        if not isinstance(body, dict):
            raise FulcioError(GRPC_INVALID_ARGUMENT, "invalid request body")
        token = _token_from(body, request)
        config, claims = self.authenticate(token)
        try:
            profile = leaf_profile(config, claims)
            principal = challenge_value(config, claims)
        except IdentityError as exc:
            raise FulcioError(GRPC_INVALID_ARGUMENT, INVALID_IDENTITY_TOKEN) from exc
        csr_b64 = _field(body, "certificateSigningRequest", "certificate_signing_request")
        public_key = _check_csr(csr_b64) if csr_b64 else _check_proof_of_possession(body, principal)
        try:
            now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
                seconds=self.clock_skew_seconds
            )
            leaf = self.ca.issue(public_key, profile, self.ct_log, now=now)
        except CtLogError as exc:
            raise FulcioError(GRPC_INTERNAL, CT_ERROR) from exc
        self.issued.append(leaf)
        return [leaf.public_bytes(serialization.Encoding.PEM).decode("ascii"), *self.ca.chain_pem()]

    def authenticate(self, token: str) -> tuple[IssuerConfig, dict[str, Any]]:
        """Verify ``token`` against the allow-listed issuer's keys; returns its claims."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            header = jwt.get_unverified_header(token)
            issuer = unverified.get("iss")
            config = next((i for i in self.issuers if i.url == issuer), None)
            if config is None:
                raise ValueError("unknown issuer")
            if header.get("alg") != "RS256":
                raise ValueError("unexpected algorithm")
            key = self.key_sets.key_for(config.url, header.get("kid"))
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=config.client_id,
                issuer=config.url,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except (jwt.PyJWTError, ValueError, KeyError, OSError) as exc:
            raise FulcioError(GRPC_INVALID_ARGUMENT, INVALID_IDENTITY_TOKEN) from exc
        return config, claims


def _field(body: dict[str, Any], camel: str, snake: str) -> Any:
    value = body.get(camel)
    return body.get(snake) if value is None else value


def _token_from(body: dict[str, Any], request: Request) -> str:
    credentials = body.get("credentials") or {}
    token = ""
    if isinstance(credentials, dict):
        token = str(_field(credentials, "oidcIdentityToken", "oidc_identity_token") or "")
    if not token:
        header = request.header("authorization") or ""
        token = header.removeprefix("Bearer ")
    return token


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not a base64 string")
    return base64.b64decode(value, validate=True)


def _validate_key(key: Any) -> CertificatePublicKeyTypes:
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            raise FulcioError(GRPC_INVALID_ARGUMENT, INSECURE_PUBLIC_KEY)
        return key
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        if key.key_size not in (2048, 3072, 4096) or numbers.e != 65537:
            raise FulcioError(GRPC_INVALID_ARGUMENT, INSECURE_PUBLIC_KEY)
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise FulcioError(GRPC_INVALID_ARGUMENT, INSECURE_PUBLIC_KEY)


def _check_csr(csr_b64: Any) -> CertificatePublicKeyTypes:
    try:
        raw = _b64(csr_b64)
        csr = (
            x509.load_pem_x509_csr(raw)
            if raw.lstrip().startswith(b"-----")
            else x509.load_der_x509_csr(raw)
        )
        key = csr.public_key()
    except (ValueError, binascii.Error, UnsupportedAlgorithm) as exc:
        raise FulcioError(GRPC_INVALID_ARGUMENT, INVALID_CSR) from exc
    checked = _validate_key(key)
    if not csr.is_signature_valid:
        raise FulcioError(GRPC_INVALID_ARGUMENT, INVALID_SIGNATURE)
    return checked


def _check_proof_of_possession(body: dict[str, Any], principal: str) -> CertificatePublicKeyTypes:
    request = _field(body, "publicKeyRequest", "public_key_request") or {}
    if not isinstance(request, dict):
        request = {}
    key_field = _field(request, "publicKey", "public_key") or {}
    content = key_field.get("content", "") if isinstance(key_field, dict) else ""
    try:
        text = str(content).encode("utf-8")
        key: Any = (
            serialization.load_pem_public_key(text)
            if text.lstrip().startswith(b"-----")
            else serialization.load_der_public_key(text)
        )
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise FulcioError(GRPC_INVALID_ARGUMENT, INVALID_PUBLIC_KEY) from exc
    checked = _validate_key(key)
    try:
        proof = _b64(_field(request, "proofOfPossession", "proof_of_possession") or "")
        verify_with_default_hash(checked, proof, principal.encode("utf-8"))
    except (InvalidSignature, ValueError, binascii.Error) as exc:
        raise FulcioError(GRPC_INVALID_ARGUMENT, INVALID_SIGNATURE) from exc
    return checked


