"""Writing Sigstore bundles v0.3 and the in-toto statement cosign v3 signs (L2, pure).

docs/cosign-format.md §6.1–6.2 and docs/sigstore-protocols.md §7:

- :func:`image_statement`: the in-toto v1 statement of an image signature (subject =
  the manifest digest with the ``-a`` annotations, predicateType
  ``https://sigstore.dev/cosign/sign/v1``, predicate ``{}``), in protobuf field order;
- :func:`dsse_envelope` / :func:`message_signature`: the signed content;
- :func:`bundle_json`: the bundle (certificate or public-key hint, the log entries as
  ``TransparencyLogEntry`` objects, RFC 3161 timestamps) as compact JSON bytes.

Log entries arrive already in protobuf-JSON form (Rekor v2 answers that form; the
signing flow converts a Rekor v1 answer), so this module only assembles.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from signer.formats.bundle import BUNDLE_MEDIA_TYPE_V03, IN_TOTO_PAYLOAD_TYPE

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
COSIGN_SIGN_PREDICATE_TYPE = "https://sigstore.dev/cosign/sign/v1"


def _b64(data: bytes) -> str:
    return base64.standard_b64encode(data).decode("ascii")


def image_statement(digest: str, annotations: Mapping[str, str] | None = None) -> bytes:
    """The statement for the manifest ``digest`` (``sha256:<hex>``), compact JSON."""
    algorithm, _, hex_digest = digest.partition(":")
    subject: dict[str, Any] = {"digest": {algorithm: hex_digest}}
    if annotations:
        subject["annotations"] = dict(sorted(annotations.items()))
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [subject],
        "predicateType": COSIGN_SIGN_PREDICATE_TYPE,
        "predicate": {},
    }
    return json.dumps(statement, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def dsse_envelope(payload: bytes, signature: bytes,
                  payload_type: str = IN_TOTO_PAYLOAD_TYPE) -> dict[str, Any]:
    """``dsseEnvelope`` (standard base64; ``keyid`` omitted, as it is empty)."""
    return {"payload": _b64(payload), "payloadType": payload_type,
            "signatures": [{"sig": _b64(signature)}]}


def message_signature(artifact_sha256: bytes, signature: bytes) -> dict[str, Any]:
    """``messageSignature`` over an artifact whose SHA-256 is ``artifact_sha256``."""
    return {"messageDigest": {"algorithm": "SHA2_256", "digest": _b64(artifact_sha256)},
            "signature": _b64(signature)}


def public_key_hint(spki_der: bytes) -> str:
    """cosign's key hint: base64 of SHA-256 over the PKIX DER public key."""
    return _b64(hashlib.sha256(spki_der).digest())


def bundle_json(*, certificate_der: bytes | None, public_key_spki_der: bytes | None,
                tlog_entries: Sequence[Mapping[str, Any]], timestamps: Sequence[bytes],
                dsse: Mapping[str, Any] | None = None,
                message: Mapping[str, Any] | None = None) -> bytes:
    """The v0.3 bundle; exactly one of certificate/public key and of dsse/message."""
    if (certificate_der is None) == (public_key_spki_der is None):
        raise ValueError("a bundle names either a certificate or a public key")
    if (dsse is None) == (message is None):
        raise ValueError("a bundle holds either a DSSE envelope or a message signature")
    material: dict[str, Any] = (
        {"certificate": {"rawBytes": _b64(certificate_der)}} if certificate_der is not None
        else {"publicKey": {"hint": public_key_hint(public_key_spki_der or b"")}})
    material["tlogEntries"] = [dict(entry) for entry in tlog_entries]
    if timestamps:
        material["timestampVerificationData"] = {
            "rfc3161Timestamps": [{"signedTimestamp": _b64(t)} for t in timestamps]}
    document: dict[str, Any] = {"mediaType": BUNDLE_MEDIA_TYPE_V03,
                                "verificationMaterial": material}
    if dsse is not None:
        document["dsseEnvelope"] = dict(dsse)
    else:
        assert message is not None
        document["messageSignature"] = dict(message)
    return json.dumps(document, separators=(",", ":")).encode("utf-8")
