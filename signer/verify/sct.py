"""Embedded SCT verification, RFC 6962 §3.2 (layer L2).

The SCT in a Fulcio leaf signs the precertificate: the leaf's TBSCertificate without
the SCT-list extension, bound to the issuer's key hash. The CT log key is chosen by
the SCT's log ID among the trusted root's ``ctlogs`` whose ``validFor`` contains the
SCT time (docs/sigstore-protocols.md §2.4).
"""

from __future__ import annotations

import hashlib
import struct
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.certificate_transparency import SignedCertificateTimestamp

from signer.errors import VerificationError
from signer.trust import TrustedRoot
from signer.verify.certs import OID_CT_PRECERT_SIGNING

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _embedded_scts(leaf: x509.Certificate) -> list[SignedCertificateTimestamp]:
    try:
        ext = leaf.extensions.get_extension_for_class(
            x509.PrecertificateSignedCertificateTimestamps)
    except x509.ExtensionNotFound:
        raise VerificationError(
            "SCT: certificate does not include required embedded SCT",
            hint="use --insecure-ignore-sct only for a private CA without a CT log") from None
    return list(ext.value)


def _timestamp_ms(when: datetime) -> int:
    aware = when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
    return (aware - _EPOCH) // timedelta(milliseconds=1)


def _signed_data(sct: SignedCertificateTimestamp,
                 issuer_key_hash: bytes, tbs: bytes) -> bytes:
    extensions = sct.extension_bytes
    return b"".join([
        struct.pack(">BBQH", sct.version.value, 0, _timestamp_ms(sct.timestamp), 1),
        issuer_key_hash,
        len(tbs).to_bytes(3, "big"),
        tbs,
        struct.pack(">H", len(extensions)),
        extensions,
    ])


def verify_sct_signature(key: object, signature: bytes, data: bytes) -> bool:
    """True if an SCT's SHA-256 signature (ECDSA or RSA PKCS#1 v1.5) over ``data``
    verifies with the CT log's ``key``; other key types never verify."""
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except InvalidSignature:
        return False
    return True


def issuer_for_sct(path: list[x509.Certificate]) -> x509.Certificate:
    """The certificate whose key the precertificate binds: the leaf's issuer in
    ``path`` (skipping a CT precertificate-signing certificate)."""
    for cert in path[1:]:
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            if OID_CT_PRECERT_SIGNING in eku:
                continue
        except x509.ExtensionNotFound:
            pass
        return cert
    raise VerificationError("SCT: no issuer certificate to verify the SCT against")


#: SHA-256 of an issuer's SubjectPublicKeyInfo, by issuer certificate (a handful of
#: Fulcio CAs issue every leaf; certificates are immutable and compare by DER)
_ISSUER_KEY_HASHES: dict[x509.Certificate, bytes] = {}
_ISSUER_KEY_HASHES_MAX = 256


def _issuer_key_hash(issuer_cert: x509.Certificate) -> bytes:
    found = _ISSUER_KEY_HASHES.get(issuer_cert)
    if found is None:
        found = hashlib.sha256(issuer_cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        ).digest()
        if len(_ISSUER_KEY_HASHES) >= _ISSUER_KEY_HASHES_MAX:
            _ISSUER_KEY_HASHES.clear()
        _ISSUER_KEY_HASHES[issuer_cert] = found
    return found


def verify_embedded_sct(leaf: x509.Certificate, issuer_cert: x509.Certificate,
                        trust: TrustedRoot) -> datetime:
    """Verify that an embedded SCT in ``leaf`` is signed by a CT log of ``trust``.

    Returns the time of the SCT that verified. Raises :class:`VerificationError`
    naming the "SCT" check when none does.
    """
    scts = _embedded_scts(leaf)
    if not scts:
        raise VerificationError("SCT: certificate's SCT list is empty")
    issuer_key_hash = _issuer_key_hash(issuer_cert)
    try:
        tbs = leaf.tbs_precertificate_bytes
    except ValueError:
        raise VerificationError("SCT: cannot rebuild the precertificate") from None
    problems = []
    for sct in scts:
        when = sct.timestamp.replace(tzinfo=timezone.utc)
        logs = trust.ctlogs_for(sct.log_id, when)
        if not logs:
            known = trust.ctlogs_for(sct.log_id)
            problems.append(
                f"CT log {sct.log_id.hex()[:16]}… is not valid at {when:%Y-%m-%dT%H:%M:%SZ}"
                if known else f"unknown CT log {sct.log_id.hex()[:16]}…")
            continue
        if sct.entry_type != x509.certificate_transparency.LogEntryType.PRE_CERTIFICATE:
            problems.append("SCT is not for a precertificate")
            continue
        data = _signed_data(sct, issuer_key_hash, tbs)
        if any(verify_sct_signature(log.key, sct.signature, data) for log in logs):
            return when
        problems.append("signature does not verify with the CT log key")
    raise VerificationError(f"SCT: {'; '.join(problems)}",
                            hint="the certificate was not logged by a CT log of the trusted root")
