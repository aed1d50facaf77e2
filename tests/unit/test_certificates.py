"""signer.certificates: every malformed certificate is one exception type, at load time."""

from __future__ import annotations

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signer.certificates import (
    MalformedCertificateError,
    parse_der_certificate,
    parse_pem_certificate,
    parse_pem_certificates,
)

SAN_OID = bytes.fromhex("0603551d11")  # 2.5.29.17
SKI_OID = bytes.fromhex("0603551d0e")  # 2.5.29.14
KEY_USAGE_OID = bytes.fromhex("0603551d0f")  # 2.5.29.15


def _certificate_der() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier("https://x.test/")]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def _to_pem(der: bytes) -> bytes:
    body = base64.encodebytes(der)
    return b"-----BEGIN CERTIFICATE-----\n" + body + b"-----END CERTIFICATE-----\n"


def _bad_version(der: bytes) -> bytes:
    data = bytearray(der)
    version = data.find(bytes.fromhex("a003020102"))  # [0] EXPLICIT INTEGER 2 (v3)
    assert version > 0
    data[version + 4] = 7
    return bytes(data)


def _malformed_san(der: bytes) -> bytes:
    data = bytearray(der)
    san = data.find(SAN_OID)
    octets = data.find(b"\x04", san + len(SAN_OID))
    data[octets + 2] ^= 0x80  # the SAN SEQUENCE tag becomes a context-specific tag
    return bytes(data)


def _duplicate_extension(der: bytes) -> bytes:
    return der.replace(SKI_OID, KEY_USAGE_OID, 1)  # two KeyUsage extensions


HOSTILE = {
    "garbage": lambda der: b"not a certificate",
    "truncated": lambda der: der[: len(der) // 2],
    "bad version": _bad_version,
    "malformed SAN": _malformed_san,
    "duplicate extension": _duplicate_extension,
}


def test_good_certificate_parses_in_every_form() -> None:
    der = _certificate_der()
    pem = _to_pem(der)
    assert parse_der_certificate(der).public_bytes(serialization.Encoding.DER) == der
    assert parse_pem_certificate(pem).serial_number == 1
    assert [c.serial_number for c in parse_pem_certificates(pem + pem)] == [1, 1]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_certificate_is_refused_at_load(name: str) -> None:
    der = HOSTILE[name](_certificate_der())
    with pytest.raises(MalformedCertificateError):
        parse_der_certificate(der)
    with pytest.raises(MalformedCertificateError):
        parse_pem_certificate(_to_pem(der))
    with pytest.raises(MalformedCertificateError):
        parse_pem_certificates(_to_pem(_certificate_der()) + _to_pem(der))


def test_the_error_is_a_value_error() -> None:
    # Callers that caught ValueError before keep working.
    assert issubclass(MalformedCertificateError, ValueError)


def test_pem_without_a_certificate_is_refused() -> None:
    with pytest.raises(MalformedCertificateError):
        parse_pem_certificates(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
