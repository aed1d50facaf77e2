"""X.509 certificate parsing (layer L1), strict in one place.

cryptography parses certificate extensions lazily and raises exceptions that are not
``ValueError`` for some malformed input (``InvalidVersion`` for a version field outside
1-3, ``DuplicateExtension`` for a repeated extension). Every caller that turns untrusted
bytes into a certificate uses these functions, so a malformed certificate is refused
where it is loaded, with one exception type, instead of failing later in a chain or
identity check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, cast

from cryptography import x509

if TYPE_CHECKING:
    from signer.keys import PublicKey


class MalformedCertificateError(ValueError):
    """The bytes are not a certificate this program can use."""


_PARSE_ERRORS = (ValueError, x509.InvalidVersion, x509.DuplicateExtension)

#: Parsed (and checked) certificates by the exact bytes they came from. Signatures of
#: one signing run share a leaf, and every Fulcio chain annotation is the same few
#: certificates, so verifying many images parses each distinct certificate once.
#: Certificate objects are immutable; only successful parses are kept; bounded.
_CACHE_MAX = 1024
_cache: dict[tuple[str, bytes], object] = {}
_T = TypeVar("_T")


def _cached(kind: str, data: bytes, parse: Callable[[bytes], _T]) -> _T:
    key = (kind, bytes(data))
    found = _cache.get(key)
    if found is not None:
        return cast(_T, found)  # stored by this function under the same kind
    try:
        value = parse(key[1])
    except _PARSE_ERRORS as err:
        raise MalformedCertificateError(str(err)) from None
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[key] = value
    return value


def _checked(cert: x509.Certificate) -> x509.Certificate:
    _ = cert.extensions  # parsed lazily: a malformed extension must fail here
    return cert


def parse_der_certificate(data: bytes) -> x509.Certificate:
    """Parse one DER certificate, extensions included; ``MalformedCertificateError`` if not."""
    return _cached("der", data, lambda raw: _checked(x509.load_der_x509_certificate(raw)))


def parse_pem_certificate(data: bytes) -> x509.Certificate:
    """Parse the first PEM certificate in ``data``; ``MalformedCertificateError`` if none."""
    return _cached("pem", data, lambda raw: _checked(x509.load_pem_x509_certificate(raw)))


def parse_pem_certificates(data: bytes) -> list[x509.Certificate]:
    """Parse every PEM certificate in ``data`` (at least one, else the error)."""
    certs = _cached("pems", data, lambda raw: tuple(
        _checked(cert) for cert in x509.load_pem_x509_certificates(raw)))
    return list(certs)  # a fresh list: callers may change it


def is_self_signed(cert: x509.Certificate) -> bool:
    """True if ``cert`` names itself as issuer and its own key verifies its signature
    (a root certificate)."""
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # any failure (bad signature, unsupported algorithm): not self-signed
        return False
    return True


def load_verification_key(data: bytes, what: str) -> PublicKey:
    """The key to verify signatures with, from a PEM public key or a PEM certificate
    (its public key), as ``cosign verify --key`` accepts; :class:`InputError` else."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    from signer.errors import InputError
    from signer.keys import load_public_key_pem

    if b"-----BEGIN CERTIFICATE-----" not in data:
        return load_public_key_pem(data, what)
    try:
        spki = parse_pem_certificate(data).public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    except (MalformedCertificateError, UnsupportedAlgorithm):
        raise InputError(f"{what} is not a valid PEM certificate") from None
    return load_public_key_pem(spki, f"the certificate in {what}")
