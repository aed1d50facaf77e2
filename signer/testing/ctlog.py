"""A local RFC 6962 certificate-transparency log (in process): precertificate SCTs.

``add_pre_chain`` checks that the precertificate carries the critical poison extension
and is signed by the first chain certificate, then signs an SCT (v1, precert entry)
over the precertificate's TBS with the poison removed, exactly as RFC 6962 §3.2 says.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import time
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from signer.testing.keystore import key_id, spki_der

SCT_LIST_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
POISON_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.3")

_HASH_SHA256 = 4
_SIG_ECDSA = 3
_ENTRY_PRECERT = 1


class CtLogError(Exception):
    """The CT log refused a submission."""


@dataclass(frozen=True)
class SignedCertificateTimestamp:
    """An RFC 6962 v1 SCT."""

    log_id: bytes
    timestamp_ms: int
    signature: bytes
    extensions: bytes = b""
    version: int = 0

    def serialize(self) -> bytes:
        """The TLS ``SignedCertificateTimestamp`` structure."""
        return (
            bytes([self.version])
            + self.log_id
            + struct.pack(">Q", self.timestamp_ms)
            + struct.pack(">H", len(self.extensions))
            + self.extensions
            + bytes([_HASH_SHA256, _SIG_ECDSA])
            + struct.pack(">H", len(self.signature))
            + self.signature
        )


def der_length(n: int) -> bytes:
    """DER length octets."""
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def sct_list_extension_value(scts: list[SignedCertificateTimestamp]) -> bytes:
    """extnValue content of the SCT-list extension: DER OCTET STRING(TLS SCT list)."""
    body = b"".join(struct.pack(">H", len(s)) + s for s in (sct.serialize() for sct in scts))
    tls = struct.pack(">H", len(body)) + body
    return b"\x04" + der_length(len(tls)) + tls


def _tlv(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, content start, end) of the DER element at ``offset``."""
    tag = data[offset]
    first = data[offset + 1]
    if first < 0x80:
        return tag, offset + 2, offset + 2 + first
    count = first & 0x7F
    length = int.from_bytes(data[offset + 2 : offset + 2 + count], "big")
    start = offset + 2 + count
    return tag, start, start + length


def _encode(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + der_length(len(content)) + content


def _children(data: bytes, start: int, end: int) -> list[bytes]:
    items = []
    while start < end:
        _, _, stop = _tlv(data, start)
        items.append(data[start:stop])
        start = stop
    return items


def tbs_without_extension(tbs: bytes, oid: x509.ObjectIdentifier) -> bytes:
    """A DER TBSCertificate with the extension ``oid`` removed (RFC 6962 §3.2)."""
    tag, start, end = _tlv(tbs, 0)
    fields = _children(tbs, start, end)
    oid_der = _encode(0x06, _oid_content(oid.dotted_string))
    out = []
    for field_der in fields:
        if field_der[0] == 0xA3:  # [3] EXPLICIT Extensions
            _, inner_start, _inner_end = _tlv(field_der, 0)
            _, seq_start, seq_end = _tlv(field_der, inner_start)
            kept = [
                ext
                for ext in _children(field_der, seq_start, seq_end)
                if not ext[_tlv(ext, 0)[1] :].startswith(oid_der)
            ]
            field_der = _encode(0xA3, _encode(0x30, b"".join(kept)))
        out.append(field_der)
    return _encode(tag, b"".join(out))


def _oid_content(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    values = [parts[0] * 40 + parts[1], *parts[2:]]
    out = bytearray()
    for value in values:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def precert_signed_data(
    timestamp_ms: int, issuer_key_hash: bytes, tbs: bytes, extensions: bytes = b""
) -> bytes:
    """The bytes an SCT over a precertificate signs (RFC 6962 §3.2)."""
    return (
        b"\x00\x00"  # sct_version v1, signature_type certificate_timestamp
        + struct.pack(">Q", timestamp_ms)
        + struct.pack(">H", _ENTRY_PRECERT)
        + issuer_key_hash
        + len(tbs).to_bytes(3, "big")
        + tbs
        + struct.pack(">H", len(extensions))
        + extensions
    )


@dataclass
class CtLog:
    """The log: a P-256 key and the precertificates it has accepted."""

    key: ec.EllipticCurvePrivateKey
    base_url: str = "http://127.0.0.1/ct"
    entries: list[bytes] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _fail_remaining: int = 0

    def fail_next(self, count: int) -> None:
        """Refuse the next ``count`` submissions (Fulcio then answers 500)."""
        with self._lock:
            self._fail_remaining = max(0, count)

    @property
    def log_id(self) -> bytes:
        """SHA-256 of the log key's DER SubjectPublicKeyInfo."""
        return key_id(self.key.public_key())

    def add_pre_chain(
        self, precert: x509.Certificate, chain: list[x509.Certificate]
    ) -> SignedCertificateTimestamp:
        """Accept a precertificate issued by ``chain[0]`` and return its SCT."""
        with self._lock:
            if self._fail_remaining:
                self._fail_remaining -= 1
                raise CtLogError("injected CT log failure")
        if not chain:
            raise CtLogError("missing issuer chain")
        try:
            poison = precert.extensions.get_extension_for_oid(POISON_OID)
        except x509.ExtensionNotFound:
            raise CtLogError("precertificate has no poison extension") from None
        if not poison.critical:
            raise CtLogError("precertificate poison extension is not critical")
        issuer = chain[0]
        try:
            precert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise CtLogError(f"precertificate not issued by chain: {exc}") from exc
        issuer_key_hash = hashlib.sha256(spki_der(issuer.public_key())).digest()
        timestamp_ms = int(time.time() * 1000)
        data = precert_signed_data(
            timestamp_ms,
            issuer_key_hash,
            tbs_without_extension(precert.tbs_certificate_bytes, POISON_OID),
        )
        signature = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        with self._lock:
            self.entries.append(precert.public_bytes(Encoding.DER))
        return SignedCertificateTimestamp(self.log_id, timestamp_ms, signature)
