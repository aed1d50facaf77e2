"""The Rekor step of signing and the checks on Rekor's answer (layer L4).

Rekor's response is trusted only after: the entry body equals what we sent (kind,
hash, signature bytes, verifier by DER), the log is one of the trusted root's, its
SET verifies, the inclusion proof leads from our leaf to the checkpoint's root and
the checkpoint is signed by the log. For a certificate, the entry's time must lie
inside the certificate's validity.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from signer.errors import SigningError, VerificationError
from signer.services.rekor import LogEntry, RekorClient, hashedrekord_proposal
from signer.trust import TrustedRoot


def expected_entry_uuid(proposal: dict[str, Any]) -> str:
    """The UUID Rekor will give ``proposal``: hex RFC 6962 leaf hash of its JCS form."""
    from signer.verify.tlog import canonical_json, leaf_hash

    return leaf_hash(canonical_json(proposal)).hex()


def expected_dsse_uuid(envelope: dict[str, Any], payload: bytes, signature: bytes,
                       verifier_pem: bytes) -> str:
    """The UUID Rekor will give a dsse 0.0.1 entry of ``envelope`` (its stored body:
    the hashes of the canonical envelope and of the payload, and the signature with its
    verifier). Only used to look an entry up before a retried POST; if it is wrong the
    lookup misses and the POST is answered 409 with the existing entry."""
    from signer.verify.tlog import canonical_json, leaf_hash

    body = {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256",
                             "value": hashlib.sha256(canonical_json(envelope)).hexdigest()},
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": [{"signature": base64.b64encode(signature).decode(),
                            "verifier": base64.b64encode(verifier_pem).decode()}],
        },
    }
    return leaf_hash(canonical_json(body)).hex()


def _verifier_der(pem: bytes) -> bytes:
    """DER of a PEM certificate's or public key's SubjectPublicKeyInfo / certificate."""
    if b"CERTIFICATE" in pem:
        return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    return serialization.load_pem_public_key(pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_entry_body(entry: LogEntry, signature: bytes, verifier_pem: bytes,
                     sha256_hex: str) -> None:
    """The entry Rekor returned records exactly our signature, verifier and digest."""
    try:
        body = json.loads(entry.decoded_body())
        spec = body["spec"]
        hash_obj = spec["data"]["hash"]
        recorded_signature = base64.b64decode(spec["signature"]["content"], validate=True)
        recorded_verifier = base64.b64decode(spec["signature"]["publicKey"]["content"],
                                             validate=True)
        kind, version = body["kind"], body["apiVersion"]
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
        raise SigningError("Rekor returned an entry body that is not a hashedrekord") from None
    problems = []
    if (kind, version) != ("hashedrekord", "0.0.1"):
        problems.append(f"kind {kind}/{version}")
    if hash_obj.get("algorithm") != "sha256" or hash_obj.get("value") != sha256_hex:
        problems.append("payload digest")
    if recorded_signature != signature:
        problems.append("signature")
    try:
        if _verifier_der(recorded_verifier) != _verifier_der(verifier_pem):
            problems.append("certificate/public key")
    except ValueError:
        problems.append("certificate/public key (unparseable)")
    if problems:
        raise SigningError("the Rekor entry does not record what we sent: "
                           + ", ".join(problems) + " differ")


def check_entry_proofs(entry: LogEntry, trust: TrustedRoot) -> None:
    """SET, inclusion proof and signed checkpoint, with the trusted root's log key."""
    from signer.verify.tlog import leaf_hash, verify_checkpoint, verify_inclusion, verify_set

    try:
        log_id = bytes.fromhex(entry.log_id)
    except ValueError:
        raise SigningError("Rekor returned an entry with a malformed logID") from None
    when = datetime.fromtimestamp(entry.integrated_time, tz=timezone.utc)
    logs = trust.tlogs_for(log_id, when) or trust.tlogs_for(log_id)
    if not logs:
        raise SigningError(f"Rekor's log {entry.log_id[:16]}… is not in the trusted root",
                           hint="check --rekor-url and --trusted-root belong together")
    log = logs[0]
    proof = entry.inclusion_proof
    if proof is None:
        raise SigningError("Rekor returned no inclusion proof for the new entry")
    try:
        verify_set(entry.rekor_bundle(), log.key)
        verify_inclusion(leaf_hash(entry.decoded_body()), proof.log_index, proof.tree_size,
                         [bytes.fromhex(h) for h in proof.hashes], bytes.fromhex(proof.root_hash))
        checkpoint = verify_checkpoint(proof.checkpoint, log.key,
                                       key_id=log.checkpoint_key_id)
    except VerificationError as error:
        raise SigningError(f"the Rekor entry failed the {error.message}",
                           hint="the log answered with data that does not verify") from None
    except ValueError:
        raise SigningError("Rekor returned a malformed inclusion proof") from None
    if checkpoint.root_hash != bytes.fromhex(proof.root_hash) or \
            checkpoint.tree_size != proof.tree_size:
        raise SigningError("the Rekor checkpoint does not match the inclusion proof")


def check_certificate_time(entry: LogEntry, certificate: x509.Certificate) -> None:
    """The entry was integrated while the certificate was valid (what verifiers require)."""
    when = datetime.fromtimestamp(entry.integrated_time, tz=timezone.utc)
    if not certificate.not_valid_before_utc <= when <= certificate.not_valid_after_utc:
        raise SigningError("the Rekor entry time lies outside the certificate's validity",
                           hint="the machine clock or the log's clock is wrong; sign again")


def bundle_tlog_entry(entry: LogEntry) -> dict[str, Any]:
    """A Rekor v1 answer as a bundle ``TransparencyLogEntry`` (docs/sigstore-protocols.md
    §3.10): hex fields become base64, int64 fields strings, the body is kept as sent."""
    try:
        body = json.loads(entry.decoded_body())
        kind, version = str(body["kind"]), str(body["apiVersion"])
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
        raise SigningError("Rekor returned an entry body that is not JSON") from None
    proof = entry.inclusion_proof
    if proof is None:
        raise SigningError("Rekor returned no inclusion proof for the new entry")

    def b64_hex(text: str) -> str:
        return base64.b64encode(bytes.fromhex(text)).decode()

    return {
        "logIndex": str(entry.log_index),
        "logId": {"keyId": b64_hex(entry.log_id)},
        "kindVersion": {"kind": kind, "version": version},
        "integratedTime": str(entry.integrated_time),
        "inclusionPromise": {"signedEntryTimestamp":
                             base64.b64encode(entry.signed_entry_timestamp).decode()},
        "inclusionProof": {
            "logIndex": str(proof.log_index),
            "rootHash": b64_hex(proof.root_hash),
            "treeSize": str(proof.tree_size),
            "hashes": [b64_hex(h) for h in proof.hashes],
            "checkpoint": {"envelope": proof.checkpoint},
        },
        "canonicalizedBody": entry.body,
    }


def log_signature(rekor: RekorClient, trust: TrustedRoot, *, payload: bytes, signature: bytes,
                  verifier_pem: bytes, certificate: x509.Certificate | None) -> LogEntry:
    """Upload a hashedrekord for ``payload`` and return the checked entry."""
    sha256_hex = hashlib.sha256(payload).hexdigest()
    proposal = hashedrekord_proposal(signature, verifier_pem, sha256_hex)
    entry = rekor.create_entry(proposal, expected_uuid=expected_entry_uuid(proposal))
    check_entry_body(entry, signature, verifier_pem, sha256_hex)
    check_entry_proofs(entry, trust)
    if certificate is not None:
        check_certificate_time(entry, certificate)
    return entry
