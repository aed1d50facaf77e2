"""X.509 certificate parsing (layer L1), strict in one place.

cryptography parses certificate extensions lazily and raises exceptions that are not
``ValueError`` for some malformed input (``InvalidVersion`` for a version field outside
1-3, ``DuplicateExtension`` for a repeated extension). Every caller that turns untrusted
bytes into a certificate uses these functions, so a malformed certificate is refused
where it is loaded, with one exception type, instead of failing later in a chain or
identity check.
"""

from __future__ import annotations

from cryptography import x509


class MalformedCertificateError(ValueError):
    """The bytes are not a certificate this program can use."""


_PARSE_ERRORS = (ValueError, x509.InvalidVersion, x509.DuplicateExtension)


def _checked(cert: x509.Certificate) -> x509.Certificate:
    _ = cert.extensions  # parsed lazily: a malformed extension must fail here
    return cert


def parse_der_certificate(data: bytes) -> x509.Certificate:
    """Parse one DER certificate, extensions included; ``MalformedCertificateError`` if not."""
    try:
        return _checked(x509.load_der_x509_certificate(data))
    except _PARSE_ERRORS as err:
        raise MalformedCertificateError(str(err)) from None


def parse_pem_certificate(data: bytes) -> x509.Certificate:
    """Parse the first PEM certificate in ``data``; ``MalformedCertificateError`` if none."""
    try:
        return _checked(x509.load_pem_x509_certificate(data))
    except _PARSE_ERRORS as err:
        raise MalformedCertificateError(str(err)) from None


def parse_pem_certificates(data: bytes) -> list[x509.Certificate]:
    """Parse every PEM certificate in ``data`` (at least one, else the error)."""
    try:
        return [_checked(cert) for cert in x509.load_pem_x509_certificates(data)]
    except _PARSE_ERRORS as err:
        raise MalformedCertificateError(str(err)) from None
