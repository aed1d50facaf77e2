"""Parsed certificates are cached by their exact bytes: the same bytes give the same
(immutable) object, different bytes never share one, failures are not remembered."""

from __future__ import annotations

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


def _certificate(name: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))


def test_same_bytes_same_object_other_bytes_other_object() -> None:
    first, second = _certificate("first"), _certificate("second")
    pem_first = first.public_bytes(serialization.Encoding.PEM)
    pem_second = second.public_bytes(serialization.Encoding.PEM)
    parsed = parse_pem_certificate(pem_first)
    assert parsed == first
    assert parse_pem_certificate(bytes(pem_first)) is parsed
    assert parse_pem_certificate(pem_second) == second
    der = first.public_bytes(serialization.Encoding.DER)
    assert parse_der_certificate(der) == first


def test_chain_lists_are_fresh_and_in_order() -> None:
    chain = [_certificate("intermediate"), _certificate("root")]
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    one = parse_pem_certificates(pem)
    assert one == chain
    one.append(chain[0])  # a caller changing its list must not change the next answer
    assert parse_pem_certificates(pem) == chain


def test_failures_are_raised_every_time() -> None:
    garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    for _ in range(2):
        with pytest.raises(MalformedCertificateError):
            parse_pem_certificate(garbage)
        with pytest.raises(MalformedCertificateError):
            parse_der_certificate(b"\x30\x03\x02\x01\x00")
