"""RFC 3161 signed timestamps against the trusted root's TSAs (layer L2, pure).

A timestamp in a Sigstore bundle is a DER ``TimeStampResp`` whose message imprint
is the hash of the signature bytes (docs/sigstore-protocols.md §5). It counts as signed
time when:

* the response is granted and well-formed (decoded by ``rfc3161-client``, a strict
  DER parser; ``cryptography`` cannot read CMS);
* its imprint is the hash of the signature;
* its CMS ``SignerInfo`` names the leaf certificate of a timestamp authority of the
  trusted root, the signed attributes carry the TSTInfo content type and its
  digest, and their signature verifies with that leaf's key (walked here over DER:
  ``cryptography`` has no CMS verification; docs/sigstore-protocols.md §5);
* every certificate of that authority's chain is valid at ``genTime``, the chain
  links verify (checked once per trusted root) and the leaf has the critical
  timeStamping EKU;
* ``genTime`` lies within the authority's ``validFor`` window (both ends inclusive).

Failures raise :class:`VerificationError` messages starting "TSA:".
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from signer.errors import VerificationError
from signer.trust import CertificateAuthority, TrustedRoot

__all__ = ["MAX_TIMESTAMPS", "TimestampVerifier", "timestamp_verifier", "verify_timestamps"]

#: more timestamps than this in one bundle are refused (as sigstore-python does)
MAX_TIMESTAMPS = 32


# ------------------------------------------------------------- a small DER walk


@functools.lru_cache(maxsize=64)
def _oid(dotted: str) -> bytes:
    """The DER content bytes of an OBJECT IDENTIFIER."""
    parts = [int(p) for p in dotted.split(".")]
    out = bytearray([parts[0] * 40 + parts[1]])
    for value in parts[2:]:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


_OID_SIGNED_DATA = _oid("1.2.840.113549.1.7.2")
_OID_TST_INFO = _oid("1.2.840.113549.1.9.16.1.4")
_OID_CONTENT_TYPE = _oid("1.2.840.113549.1.9.3")
_OID_MESSAGE_DIGEST = _oid("1.2.840.113549.1.9.4")
_DIGESTS: dict[bytes, type[hashes.HashAlgorithm]] = {
    _oid("2.16.840.1.101.3.4.2.1"): hashes.SHA256,
    _oid("2.16.840.1.101.3.4.2.2"): hashes.SHA384,
    _oid("2.16.840.1.101.3.4.2.3"): hashes.SHA512,
}
_SIGNATURE_HASHES: dict[bytes, type[hashes.HashAlgorithm]] = {
    _oid("1.2.840.10045.4.3.2"): hashes.SHA256,  # ecdsa-with-SHA256
    _oid("1.2.840.10045.4.3.3"): hashes.SHA384,
    _oid("1.2.840.10045.4.3.4"): hashes.SHA512,
    _oid("1.2.840.113549.1.1.11"): hashes.SHA256,  # sha256WithRSAEncryption
    _oid("1.2.840.113549.1.1.12"): hashes.SHA384,
    _oid("1.2.840.113549.1.1.13"): hashes.SHA512,
}
_PLAIN_KEY_ALGORITHMS = {_oid("1.2.840.10045.2.1"), _oid("1.2.840.113549.1.1.1")}


class _Malformed(Exception):
    """The CMS structure is not what RFC 3161/5652 describe."""


@dataclass(frozen=True)
class _TLV:
    tag: int
    data: bytes  # the whole encoding (tag, length, contents)
    content: bytes


def _read(data: bytes, pos: int = 0) -> tuple[_TLV, int]:
    if pos + 2 > len(data):
        raise _Malformed("truncated")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise _Malformed("high tag numbers are not used in CMS")
    first = data[pos + 1]
    start = pos + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise _Malformed("bad length")
        length = int.from_bytes(data[start:start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise _Malformed("truncated")
    return _TLV(tag, data[pos:end], data[start:end]), end


def _children(content: bytes) -> list[_TLV]:
    items, pos = [], 0
    while pos < len(content):
        item, pos = _read(content, pos)
        items.append(item)
    return items


def _expect(item: _TLV, tag: int) -> _TLV:
    if item.tag != tag:
        raise _Malformed(f"expected tag {tag:#x}, got {item.tag:#x}")
    return item


@dataclass(frozen=True)
class _SignerInfo:
    issuer_der: bytes | None
    serial: int | None
    subject_key_id: bytes | None
    digest_algorithm: bytes
    signed_attributes: bytes  # re-tagged as SET OF, as it is signed
    signature_algorithm: bytes
    signature: bytes
    content_type: bytes
    message_digest: bytes
    embedded_certificates: tuple[bytes, ...]  # DER, as the SignedData carries them


def _algorithm(item: _TLV) -> bytes:
    return _expect(_children(_expect(item, 0x30).content)[0], 0x06).content


def _signer_info(token: bytes) -> tuple[_SignerInfo, bytes]:
    """(the one SignerInfo, the encapsulated TSTInfo bytes) of a TimeStampToken."""
    content_info, end = _read(token)
    if end != len(token):
        raise _Malformed("trailing bytes")
    fields = _children(_expect(content_info, 0x30).content)
    if len(fields) != 2 or _expect(fields[0], 0x06).content != _OID_SIGNED_DATA:
        raise _Malformed("not CMS SignedData")
    [signed_data] = _children(_expect(fields[1], 0xA0).content)
    parts = _children(_expect(signed_data, 0x30).content)
    encap = _children(_expect(parts[2], 0x30).content)
    if len(encap) != 2 or _expect(encap[0], 0x06).content != _OID_TST_INFO:
        raise _Malformed("the signed content is not a TSTInfo")
    [econtent] = _children(_expect(encap[1], 0xA0).content)
    tst_info = _expect(econtent, 0x04).content
    digest_algorithms = {_algorithm(a) for a in _children(_expect(parts[1], 0x31).content)}
    embedded = tuple(c.data for c in _children(parts[3].content)) if (
        len(parts) > 4 and parts[3].tag == 0xA0) else ()
    signer_infos = _children(_expect(parts[-1], 0x31).content)
    if len(signer_infos) != 1:
        raise _Malformed(f"expected one SignerInfo, found {len(signer_infos)}")
    items = _children(_expect(signer_infos[0], 0x30).content)
    if len(items) < 5:
        raise _Malformed("short SignerInfo")
    sid = items[1]
    issuer_der = serial = subject_key_id = None
    if sid.tag == 0x30:
        issuer, serial_tlv = _children(sid.content)
        issuer_der = _expect(issuer, 0x30).data
        serial = int.from_bytes(_expect(serial_tlv, 0x02).content, "big", signed=True)
    elif sid.tag == 0x80:
        subject_key_id = sid.content
    else:
        raise _Malformed("unknown signer identifier")
    attrs = _expect(items[3], 0xA0)
    content_types, digests = [], []
    for attribute in _children(attrs.content):
        attr_type, values = _children(_expect(attribute, 0x30).content)
        kind = _expect(attr_type, 0x06).content
        if kind == _OID_CONTENT_TYPE:
            content_types += [_expect(v, 0x06).content for v in _children(values.content)]
        elif kind == _OID_MESSAGE_DIGEST:
            digests += [_expect(v, 0x04).content for v in _children(values.content)]
    if len(content_types) != 1 or len(digests) != 1:
        raise _Malformed("signed attributes need one content type and one message digest")
    info = _SignerInfo(
        issuer_der=issuer_der, serial=serial, subject_key_id=subject_key_id,
        digest_algorithm=_algorithm(items[2]),
        signed_attributes=b"\x31" + attrs.data[1:],
        signature_algorithm=_algorithm(items[4]),
        signature=_expect(items[5], 0x04).content if len(items) > 5 else b"",
        content_type=content_types[0], message_digest=digests[0],
        embedded_certificates=embedded)
    if info.digest_algorithm not in digest_algorithms:
        raise _Malformed("the signer's digest algorithm is not listed in SignedData")
    return info, tst_info


# ------------------------------------------------------------ the authorities


def _eku_ok(leaf: x509.Certificate) -> bool:
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return False
    return eku.critical and ExtendedKeyUsageOID.TIME_STAMPING in eku.value


def _chain_ok(chain: Sequence[x509.Certificate]) -> bool:
    for child, parent in itertools.pairwise(chain):
        if child.issuer != parent.subject:
            return False
        try:
            child.verify_directly_issued_by(parent)
        except Exception:  # bad signature or unsupported algorithm
            return False
    return True


def _subject_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


@dataclass(frozen=True)
class _Authority:
    """One TSA of the trusted root, with what never changes checked once."""

    authority: CertificateAuthority
    leaf: x509.Certificate
    key: Any
    issuer_der: bytes
    subject_key_id: bytes | None
    problem: str | None  # why this authority can never verify anything
    leaf_der: bytes = b""

    @classmethod
    def build(cls, authority: CertificateAuthority) -> _Authority:
        leaf = authority.chain[0]
        problem = None
        if len(authority.chain) < 2:
            problem = "the authority's chain has no root"
        elif not _chain_ok(authority.chain):
            problem = "the authority's certificate chain does not verify"
        elif not _eku_ok(leaf):
            problem = "the authority's certificate lacks the critical timeStamping EKU"
        return cls(authority, leaf, leaf.public_key(), leaf.issuer.public_bytes(),
                   _subject_key_id(leaf), problem,
                   leaf.public_bytes(serialization.Encoding.DER))

    def names(self, info: _SignerInfo) -> bool:
        """True if the SignerInfo identifies this authority's leaf certificate."""
        if info.issuer_der is not None:
            return info.issuer_der == self.issuer_der and info.serial == self.leaf.serial_number
        return info.subject_key_id is not None and info.subject_key_id == self.subject_key_id

    def check(self, info: _SignerInfo, gen_time: datetime) -> str | None:
        """None if this authority signed ``info`` validly at ``gen_time``, else why not."""
        if self.problem:
            return self.problem
        if info.embedded_certificates and self.leaf_der not in info.embedded_certificates:
            return "the certificate embedded in the timestamp is not the authority's"
        for cert in self.authority.chain:
            if not cert.not_valid_before_utc <= gen_time <= cert.not_valid_after_utc:
                return ("the authority's certificates are not valid at the timestamp's time "
                        f"{gen_time:%Y-%m-%dT%H:%M:%SZ}")
        hash_type = _SIGNATURE_HASHES.get(info.signature_algorithm)
        if hash_type is None and info.signature_algorithm in _PLAIN_KEY_ALGORITHMS:
            hash_type = _DIGESTS.get(info.digest_algorithm)
        if hash_type is None:
            return "unsupported signature algorithm"
        try:
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                self.key.verify(info.signature, info.signed_attributes, ec.ECDSA(hash_type()))
            elif isinstance(self.key, rsa.RSAPublicKey):
                self.key.verify(info.signature, info.signed_attributes, padding.PKCS1v15(),
                                hash_type())
            else:
                return "unsupported authority key type"
        except (InvalidSignature, ValueError):
            return "the timestamp's signature does not verify with the authority's key"
        if not self.authority.valid_for.contains(gen_time):
            return (f"time {gen_time:%Y-%m-%dT%H:%M:%SZ} is outside the authority's validity "
                    "in the trusted root")
        return None


class TimestampVerifier:
    """Verifies timestamps against every TSA of one trusted root (built once per root)."""

    def __init__(self, trust: TrustedRoot):
        self._authorities = [_Authority.build(a) for a in trust.timestamp_authorities
                             if a.chain]

    def verify(self, timestamp: bytes, signature: bytes) -> datetime:
        """Verify one DER ``TimeStampResp`` over ``signature``; return its ``genTime``."""
        from rfc3161_client import PKIStatus, decode_timestamp_response

        try:
            response = decode_timestamp_response(timestamp)
            tst_info = response.tst_info
            status = response.status
            token = response.time_stamp_token()
        except (ValueError, TypeError) as exc:
            raise VerificationError("TSA: the signed timestamp is not a valid RFC 3161 "
                                    f"response ({str(exc)[:80]})") from None
        except Exception:  # the Rust parser raises its own error types on garbage
            raise VerificationError("TSA: the signed timestamp cannot be parsed") from None
        if status != PKIStatus.GRANTED:
            raise VerificationError(f"TSA: the timestamp response status is {status}, "
                                    "not granted")
        imprint = tst_info.message_imprint
        imprint_hash = _DIGESTS.get(_oid(imprint.hash_algorithm.dotted_string))
        if imprint_hash is None:
            raise VerificationError("TSA: unsupported message imprint hash algorithm")
        expected = hashlib.new(imprint_hash().name, signature).digest()
        if not hmac.compare_digest(expected, imprint.message):
            raise VerificationError("TSA: the timestamp is for other data (message imprint "
                                    "does not match the signature)")
        try:
            info, tst_bytes = _signer_info(token)
        except (_Malformed, ValueError, IndexError) as exc:
            raise VerificationError(f"TSA: malformed timestamp token ({exc})") from None
        digest_type = _DIGESTS.get(info.digest_algorithm)
        if info.content_type != _OID_TST_INFO or digest_type is None:
            raise VerificationError("TSA: the timestamp's signed attributes are unusable")
        if not hmac.compare_digest(hashlib.new(digest_type().name, tst_bytes).digest(),
                                   info.message_digest):
            raise VerificationError("TSA: the signed attributes do not match the TSTInfo")
        if not self._authorities:
            raise VerificationError("TSA: the trusted root has no timestamp authorities",
                                    hint="pass a trusted root that lists the TSA")
        gen_time = tst_info.gen_time
        if gen_time.tzinfo is None:
            gen_time = gen_time.replace(tzinfo=timezone.utc)
        problems = []
        for authority in self._authorities:
            if not authority.names(info):
                continue
            problem = authority.check(info, gen_time)
            if problem is None:
                return gen_time
            problems.append(problem)
        detail = "; ".join(dict.fromkeys(problems)) or "signed by an authority not in the " \
                                                       "trusted root"
        raise VerificationError(
            f"TSA: timestamp not verified by a trusted timestamp authority ({detail})",
            hint="the timestamp is for other data, expired, or from a TSA not in the "
                 "trusted root")

    def verify_all(self, timestamps: Sequence[bytes],
                   signature: bytes) -> tuple[list[datetime], list[str]]:
        """Verify every timestamp over ``signature``.

        Returns the times of those that verify and the reasons the others did not:
        as sigstore-go does, a timestamp from an unknown authority is not an error by
        itself, it only does not count. Too many or duplicate timestamps are refused.
        """
        if len(timestamps) > MAX_TIMESTAMPS:
            raise VerificationError(
                f"TSA: too many signed timestamps ({len(timestamps)} > {MAX_TIMESTAMPS})")
        digests = [hashlib.sha256(t).digest() for t in timestamps]
        if len(set(digests)) != len(digests):
            raise VerificationError("TSA: duplicate signed timestamps in the bundle")
        times: list[datetime] = []
        problems: list[str] = []
        for timestamp in timestamps:
            try:
                times.append(self.verify(timestamp, signature))
            except VerificationError as err:
                problems.append(err.message)
        return times, problems


_cache_lock = threading.Lock()
_cache: dict[int, tuple[weakref.ref[TrustedRoot], TimestampVerifier]] = {}


def timestamp_verifier(trust: TrustedRoot) -> TimestampVerifier:
    """The (cached) :class:`TimestampVerifier` for ``trust``."""
    key = id(trust)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached[0]() is trust:
            return cached[1]
    verifier = TimestampVerifier(trust)

    def forget(_ref: weakref.ref[TrustedRoot]) -> None:
        with _cache_lock:
            _cache.pop(key, None)

    with _cache_lock:
        _cache[key] = (weakref.ref(trust, forget), verifier)
    return verifier


def verify_timestamps(timestamps: Sequence[bytes], signature: bytes,
                      trust: TrustedRoot) -> list[datetime]:
    """Verify RFC 3161 timestamps over ``signature`` against ``trust``'s TSAs.

    Every timestamp must verify; returns their ``genTime`` values or raises
    ``VerificationError("TSA: …")``.
    """
    times, problems = timestamp_verifier(trust).verify_all(timestamps, signature)
    if problems:
        raise VerificationError(problems[0])
    return times
