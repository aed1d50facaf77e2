"""Rekor v1 entry kinds: validate a proposed entry and build its canonical body.

Supported: ``hashedrekord`` 0.0.1 (signature over the given digest, verified with the
given certificate or public key) and ``dsse`` 0.0.1 (every envelope signature verified
over DSSE PAE with one of the given verifiers).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from signer.testing.keystore import verify_with_default_hash
from signer.testing.rekor_log import canonical_json

_HASHES: dict[str, tuple[int, type[hashes.HashAlgorithm]]] = {
    "sha256": (64, hashes.SHA256),
    "sha384": (96, hashes.SHA384),
    "sha512": (128, hashes.SHA512),
}
_HEX = re.compile(r"^[0-9a-fA-F]+$")


class EntryError(Exception):
    """The proposed entry is invalid (Rekor answers 400)."""


@dataclass(frozen=True)
class CanonicalEntry:
    """A validated entry: the canonical leaf bytes and its search-index keys."""

    body: bytes
    search_keys: list[str]


@dataclass(frozen=True)
class Verifier:
    """A parsed ``publicKey.content``: the key, its canonical PEM, the leaf cert if any."""

    key: Any
    canonical_pem: bytes
    certificate: x509.Certificate | None


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise EntryError(f"missing {what}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EntryError(f"{what} is not valid base64") from exc


def parse_verifier(pem: bytes) -> Verifier:
    """A PEM certificate (or chain: leaf first) or PEM public key."""
    try:
        if b"CERTIFICATE" in pem:
            certs = x509.load_pem_x509_certificates(pem)
            if not certs or len(certs) > 10:
                raise EntryError("invalid certificate chain length")
            canonical = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
            return Verifier(certs[0].public_key(), canonical, certs[0])
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise EntryError(f"invalid public key: {exc}") from exc
    canonical = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Verifier(key, canonical, None)


def _verify_prehashed(
    key: Any, signature: bytes, digest: bytes, algorithm: hashes.HashAlgorithm
) -> None:
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, digest, ec.ECDSA(Prehashed(algorithm)))
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, digest, padding.PKCS1v15(), Prehashed(algorithm))
    else:
        raise EntryError("key type not supported for hashedrekord")


def _search_keys(verifier: Verifier) -> list[str]:
    keys = [hashlib.sha256(verifier.canonical_pem).hexdigest()]
    if verifier.certificate is not None:
        try:
            san = verifier.certificate.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value
        except x509.ExtensionNotFound:
            return keys
        keys += [str(v).lower() for v in san.get_values_for_type(x509.RFC822Name)]
        keys += [str(v) for v in san.get_values_for_type(x509.UniformResourceIdentifier)]
    return keys


def canonicalize(proposed: Any) -> CanonicalEntry:
    """Validate a proposed entry and return its canonical body (raises EntryError)."""
    if not isinstance(proposed, dict):
        raise EntryError("entry must be a JSON object")
    kind, version = proposed.get("kind"), proposed.get("apiVersion")
    spec = proposed.get("spec")
    if not isinstance(spec, dict):
        raise EntryError("missing spec")
    if kind == "hashedrekord" and version == "0.0.1":
        return _hashedrekord(spec)
    if kind == "dsse" and version == "0.0.1":
        return _dsse(spec)
    raise EntryError(f"unsupported entry kind/version: {kind} {version}")


def _hashedrekord(spec: dict[str, Any]) -> CanonicalEntry:
    signature_obj = spec.get("signature") or {}
    data_hash = (spec.get("data") or {}).get("hash") or {}
    if not isinstance(signature_obj, dict) or not isinstance(data_hash, dict):
        raise EntryError("malformed hashedrekord spec")
    signature = _b64(signature_obj.get("content"), "signature content")
    pem = _b64((signature_obj.get("publicKey") or {}).get("content"), "public key content")
    algorithm_name, value = data_hash.get("algorithm"), data_hash.get("value")
    if algorithm_name not in _HASHES:
        raise EntryError(f"unsupported hash algorithm {algorithm_name!r}")
    length, algorithm_type = _HASHES[str(algorithm_name)]
    if not isinstance(value, str) or len(value) != length or not _HEX.match(value):
        raise EntryError("hash value has the wrong length for its algorithm")
    verifier = parse_verifier(pem)
    try:
        _verify_prehashed(verifier.key, signature, bytes.fromhex(value), algorithm_type())
    except InvalidSignature as exc:
        raise EntryError("verifying signature: invalid signature") from exc
    body = {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": algorithm_name, "value": value}},
            "signature": {
                "content": base64.b64encode(signature).decode(),
                "publicKey": {"content": base64.b64encode(verifier.canonical_pem).decode()},
            },
        },
    }
    keys = [f"{algorithm_name}:{value.lower()}", *_search_keys(verifier)]
    return CanonicalEntry(canonical_json(body), keys)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def _dsse(spec: dict[str, Any]) -> CanonicalEntry:
    proposed = spec.get("proposedContent") or {}
    if not isinstance(proposed, dict):
        raise EntryError("missing proposedContent")
    envelope_text = proposed.get("envelope")
    verifiers_b64 = proposed.get("verifiers")
    if not isinstance(envelope_text, str) or not isinstance(verifiers_b64, list):
        raise EntryError("proposedContent needs envelope and verifiers")
    try:
        envelope = json.loads(envelope_text)
        payload = base64.b64decode(envelope["payload"], validate=True)
        payload_type = str(envelope["payloadType"])
        signatures = envelope["signatures"]
        if not isinstance(signatures, list) or not signatures:
            raise EntryError("envelope has no signatures")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise EntryError(f"invalid DSSE envelope: {exc}") from exc
    verifiers = [parse_verifier(_b64(v, "verifier")) for v in verifiers_b64]
    if not verifiers:
        raise EntryError("no verifiers")
    message = pae(payload_type, payload)
    stored_signatures = []
    for item in signatures:
        signature = _b64(item.get("sig") if isinstance(item, dict) else None, "signature")
        matched = None
        for verifier in verifiers:
            try:
                verify_with_default_hash(verifier.key, signature, message)
            except InvalidSignature:
                continue
            matched = verifier
            break
        if matched is None:
            raise EntryError("verifying signature: no verifier matched a DSSE signature")
        stored_signatures.append(
            {
                "signature": base64.b64encode(signature).decode(),
                "verifier": base64.b64encode(matched.canonical_pem).decode(),
            }
        )
    envelope_hash = hashlib.sha256(canonical_json(envelope)).hexdigest()
    payload_hash = hashlib.sha256(payload).hexdigest()
    body = {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": envelope_hash},
            "payloadHash": {"algorithm": "sha256", "value": payload_hash},
            "signatures": sorted(stored_signatures, key=lambda s: s["signature"]),
        },
    }
    keys = [f"sha256:{payload_hash}", f"sha256:{envelope_hash}"]
    for verifier in verifiers:
        keys += _search_keys(verifier)
    return CanonicalEntry(canonical_json(body), keys)
