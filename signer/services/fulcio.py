"""Fulcio v2 client: ``POST /api/v2/signingCert`` with a CSR (layer L3).

Returns the leaf certificate and the chain Fulcio sent, unverified: the signing
flow checks the chain and the SCT against the trusted root before using them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signer.certificates import MalformedCertificateError, parse_pem_certificate
from signer.errors import InputError, SigningError
from signer.oidc import IdentityToken
from signer.services import (
    PUBLIC_GOOD_FULCIO_URL,
    TransientServiceError,
    send_request,
    with_retries,
)

MAX_RESPONSE_BYTES = 1024 * 1024
SIGNING_CERT_PATH = "/api/v2/signingCert"


@dataclass(frozen=True)
class SigningCertificate:
    """What Fulcio issued: the leaf, the rest of the chain (root last), and a detached SCT."""

    leaf: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    detached_sct: bytes | None = None

    @property
    def leaf_pem(self) -> bytes:
        """The leaf as PEM (64-character lines, trailing newline), as cosign writes it."""
        return self.leaf.public_bytes(serialization.Encoding.PEM)

    @property
    def chain_pem(self) -> bytes:
        """Intermediates then root, concatenated PEM (cosign's chain annotation)."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)


def build_csr(key: ec.EllipticCurvePrivateKey) -> bytes:
    """A PEM PKCS#10 CSR with an empty subject, as sigstore clients send it."""
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([]))
           .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM)


def _certificates(pems: Any) -> list[x509.Certificate]:
    if not isinstance(pems, list) or not all(isinstance(p, str) for p in pems):
        raise SigningError("Fulcio returned a malformed certificate chain")
    try:
        return [parse_pem_certificate(p.encode()) for p in pems]
    except MalformedCertificateError:
        raise SigningError("Fulcio returned a certificate that does not parse") from None


def parse_signing_certificate(body: bytes) -> SigningCertificate:
    """Parse a v2 ``SigningCertificate`` (embedded or detached SCT form)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise SigningError("Fulcio returned a response that is not JSON") from None
    if not isinstance(document, dict):
        raise SigningError("Fulcio returned a response that is not a JSON object")
    detached_sct = None
    if "signedCertificateEmbeddedSct" in document:
        section = document["signedCertificateEmbeddedSct"]
    elif "signedCertificateDetachedSct" in document:
        section = document["signedCertificateDetachedSct"]
        sct = section.get("signedCertificateTimestamp") if isinstance(section, dict) else None
        if isinstance(sct, str):
            try:
                detached_sct = base64.b64decode(sct, validate=True)
            except ValueError:
                raise SigningError("Fulcio returned a detached SCT that is not base64") from None
    else:
        raise SigningError("Fulcio returned no certificate chain")
    try:
        pems = section["chain"]["certificates"]
    except (KeyError, TypeError):
        raise SigningError("Fulcio returned a response without chain.certificates") from None
    certificates = _certificates(pems)
    if len(certificates) < 2:
        raise SigningError("Fulcio returned a chain without an issuer",
                           hint="expected the leaf, intermediate(s) and root")
    return SigningCertificate(certificates[0], tuple(certificates[1:]), detached_sct)


class FulcioClient:
    """A Fulcio v2 client; ``session`` is a :func:`signer.http.new_session` session."""

    def __init__(self, url: str = PUBLIC_GOOD_FULCIO_URL, *, ca_bundle: str | None = None,
                 attempts: int = 3, backoff: float = 0.5,
                 timeout: tuple[float, float] = (5.0, 30.0)) -> None:
        from signer.http import new_session

        self.url = url.rstrip("/")
        self.attempts = attempts
        self.backoff = backoff
        # POSTs are retried by us (below), not by the adapter.
        self._session = new_session(retries=0, timeout=timeout, ca_bundle=ca_bundle)

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def request_certificate(self, key: ec.EllipticCurvePrivateKey,
                            token: IdentityToken) -> SigningCertificate:
        """Ask Fulcio for a certificate binding ``key`` to ``token``'s identity.

        Connection errors, 429 and 5xx are retried (a certificate request has no
        lasting effect besides a CT log entry); a 4xx is a clear error at once.
        """
        from signer.http import display_host
        from signer.reference import is_loopback_host

        host = display_host(self.url)
        if not self.url.startswith("https://") and not is_loopback_host(host):
            raise InputError(f"refusing to send the identity token to Fulcio at {host} over "
                             "plain HTTP", hint="give an https:// --fulcio-url (plain HTTP is "
                             "for a Fulcio on this machine only)")
        body = json.dumps({
            "credentials": {"oidcIdentityToken": token.raw},
            "certificateSigningRequest": base64.b64encode(build_csr(key)).decode(),
        }).encode()
        return with_retries(lambda: self._post(body, token), attempts=self.attempts,
                            backoff=self.backoff)

    def _post(self, body: bytes, token: IdentityToken) -> SigningCertificate:
        from signer.http import display_host

        url = self.url + SIGNING_CERT_PATH
        # Never follow a redirect: the body holds the identity token too, and a 307/308
        # would carry it, unchanged, to whatever host the Location names.
        response, text = send_request(
            self._session, "POST", url, service="Fulcio", limit=MAX_RESPONSE_BYTES, data=body,
            allow_redirects=False,
            headers={"Content-Type": "application/json", "Accept": "application/json",
                     "Authorization": f"Bearer {token.raw}"})
        status = response.status_code
        if status == 200 or status == 201:
            return parse_signing_certificate(text)
        if 300 <= status < 400:
            location = response.headers.get("Location") or ""
            raise SigningError(
                f"Fulcio answered HTTP {status}, a redirect"
                f"{' to ' + display_host(location) if display_host(location) else ''}; "
                "the identity token is not sent on",
                hint="give Fulcio's final address as --fulcio-url")
        message = _error_message(text, [token.raw])
        error = SigningError(f"Fulcio refused the certificate request (HTTP {status})"
                             f"{': ' + message if message else ''}", hint=_hint_for(status))
        if status == 429 or status >= 500:
            raise TransientServiceError(error)
        raise error


def _error_message(body: bytes, secrets: Sequence[str]) -> str:
    """Fulcio's error message, the identity token redacted before it is shortened."""
    from signer.http import redact

    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):
        return ""
    if not isinstance(message, str):
        return ""
    return redact(" ".join(message.split()), secrets)[:200]


def _hint_for(status: int) -> str | None:
    if status in (400, 401, 403):
        return "the identity token was refused: check its issuer, audience and expiry"
    if status >= 500:
        return "Fulcio is failing; try again later"
    return None
