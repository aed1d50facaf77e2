"""Sigstore bundles (layer L2, pure): parsing v0.1–v0.3, DSSE envelopes, in-toto statements.

A bundle is the protobuf JSON of ``dev.sigstore.bundle.v1.Bundle``
(docs/sigstore-protocols.md §6, docs/cosign-format.md §6.2). Parsing checks shapes and
decodes every base64 field; it decides nothing about trust — that is
:mod:`signer.verify.bundle`. cosign's legacy ``sign-blob --bundle`` JSON
(``{base64Signature, cert, rekorBundle}``) is read here too.

Errors are :class:`signer.errors.InputError` with messages starting "bundle:".
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography import x509

from signer.certificates import (
    MalformedCertificateError,
    parse_der_certificate,
    parse_pem_certificate,
)
from signer.errors import InputError

if TYPE_CHECKING:  # the legacy formats are imported only for a legacy blob bundle
    from signer.formats.legacy import RekorBundle

__all__ = [
    "BUNDLE_MEDIA_TYPE_V03",
    "IN_TOTO_PAYLOAD_TYPE",
    "Bundle",
    "DsseEnvelope",
    "DsseSignature",
    "InclusionProof",
    "LegacyBlobBundle",
    "MessageSignature",
    "TlogEntry",
    "is_legacy_blob_bundle",
    "pae",
    "parse_bundle",
    "parse_legacy_blob_bundle",
    "parse_statement",
]

BUNDLE_MEDIA_TYPE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
_MEDIA_TYPE_OLD = re.compile(r"^application/vnd\.dev\.sigstore\.bundle\+json;version=(\d+)\.(\d+)$")
_MEDIA_TYPE_NEW = re.compile(r"^application/vnd\.dev\.sigstore\.bundle\.v(\d+)\.(\d+)\+json$")
_SUPPORTED_VERSIONS = {(0, 1), (0, 2), (0, 3)}
#: upper bound on entries/timestamps/signatures we read from one bundle
_MAX_ITEMS = 64


def _fail(message: str) -> InputError:
    return InputError(f"bundle: {message}")


def _obj(value: Any, where: str, *, optional: bool = False) -> dict[str, Any] | None:
    if value is None and optional:
        return None
    if not isinstance(value, dict):
        raise _fail(f"{where} is missing or not an object")
    return value


def _need_obj(value: Any, where: str) -> dict[str, Any]:
    result = _obj(value, where)
    assert result is not None
    return result


def _b64(value: Any, where: str, *, allow_empty: bool = False) -> bytes:
    if not isinstance(value, str) or (not value and not allow_empty):
        raise _fail(f"{where} is missing or not a string")
    try:
        return base64.b64decode(value, validate=True)  # the usual, canonical form
    except (ValueError, binascii.Error):
        pass
    try:
        # protobuf JSON accepts standard and URL-safe base64, padded or not; Go's
        # decoder (protojson, which cosign and sigstore-go use) skips line breaks
        text = value.replace("\r", "").replace("\n", "").replace("-", "+").replace("_", "/")
        text += "=" * (-len(text) % 4)
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise _fail(f"{where} is not valid base64") from None


def _int64(value: Any, where: str, *, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    if isinstance(value, bool):
        raise _fail(f"{where} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,19}", value):
        return int(value)
    raise _fail(f"{where} is missing or not an integer")


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(f"{where} is not a list")
    if len(value) > _MAX_ITEMS:
        raise _fail(f"{where} has too many items ({len(value)})")
    return value


# ------------------------------------------------------------------ models


@dataclass(frozen=True)
class InclusionProof:
    """An RFC 6962 inclusion proof with the checkpoint that commits to its root."""

    log_index: int
    root_hash: bytes
    tree_size: int
    hashes: tuple[bytes, ...]
    checkpoint: str | None


@dataclass(frozen=True)
class TlogEntry:
    """A ``TransparencyLogEntry``: where the signature was logged and the proof of it."""

    log_index: int
    log_id: bytes
    kind: str
    version: str
    integrated_time: int
    signed_entry_timestamp: bytes | None
    inclusion_proof: InclusionProof | None
    canonicalized_body: bytes
    body_b64: str

    @property
    def is_rekor_v2(self) -> bool:
        """True for the entry kinds only Rekor v2 writes (no SET, no integrated time)."""
        return (self.kind, self.version) in {("hashedrekord", "0.0.2"), ("dsse", "0.0.2")}

    def set_fields(self) -> dict[str, Any]:
        """The fields a Rekor v1 SET covers (for :func:`signer.verify.tlog.verify_set`)."""
        return {
            "signed_entry_timestamp": self.signed_entry_timestamp or b"",
            "body": self.body_b64,
            "integrated_time": self.integrated_time,
            "log_index": self.log_index,
            "log_id": self.log_id.hex(),
        }

    def body(self) -> dict[str, Any]:
        """The canonicalized body parsed as a JSON object."""
        try:
            document = json.loads(self.canonicalized_body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise _fail("tlog entry body is not JSON") from None
        if not isinstance(document, dict):
            raise _fail("tlog entry body is not a JSON object")
        return document


@dataclass(frozen=True)
class MessageSignature:
    """A signature over an artifact digest (``messageSignature``)."""

    signature: bytes
    digest_algorithm: str | None
    digest: bytes | None


@dataclass(frozen=True)
class DsseSignature:
    """One DSSE signature."""

    sig: bytes
    keyid: str


@dataclass(frozen=True)
class DsseEnvelope:
    """A DSSE envelope: the payload bytes, its type and signatures over PAE."""

    payload: bytes
    payload_type: str
    signatures: tuple[DsseSignature, ...]

    def pae(self) -> bytes:
        """The bytes each signature covers."""
        return pae(self.payload_type, self.payload)


@dataclass(frozen=True)
class Bundle:
    """A parsed Sigstore bundle."""

    media_type: str
    version: tuple[int, int]
    certificate: x509.Certificate | None  # the signing (leaf) certificate
    chain: tuple[x509.Certificate, ...]  # the rest of a v0.1/v0.2 x509CertificateChain
    chain_was_present: bool  # an x509CertificateChain (possibly empty) was given
    public_key_hint: str | None
    tlog_entries: tuple[TlogEntry, ...]
    rfc3161_timestamps: tuple[bytes, ...]
    message_signature: MessageSignature | None
    dsse_envelope: DsseEnvelope | None

    @property
    def signature(self) -> bytes:
        """The signature bytes (message signature, or the DSSE envelope's first)."""
        if self.message_signature is not None:
            return self.message_signature.signature
        assert self.dsse_envelope is not None
        return self.dsse_envelope.signatures[0].sig if self.dsse_envelope.signatures else b""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: ``DSSEv1 <len> <type> <len> <body>``."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


# ----------------------------------------------------------------- parsing


def _media_type_version(media_type: Any) -> tuple[int, int]:
    if not isinstance(media_type, str):
        raise _fail("mediaType is missing")
    match = _MEDIA_TYPE_OLD.match(media_type) or _MEDIA_TYPE_NEW.match(media_type)
    if not match:
        raise _fail(f"unsupported media type {media_type[:80]!r}")
    version = (int(match.group(1)), int(match.group(2)))
    if version not in _SUPPORTED_VERSIONS:
        raise _fail(f"unsupported bundle version {version[0]}.{version[1]}")
    return version


def _certificate(raw: bytes, where: str) -> x509.Certificate:
    try:
        return parse_der_certificate(raw)
    except MalformedCertificateError:
        raise _fail(f"{where} is not a DER certificate") from None


def _inclusion_proof(value: Any, where: str) -> InclusionProof | None:
    proof = _obj(value, where, optional=True)
    if proof is None:
        return None
    checkpoint_obj = _obj(proof.get("checkpoint"), f"{where}.checkpoint", optional=True)
    checkpoint = None
    if checkpoint_obj is not None:
        envelope = checkpoint_obj.get("envelope")
        if envelope is not None and not isinstance(envelope, str):
            raise _fail(f"{where}.checkpoint.envelope is not a string")
        checkpoint = envelope or None
    return InclusionProof(
        log_index=_int64(proof.get("logIndex"), f"{where}.logIndex", default=0),
        root_hash=_b64(proof.get("rootHash"), f"{where}.rootHash"),
        tree_size=_int64(proof.get("treeSize"), f"{where}.treeSize"),
        hashes=tuple(_b64(h, f"{where}.hashes[{i}]")
                     for i, h in enumerate(_list(proof.get("hashes"), f"{where}.hashes"))),
        checkpoint=checkpoint,
    )


def _tlog_entry(value: Any, where: str) -> TlogEntry:
    entry = _need_obj(value, where)
    kind_version = _need_obj(entry.get("kindVersion"), f"{where}.kindVersion")
    kind, version = kind_version.get("kind"), kind_version.get("version")
    if not isinstance(kind, str) or not isinstance(version, str) or not kind or not version:
        raise _fail(f"{where}.kindVersion needs kind and version")
    log_index = _int64(entry.get("logIndex"), f"{where}.logIndex", default=0)
    if log_index < 0:
        raise _fail(f"{where}.logIndex is negative")
    integrated_time = _int64(entry.get("integratedTime"), f"{where}.integratedTime", default=0)
    if integrated_time < 0:
        raise _fail(f"{where}.integratedTime is negative")
    if integrated_time > 253402300799:  # after 9999-12-31: no datetime can hold it
        raise _fail(f"{where}.integratedTime is out of range")
    promise = _obj(entry.get("inclusionPromise"), f"{where}.inclusionPromise", optional=True)
    set_bytes = None
    if promise is not None:
        set_bytes = _b64(promise.get("signedEntryTimestamp"),
                         f"{where}.inclusionPromise.signedEntryTimestamp")
    body_b64 = entry.get("canonicalizedBody")
    body = _b64(body_b64, f"{where}.canonicalizedBody")
    assert isinstance(body_b64, str)
    proof = _inclusion_proof(entry.get("inclusionProof"), f"{where}.inclusionProof")
    if proof is not None and proof.log_index < 0:
        raise _fail(f"{where}.inclusionProof.logIndex is negative")
    return TlogEntry(
        log_index=log_index,
        log_id=_b64(_need_obj(entry.get("logId"), f"{where}.logId").get("keyId"),
                    f"{where}.logId.keyId"),
        kind=kind,
        version=version,
        integrated_time=integrated_time,
        signed_entry_timestamp=set_bytes,
        inclusion_proof=proof,
        canonicalized_body=body,
        body_b64=body_b64,
    )


def _dsse(value: dict[str, Any]) -> DsseEnvelope:
    payload_type = value.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type:
        raise _fail("dsseEnvelope.payloadType is missing")
    signatures = []
    for i, item in enumerate(_list(value.get("signatures"), "dsseEnvelope.signatures")):
        sig_obj = _need_obj(item, f"dsseEnvelope.signatures[{i}]")
        keyid = sig_obj.get("keyid") or ""
        if not isinstance(keyid, str):
            raise _fail(f"dsseEnvelope.signatures[{i}].keyid is not a string")
        signatures.append(DsseSignature(_b64(sig_obj.get("sig"),
                                             f"dsseEnvelope.signatures[{i}].sig"), keyid))
    return DsseEnvelope(_b64(value.get("payload"), "dsseEnvelope.payload", allow_empty=True),
                        payload_type, tuple(signatures))


def _message_signature(value: dict[str, Any]) -> MessageSignature:
    digest_obj = _obj(value.get("messageDigest"), "messageSignature.messageDigest",
                      optional=True)
    algorithm = digest = None
    if digest_obj is not None:
        algorithm_value = digest_obj.get("algorithm")
        algorithm = algorithm_value if isinstance(algorithm_value, str) else None
        digest = _b64(digest_obj.get("digest"), "messageSignature.messageDigest.digest")
    return MessageSignature(_b64(value.get("signature"), "messageSignature.signature"),
                            algorithm, digest)


def parse_bundle(data: bytes | str | Mapping[str, Any]) -> Bundle:
    """Parse a Sigstore bundle (JSON bytes/text or an already-decoded object)."""
    if isinstance(data, Mapping):
        document: Any = data
    elif not isinstance(data, (bytes, str)):  # an already-decoded non-object (null, [])
        raise _fail("not a JSON object")
    else:
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise _fail("not valid JSON") from None
    if not isinstance(document, Mapping):
        raise _fail("not a JSON object")
    media_type = document.get("mediaType")
    version = _media_type_version(media_type)
    material = _need_obj(document.get("verificationMaterial"), "verificationMaterial")

    certificate = None
    chain: tuple[x509.Certificate, ...] = ()
    chain_present = False
    hint = None
    kinds = [k for k in ("certificate", "x509CertificateChain", "publicKey")
             if material.get(k) is not None]
    if len(kinds) > 1:  # one protobuf oneof: a second value is malformed, not ignored
        raise _fail(f"verificationMaterial sets more than one of {', '.join(kinds)}")
    if material.get("certificate") is not None:
        cert_obj = _need_obj(material["certificate"], "verificationMaterial.certificate")
        certificate = _certificate(_b64(cert_obj.get("rawBytes"),
                                        "verificationMaterial.certificate.rawBytes"),
                                   "verificationMaterial.certificate")
    elif material.get("x509CertificateChain") is not None:
        chain_present = True
        chain_obj = _need_obj(material["x509CertificateChain"],
                              "verificationMaterial.x509CertificateChain")
        certs = [
            _certificate(_b64(_need_obj(c, "certificate").get("rawBytes"),
                              f"x509CertificateChain.certificates[{i}].rawBytes"),
                         f"x509CertificateChain.certificates[{i}]")
            for i, c in enumerate(_list(chain_obj.get("certificates"),
                                        "x509CertificateChain.certificates"))
        ]
        if certs:
            certificate, chain = certs[0], tuple(certs[1:])
    elif material.get("publicKey") is not None:
        key_obj = _need_obj(material["publicKey"], "verificationMaterial.publicKey")
        hint_value = key_obj.get("hint")
        hint = hint_value if isinstance(hint_value, str) else ""

    entries = tuple(_tlog_entry(e, f"tlogEntries[{i}]")
                    for i, e in enumerate(_list(material.get("tlogEntries"), "tlogEntries")))
    tsv = _obj(material.get("timestampVerificationData"), "timestampVerificationData",
               optional=True)
    timestamps: tuple[bytes, ...] = ()
    if tsv is not None:
        timestamps = tuple(
            _b64(_need_obj(t, "rfc3161Timestamps[]").get("signedTimestamp"),
                 f"rfc3161Timestamps[{i}].signedTimestamp")
            for i, t in enumerate(_list(tsv.get("rfc3161Timestamps"), "rfc3161Timestamps")))

    has_message = document.get("messageSignature") is not None
    has_dsse = document.get("dsseEnvelope") is not None
    if has_message == has_dsse:
        raise _fail("needs exactly one of messageSignature and dsseEnvelope")
    message = dsse = None
    if has_message:
        message = _message_signature(_need_obj(document["messageSignature"], "messageSignature"))
    else:
        dsse = _dsse(_need_obj(document["dsseEnvelope"], "dsseEnvelope"))
    assert isinstance(media_type, str)
    return Bundle(media_type, version, certificate, chain, chain_present, hint, entries,
                  timestamps, message, dsse)


# ----------------------------------------------------------- in-toto statements


def parse_statement(payload: bytes) -> dict[str, Any]:
    """Parse an in-toto statement (v0.1 or v1) and check its subject list's shape."""
    try:
        statement = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _fail("DSSE payload is not a JSON in-toto statement") from None
    if not isinstance(statement, dict):
        raise _fail("in-toto statement is not a JSON object")
    statement_type = statement.get("_type")
    if statement_type not in ("https://in-toto.io/Statement/v0.1",
                              "https://in-toto.io/Statement/v1"):
        raise _fail(f"unsupported in-toto statement type {str(statement_type)[:80]!r}")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise _fail("in-toto statement has no subjects")
    for subject in subjects:
        if not isinstance(subject, dict) or not isinstance(subject.get("digest"), dict):
            raise _fail("in-toto statement subject without a digest map")
    return statement


# --------------------------------------------------- cosign sign-blob --bundle


@dataclass(frozen=True)
class LegacyBlobBundle:
    """cosign's legacy ``sign-blob --bundle`` file."""

    signature: bytes
    certificate: x509.Certificate | None
    certificate_pem: bytes | None
    rekor_bundle: RekorBundle | None


def is_legacy_blob_bundle(document: Any) -> bool:
    """True if ``document`` looks like cosign's legacy blob bundle (no mediaType)."""
    return (isinstance(document, Mapping) and "mediaType" not in document
            and "base64Signature" in document)


def parse_legacy_blob_bundle(document: Mapping[str, Any]) -> LegacyBlobBundle:
    """Parse ``{base64Signature, cert, rekorBundle}`` as cosign sign-blob writes it."""
    signature = _b64(document.get("base64Signature"), "base64Signature")
    certificate = pem = None
    cert_value = document.get("cert")
    if cert_value:
        pem = _b64(cert_value, "cert")
        if b"-----BEGIN" not in pem:
            raise _fail("cert is not a base64 PEM certificate")
        try:
            certificate = parse_pem_certificate(pem)
        except MalformedCertificateError:
            raise _fail("cert is not a valid PEM certificate") from None
    rekor_bundle = None
    rekor_value = document.get("rekorBundle")
    if rekor_value is not None:
        if not isinstance(rekor_value, Mapping):
            raise _fail("rekorBundle is not an object")
        try:
            from signer.formats.legacy import parse_rekor_bundle

            rekor_bundle = parse_rekor_bundle(json.dumps(rekor_value))
        except InputError as err:
            raise _fail(err.message) from None
    return LegacyBlobBundle(signature, certificate, pem, rekor_bundle)
