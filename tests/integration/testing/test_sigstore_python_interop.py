"""sigstore-python (an independent client) signs against the local stack and verifies
offline with the stack's trust material; corrupting the SET, an inclusion-proof hash,
the checkpoint signature or the SCT makes it reject the bundle."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore.errors import VerificationError
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier, policy

from signer.testing.stack import Stack

ARTIFACT = b"artifact signed by sigstore-python against the local stack\n"


def _trust_config(stack: Stack) -> ClientTrustConfig:
    return ClientTrustConfig.from_json(stack.client_trust_config_path.read_text())


def _sign(stack: Stack, artifact: bytes) -> Bundle:
    context = SigningContext.from_trust_config(_trust_config(stack))
    with context.signer(IdentityToken(stack.issue_token())) as signer:
        return signer.sign_artifact(artifact)


def _verify(stack: Stack, bundle: Bundle, artifact: bytes = ARTIFACT) -> None:
    verifier = Verifier(trusted_root=_trust_config(stack).trusted_root)
    identity = policy.Identity(identity=stack.default_identity, issuer=stack.oidc_issuer_url)
    verifier.verify_artifact(artifact, bundle, identity)


@pytest.fixture(scope="module")
def signed_bundle(sigstore_stack: Stack) -> Bundle:
    """A bundle made by sigstore-python, after a few other entries (so proofs are long)."""
    for n in range(3):
        _sign(sigstore_stack, b"filler %d" % n)
    return _sign(sigstore_stack, ARTIFACT)


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


def _mutate(bundle: Bundle, change: Callable[[dict[str, Any]], None]) -> Bundle:
    document = json.loads(bundle.to_json())
    change(document)
    return Bundle.from_json(json.dumps(document))


def _tlog_entry(document: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = document["verificationMaterial"]["tlogEntries"][0]
    return entry


def test_sigstore_python_signs_and_verifies_offline(
    sigstore_stack: Stack, signed_bundle: Bundle
) -> None:
    _verify(sigstore_stack, signed_bundle)
    document = json.loads(signed_bundle.to_json())
    entry = _tlog_entry(document)
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.1"}
    assert int(entry["inclusionProof"]["treeSize"]) >= 4
    assert entry["inclusionProof"]["hashes"], "the proof is not trivial"
    cert = x509.load_der_x509_certificate(
        base64.b64decode(document["verificationMaterial"]["certificate"]["rawBytes"])
    )
    assert cert.issuer == sigstore_stack.ca.intermediate.subject


def test_verification_fails_for_another_artifact(
    sigstore_stack: Stack, signed_bundle: Bundle
) -> None:
    with pytest.raises(VerificationError):
        _verify(sigstore_stack, signed_bundle, b"something else")


def test_corrupted_set_is_rejected(sigstore_stack: Stack, signed_bundle: Bundle) -> None:
    def change(document: dict[str, Any]) -> None:
        promise = _tlog_entry(document)["inclusionPromise"]
        sig = base64.b64decode(promise["signedEntryTimestamp"])
        promise["signedEntryTimestamp"] = base64.b64encode(_flip_last_byte(sig)).decode()

    with pytest.raises(VerificationError, match="SET"):
        _verify(sigstore_stack, _mutate(signed_bundle, change))


def test_corrupted_inclusion_proof_hash_is_rejected(
    sigstore_stack: Stack, signed_bundle: Bundle
) -> None:
    def change(document: dict[str, Any]) -> None:
        proof = _tlog_entry(document)["inclusionProof"]
        proof["hashes"][0] = base64.b64encode(
            _flip_last_byte(base64.b64decode(proof["hashes"][0]))
        ).decode()

    with pytest.raises(VerificationError, match="inclusion proof"):
        _verify(sigstore_stack, _mutate(signed_bundle, change))


def test_corrupted_checkpoint_signature_is_rejected(
    sigstore_stack: Stack, signed_bundle: Bundle
) -> None:
    def change(document: dict[str, Any]) -> None:
        checkpoint = _tlog_entry(document)["inclusionProof"]["checkpoint"]
        note, _, signature_line = checkpoint["envelope"].rstrip("\n").rpartition("\n")
        prefix, _, b64 = signature_line.rpartition(" ")
        tampered = base64.b64encode(_flip_last_byte(base64.b64decode(b64))).decode()
        checkpoint["envelope"] = f"{note}\n{prefix} {tampered}\n"

    with pytest.raises(VerificationError, match="checkpoint"):
        _verify(sigstore_stack, _mutate(signed_bundle, change))


# -- SCT: flip a byte of the embedded SCT's signature and re-sign the certificate with the
# -- stack's intermediate key, so only the SCT is wrong (the chain still verifies).
def _der_children(data: bytes) -> list[bytes]:
    def read(offset: int) -> tuple[int, int]:
        first = data[offset + 1]
        if first < 0x80:
            return offset + 2, offset + 2 + first
        count = first & 0x7F
        start = offset + 2 + count
        return start, start + int.from_bytes(data[offset + 2 : start], "big")

    start, end = read(0)
    children = []
    while start < end:
        _, stop = read(start)
        children.append(data[start:stop])
        start = stop
    return children


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def _with_corrupted_sct(stack: Stack, cert: x509.Certificate) -> x509.Certificate:
    tbs, algorithm, _signature = _der_children(cert.public_bytes(serialization.Encoding.DER))
    # The SCT list is the last extension and the SCT signature its last bytes.
    corrupted_tbs = _flip_last_byte(tbs)
    signature = stack.ca.intermediate_key.sign(corrupted_tbs, ec.ECDSA(hashes.SHA384()))
    der = _der(0x30, corrupted_tbs + algorithm + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


def test_corrupted_sct_is_rejected(sigstore_stack: Stack, signed_bundle: Bundle) -> None:
    def change(document: dict[str, Any]) -> None:
        material = document["verificationMaterial"]
        cert = x509.load_der_x509_certificate(base64.b64decode(material["certificate"]["rawBytes"]))
        bad = _with_corrupted_sct(sigstore_stack, cert)
        bad.verify_directly_issued_by(sigstore_stack.ca.intermediate)  # chain still fine
        material["certificate"]["rawBytes"] = base64.b64encode(
            bad.public_bytes(serialization.Encoding.DER)
        ).decode()

    with pytest.raises(VerificationError, match="SCT"):
        _verify(sigstore_stack, _mutate(signed_bundle, change))


def test_clock_skew_knob_makes_integrated_time_fall_outside_the_certificate(
    fresh_faults: Stack,
) -> None:
    fresh_faults.set_clock_skew(rekor_seconds=3600)
    bundle = _sign(fresh_faults, ARTIFACT)
    with pytest.raises(VerificationError):
        _verify(fresh_faults, bundle)
