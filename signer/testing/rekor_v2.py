"""The local Rekor v2 log (rekor-tiles): hashedrekord 0.0.2 entries, C2SP checkpoints, tiles.

What follows sigstore-protocols.md §4 and rekor-tiles' client notes:

- a ``hashedRekordRequestV002`` (digest, signature, verifier with an X.509
  certificate or a PKIX public key, and ``keyDetails``) is checked (the signature
  must verify over the prehashed digest with the hash ``keyDetails`` names) and
  stored as the JCS form of ``{"apiVersion":"0.0.2","kind":"hashedrekord","spec":
  {"hashedRekordV002":{...}}}``;
- the answer is a ``TransparencyLogEntry`` in protobuf JSON: no SET, no
  integratedTime, one index (the inclusion proof's index is the entry's), an
  inclusion proof whose checkpoint covers the entry;
- checkpoints are C2SP signed notes: origin = the log's URL without scheme, key name =
  origin, Ed25519 signature, key hint = the first 4 bytes of the C2SP key ID
  SHA-256(name ‖ 0x0A ‖ 0x01 ‖ raw key), which is also the log ID;
- tiles (C2SP tlog-tiles): level tiles of 256 hashes, entry bundles of big-endian
  uint16-length-prefixed leaves, ``.p/W`` partial tiles.

The ``dsseRequestV002`` type is not accepted: rekor-tiles deprecated it and
cosign/sigstore-go and sigstore-python log a DSSE envelope as a hashedrekord over the
PAE. The log lives in memory: its origin (and so its key ID) is its URL, which
changes when the stack restarts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from signer.testing.merkle import MerkleTree, leaf_hash
from signer.testing.rekor_log import canonical_json

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_ENTRY_BYTES = 64 * 1024  # an entry bundle prefixes each leaf with a uint16 length


class EntryError(ValueError):
    """A request the log refuses (answered 400)."""


class _KeyDetails(NamedTuple):
    key_type: type[Any]
    curve: str | None  # ECDSA curve name
    hash_type: type[hashes.HashAlgorithm]


#: ``keyDetails`` values accepted for hashedrekord 0.0.2 (protobuf-specs' enum names)
KEY_DETAILS: dict[str, _KeyDetails] = {
    "PKIX_ECDSA_P256_SHA_256": _KeyDetails(ec.EllipticCurvePublicKey, "secp256r1",
                                           hashes.SHA256),
    "PKIX_ECDSA_P384_SHA_384": _KeyDetails(ec.EllipticCurvePublicKey, "secp384r1",
                                           hashes.SHA384),
    "PKIX_ECDSA_P521_SHA_512": _KeyDetails(ec.EllipticCurvePublicKey, "secp521r1",
                                           hashes.SHA512),
    "PKIX_RSA_PKCS1V15_2048_SHA256": _KeyDetails(rsa.RSAPublicKey, None, hashes.SHA256),
    "PKIX_RSA_PKCS1V15_3072_SHA256": _KeyDetails(rsa.RSAPublicKey, None, hashes.SHA256),
    "PKIX_RSA_PKCS1V15_4096_SHA256": _KeyDetails(rsa.RSAPublicKey, None, hashes.SHA256),
}


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise EntryError(f"missing {what}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise EntryError(f"{what} is not valid base64") from None


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EntryError(f"missing {what}")
    return value


def _verifier_key(verifier: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The public key of a verifier and its canonical (protobuf JSON) form."""
    certificate = verifier.get("x509Certificate")
    public_key = verifier.get("publicKey")
    if (certificate is None) == (public_key is None):
        raise EntryError("the verifier needs exactly one of x509Certificate or publicKey")
    key: Any
    try:
        if certificate is not None:
            raw = _b64(_object(certificate, "x509Certificate").get("rawBytes"),
                       "x509Certificate.rawBytes")
            key = x509.load_der_x509_certificate(raw).public_key()
            return key, {"x509Certificate": {"rawBytes": base64.b64encode(raw).decode()}}
        raw = _b64(_object(public_key, "publicKey").get("rawBytes"), "publicKey.rawBytes")
        key = serialization.load_der_public_key(raw)
    except (ValueError, UnsupportedAlgorithm) as error:
        raise EntryError(f"invalid verifier: {error}") from None
    return key, {"publicKey": {"rawBytes": base64.b64encode(raw).decode()}}


def canonical_hashedrekord(request: Any) -> bytes:
    """Check a ``hashedRekordRequestV002`` and return the leaf bytes the log stores."""
    spec = _object(request, "hashedRekordRequestV002")
    digest = _b64(spec.get("digest"), "digest")
    signature_obj = _object(spec.get("signature"), "signature")
    signature = _b64(signature_obj.get("content"), "signature.content")
    verifier = _object(signature_obj.get("verifier"), "signature.verifier")
    key_details = verifier.get("keyDetails")
    details = KEY_DETAILS.get(key_details) if isinstance(key_details, str) else None
    if details is None:
        raise EntryError(f"unsupported keyDetails {key_details!r}")
    key, canonical_verifier = _verifier_key(verifier)
    if not isinstance(key, details.key_type) or (
            isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name != details.curve):
        raise EntryError(f"the verifier's key does not match keyDetails {key_details}")
    algorithm = details.hash_type()
    if len(digest) != algorithm.digest_size:
        raise EntryError(f"the digest is not a {algorithm.name} digest")
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(Prehashed(algorithm)))
        else:
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(signature, digest, padding.PKCS1v15(), Prehashed(algorithm))
    except InvalidSignature:
        raise EntryError("verifying signature: the signature does not verify") from None
    canonical_verifier["keyDetails"] = key_details
    body = {
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {"hashedRekordV002": {
            "data": {"algorithm": _hash_enum(algorithm),
                     "digest": base64.b64encode(digest).decode()},
            "signature": {"content": base64.b64encode(signature).decode(),
                          "verifier": canonical_verifier},
        }},
    }
    return canonical_json(body)


def _hash_enum(algorithm: hashes.HashAlgorithm) -> str:
    return {"sha256": "SHA2_256", "sha384": "SHA2_384", "sha512": "SHA2_512"}[algorithm.name]


def c2sp_key_id(name: str, key: ed25519.Ed25519PublicKey) -> bytes:
    """C2SP signed-note key ID of an Ed25519 key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ raw key)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + raw).digest()


def origin_of(url: str) -> str:
    """The checkpoint origin (and key name) of a log at ``url``: the URL without scheme."""
    parts = urlsplit(url)
    return (parts.netloc + parts.path).rstrip("/")


class RekorV2Log:
    """The tile-based log: leaves, tree, checkpoints, entries; in memory, thread-safe."""

    def __init__(self, key: ed25519.Ed25519PrivateKey, origin: str = "rekor-v2.local") -> None:
        self.key = key
        self.origin = origin
        self.tree = MerkleTree()
        self._bodies: list[bytes] = []
        self._index_by_leaf: dict[bytes, int] = {}
        self._lock = threading.RLock()

    @property
    def log_id(self) -> bytes:
        """The C2SP key ID (log ID and, in its first 4 bytes, the note key hint)."""
        return c2sp_key_id(self.origin, self.key.public_key())

    @property
    def size(self) -> int:
        """Number of entries."""
        return self.tree.size

    def add(self, request: Any) -> dict[str, Any]:
        """Log a ``hashedRekordRequestV002`` (an equal entry is answered again, not
        added twice) and return its ``TransparencyLogEntry``."""
        body = canonical_hashedrekord(request)
        if len(body) > MAX_ENTRY_BYTES - 1:
            raise EntryError("the entry is too large for an entry bundle")
        leaf = leaf_hash(body)
        with self._lock:
            index = self._index_by_leaf.get(leaf)
            if index is None:
                index = self.tree.append(leaf)
                self._bodies.append(body)
                self._index_by_leaf[leaf] = index
            return self.entry(index)

    def entry(self, index: int) -> dict[str, Any]:
        """The ``TransparencyLogEntry`` of entry ``index`` against the current tree."""
        with self._lock:
            size = self.tree.size
            proof = self.tree.inclusion_proof(index, size)
            root = self.tree.root(size)
            checkpoint = self.checkpoint(size)
            body = self._bodies[index]
        return {
            "logIndex": str(index),
            "logId": {"keyId": base64.b64encode(self.log_id).decode()},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
            "inclusionProof": {
                "logIndex": str(index),
                "rootHash": base64.b64encode(root).decode(),
                "treeSize": str(size),
                "hashes": [base64.b64encode(h).decode() for h in proof],
                "checkpoint": {"envelope": checkpoint},
            },
            "canonicalizedBody": base64.b64encode(body).decode(),
        }

    def checkpoint(self, size: int | None = None) -> str:
        """The signed note for tree ``size`` (default: the current size)."""
        with self._lock:
            size = self.tree.size if size is None else size
            root = self.tree.root(size)
        note = f"{self.origin}\n{size}\n{base64.b64encode(root).decode()}\n"
        signature = self.key.sign(note.encode("utf-8"))
        line = base64.b64encode(self.log_id[:4] + signature).decode()
        return f"{note}\n\u2014 {self.origin} {line}\n"

    # -- tiles ----------------------------------------------------------------------
    def tile(self, level: int, index: int, width: int | None) -> bytes | None:
        """Hashes of level tile ``level/index`` (``width`` for a partial tile), or None
        when the tree does not hold that many complete nodes yet."""
        span = 1 << (TILE_HEIGHT * level)  # leaves under one hash of this tile
        wanted = TILE_WIDTH if width is None else width
        if not 1 <= wanted <= TILE_WIDTH or level < 0 or index < 0:
            return None
        with self._lock:
            first = index * TILE_WIDTH
            if (first + wanted) * span > self.tree.size:
                return None
            return b"".join(self.tree.subtree_root((first + i) * span, span)
                            for i in range(wanted))

    def entry_bundle(self, index: int, width: int | None) -> bytes | None:
        """Entry bundle ``index`` (``width`` entries for a partial bundle), or None."""
        wanted = TILE_WIDTH if width is None else width
        if not 1 <= wanted <= TILE_WIDTH or index < 0:
            return None
        with self._lock:
            first = index * TILE_WIDTH
            if first + wanted > len(self._bodies):
                return None
            bodies = self._bodies[first:first + wanted]
        return b"".join(len(b).to_bytes(2, "big") + b for b in bodies)
