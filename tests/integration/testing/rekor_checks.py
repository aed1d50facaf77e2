"""Test-side checks of Rekor v1 responses written from the spec (not the server's code):
hashedrekord proposals, SET, signed-note checkpoints and inclusion proofs."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from tests.unit.testing.rfc6962_verifier import hash_leaf, verify_inclusion


def hashedrekord(key: ec.EllipticCurvePrivateKey, artifact: bytes) -> dict[str, Any]:
    """A proposed hashedrekord entry signed by ``key`` (public key as PEM)."""
    digest = hashlib.sha256(artifact).digest()
    signature = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "signature": {
                "content": base64.b64encode(signature).decode(),
                "publicKey": {"content": base64.b64encode(pem).decode()},
            },
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
        },
    }


def only_entry(response_json: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The single (entryID, LogEntry) of a response map."""
    assert len(response_json) == 1
    ((entry_id, entry),) = response_json.items()
    return entry_id, entry


def verify_set(entry: dict[str, Any], log_key: ec.EllipticCurvePublicKey) -> None:
    """SET over canonical JSON {body, integratedTime, logID, logIndex} (raises if bad)."""
    payload = {k: entry[k] for k in ("body", "integratedTime", "logID", "logIndex")}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    signature = base64.b64decode(entry["verification"]["signedEntryTimestamp"])
    log_key.verify(signature, canonical, ec.ECDSA(hashes.SHA256()))


def verify_checkpoint(text: str, log_key: ec.EllipticCurvePublicKey) -> tuple[str, int, bytes]:
    """Verify a signed note; returns (origin, size, root)."""
    note, separator, signatures = text.partition("\n\n")
    assert separator and signatures.endswith("\n")
    body = note + "\n"
    key_id = hashlib.sha256(
        log_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).digest()
    for line in signatures.splitlines():
        assert line.startswith("\u2014 ")
        raw = base64.b64decode(line.rsplit(" ", 1)[1])
        if raw[:4] == key_id[:4]:
            log_key.verify(raw[4:], body.encode(), ec.ECDSA(hashes.SHA256()))
            break
    else:
        raise AssertionError("no signature line with the log key's hint")
    origin, size, root_b64 = body.splitlines()[:3]
    return origin, int(size), base64.b64decode(root_b64)


def verify_entry(entry: dict[str, Any], log_key: ec.EllipticCurvePublicKey) -> None:
    """SET, inclusion proof and checkpoint of one LogEntry."""
    verify_set(entry, log_key)
    proof = entry["verification"]["inclusionProof"]
    _, size, root = verify_checkpoint(proof["checkpoint"], log_key)
    assert size == proof["treeSize"]
    assert root.hex() == proof["rootHash"]
    leaf = hash_leaf(base64.b64decode(entry["body"]))
    hashes_ = [bytes.fromhex(h) for h in proof["hashes"]]
    assert verify_inclusion(proof["logIndex"], proof["treeSize"], leaf, hashes_, root)
