"""Checking a detached SCT that Fulcio returns beside a certificate (RFC 6962 §3.2).

Fulcio answers with ``signedCertificateDetachedSct`` when it cannot embed the SCT;
the SCT is then a JSON ``AddChainResponse`` (``sct_version``, ``id``, ``timestamp``,
``extensions``, ``signature``) over the final certificate as an ``x509_entry``.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from signer.errors import SigningError
from signer.trust import TrustedRoot
from signer.verify.sct import verify_sct_signature

_SHA256 = 4
_X509_ENTRY = 0


def _signed_data(version: int, timestamp_ms: int, leaf: x509.Certificate,
                 extensions: bytes) -> bytes:
    der = leaf.public_bytes(serialization.Encoding.DER)
    return (bytes([version, 0]) + timestamp_ms.to_bytes(8, "big")
            + _X509_ENTRY.to_bytes(2, "big") + len(der).to_bytes(3, "big") + der
            + len(extensions).to_bytes(2, "big") + extensions)


def verify_detached_sct(sct_json: bytes, leaf: x509.Certificate, trust: TrustedRoot) -> datetime:
    """Verify a detached SCT for ``leaf`` with a CT log of ``trust``; return its time."""
    try:
        document = json.loads(sct_json)
        version = int(document["sct_version"])
        log_id = base64.b64decode(document["id"], validate=True)
        timestamp_ms = int(document["timestamp"])
        extensions = base64.b64decode(document.get("extensions") or "", validate=True)
        signed = base64.b64decode(document["signature"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
        raise SigningError("Fulcio returned a malformed detached SCT") from None
    if version != 0 or len(signed) < 4:
        raise SigningError("Fulcio returned a detached SCT of an unknown version or shape")
    hash_algorithm, length = signed[0], int.from_bytes(signed[2:4], "big")
    signature = signed[4:]
    if hash_algorithm != _SHA256 or len(signature) != length:
        raise SigningError("the detached SCT is not a SHA-256 signature of the stated length")
    if timestamp_ms > 253402300799000:  # beyond 9999-12-31 no datetime holds it
        raise SigningError("the detached SCT has an out-of-range timestamp")
    when = datetime.fromtimestamp(timestamp_ms / 1000, tz=timezone.utc)
    logs = trust.ctlogs_for(log_id, when)
    if not logs:
        raise SigningError(f"the detached SCT is from CT log {log_id.hex()[:16]}…, which the "
                           "trusted root does not list (at that time)")
    data = _signed_data(version, timestamp_ms, leaf, extensions)
    if any(verify_sct_signature(log.key, signature, data) for log in logs):
        return when
    raise SigningError("the detached SCT does not verify with the CT log's key")
