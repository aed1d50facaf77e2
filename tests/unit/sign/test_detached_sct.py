"""Detached SCTs (Fulcio's ``signedCertificateDetachedSct``), built per RFC 6962 here."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signer.errors import SigningError
from signer.signing.detached_sct import verify_detached_sct
from signer.trust import LogInstance, TrustedRoot, ValidityPeriod


def _certificate() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(minutes=10))
            .sign(key, hashes.SHA256()))


def _sct(log_key: ec.EllipticCurvePrivateKey, leaf: x509.Certificate, timestamp_ms: int,
         log_id: bytes) -> bytes:
    der = leaf.public_bytes(serialization.Encoding.DER)
    data = (b"\x00\x00" + timestamp_ms.to_bytes(8, "big") + b"\x00\x00"
            + len(der).to_bytes(3, "big") + der + b"\x00\x00")
    signature = log_key.sign(data, ec.ECDSA(hashes.SHA256()))
    signed = bytes([4, 3]) + len(signature).to_bytes(2, "big") + signature
    return json.dumps({"sct_version": 0, "id": base64.b64encode(log_id).decode(),
                       "timestamp": timestamp_ms, "extensions": "",
                       "signature": base64.b64encode(signed).decode()}).encode()


def _trust(log_key: ec.EllipticCurvePrivateKey) -> tuple[TrustedRoot, bytes]:
    der = log_key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    log_id = hashlib.sha256(der).digest()
    log = LogInstance(log_id, log_key.public_key(), "http://ct.invalid", ValidityPeriod.always())
    return TrustedRoot(tlogs=(), ctlogs=(log,), certificate_authorities=(),
                       timestamp_authorities=()), log_id


def test_valid_detached_sct_verifies_and_tampering_fails() -> None:
    log_key = ec.generate_private_key(ec.SECP256R1())
    trust, log_id = _trust(log_key)
    leaf = _certificate()
    now_ms = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)
    sct = _sct(log_key, leaf, now_ms, log_id)
    assert verify_detached_sct(sct, leaf, trust).year >= 2024
    with pytest.raises(SigningError, match="does not verify"):
        verify_detached_sct(sct, _certificate(), trust)  # another certificate
    with pytest.raises(SigningError, match="does not list"):
        verify_detached_sct(_sct(log_key, leaf, now_ms, b"\x01" * 32), leaf, trust)
    other_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(SigningError, match="does not verify"):
        verify_detached_sct(_sct(other_key, leaf, now_ms, log_id), leaf, trust)
    with pytest.raises(SigningError, match="malformed"):
        verify_detached_sct(b"{}", leaf, trust)
