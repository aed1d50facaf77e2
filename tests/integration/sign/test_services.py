"""Fulcio and Rekor clients against the local stack: parsing, 409, retries."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from signer.errors import SigningError
from signer.keys import generate_ephemeral_key, public_key_pem
from signer.oidc import parse_identity_token
from signer.services.fulcio import FulcioClient
from signer.services.rekor import RekorClient, hashedrekord_proposal
from signer.signing.identity import check_signing_certificate
from signer.signing.transparency import (
    check_entry_body,
    check_entry_proofs,
    expected_entry_uuid,
    log_signature,
)
from signer.testing.stack import Stack
from signer.trust import TrustedRoot, load_default

pytestmark = pytest.mark.slow


def _proposal(payload: bytes) -> tuple[dict[str, object], bytes, bytes]:
    key = generate_ephemeral_key()
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    pem = public_key_pem(key.public_key())
    return hashedrekord_proposal(signature, pem, hashlib.sha256(payload).hexdigest()), \
        signature, pem


def test_fulcio_certificate_checked_against_trusted_root(sigstore_stack: Stack) -> None:
    trust = TrustedRoot.from_file(sigstore_stack.trusted_root_path)
    token = parse_identity_token(sigstore_stack.issue_token())
    key = generate_ephemeral_key()
    fulcio = FulcioClient(sigstore_stack.fulcio_url)
    certificate = fulcio.request_certificate(key, token)
    fulcio.close()
    identity, issuer = check_signing_certificate(certificate, key, token, trust)
    assert identity == sigstore_stack.default_identity
    assert issuer == sigstore_stack.oidc_issuer_url
    assert certificate.leaf_pem.startswith(b"-----BEGIN CERTIFICATE-----\n")
    assert len(certificate.chain) >= 1
    # the same certificate is refused for another key, and under another trusted root
    with pytest.raises(SigningError, match="different key"):
        check_signing_certificate(certificate, generate_ephemeral_key(), token, trust)
    with pytest.raises(SigningError, match="certificate chain"):
        check_signing_certificate(certificate, key, token, load_default())


def test_rekor_uuid_prediction_and_409_fetches_existing(sigstore_stack: Stack) -> None:
    trust = TrustedRoot.from_file(sigstore_stack.trusted_root_path)
    proposal, signature, pem = _proposal(b"payload for 409")
    rekor = RekorClient(sigstore_stack.rekor_url)
    first = rekor.create_entry(proposal)
    assert first.uuid.endswith(expected_entry_uuid(proposal))
    check_entry_body(first, signature, pem, hashlib.sha256(b"payload for 409").hexdigest())
    check_entry_proofs(first, trust)
    again = rekor.create_entry(proposal)  # 409 -> the existing entry, not a new one
    assert again.log_index == first.log_index and again.body == first.body
    by_index = rekor.get_entry_by_index(first.log_index)
    assert by_index.body == first.body
    with pytest.raises(SigningError, match="differ"):
        check_entry_body(first, signature[:-1] + bytes([signature[-1] ^ 1]), pem,
                         hashlib.sha256(b"payload for 409").hexdigest())
    rekor.close()


def test_rekor_connection_drop_then_lookup_before_repost(fresh_faults: Stack) -> None:
    stack = fresh_faults
    trust = TrustedRoot.from_file(stack.trusted_root_path)
    key = generate_ephemeral_key()
    payload = b"payload for a dropped POST"
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    stack.faults("rekor").drop_next(1)
    rekor = RekorClient(stack.rekor_url, backoff=0.05)
    entry = log_signature(rekor, trust, payload=payload, signature=signature,
                          verifier_pem=public_key_pem(key.public_key()), certificate=None)
    rekor.close()
    assert entry.uuid.endswith(expected_entry_uuid(hashedrekord_proposal(
        signature, public_key_pem(key.public_key()), hashlib.sha256(payload).hexdigest())))


def test_rekor_entry_from_another_log_is_refused(sigstore_stack: Stack) -> None:
    proposal, _signature, _pem = _proposal(b"payload for wrong trust")
    rekor = RekorClient(sigstore_stack.rekor_url)
    entry = rekor.create_entry(proposal)
    rekor.close()
    with pytest.raises(SigningError, match="not in the trusted root"):
        check_entry_proofs(entry, load_default())


@pytest.mark.parametrize("kind", ["github", "email"])
def test_fulcio_certificate_for_another_identity_is_refused(sigstore_stack: Stack,
                                                            kind: str) -> None:
    """Fulcio (or whatever answers at --fulcio-url with the trusted CA's key) issuing a
    certificate naming someone other than the token is refused before anything is
    published: the signature would otherwise verify as that other identity."""
    trust = TrustedRoot.from_file(sigstore_stack.trusted_root_path)
    if kind == "github":
        other = sigstore_stack.issue_token(
            job_workflow_ref="evil-org/evil/.github/workflows/x.yml@refs/heads/main")
        ours = sigstore_stack.issue_token()
    else:
        other = sigstore_stack.issue_email_token("mallory@example.com")
        ours = sigstore_stack.issue_email_token("alice@example.com")
    key = generate_ephemeral_key()
    fulcio = FulcioClient(sigstore_stack.fulcio_url)
    try:
        certificate = fulcio.request_certificate(key, parse_identity_token(other))
    finally:
        fulcio.close()
    token = parse_identity_token(ours)
    with pytest.raises(SigningError, match=r"names .* not the token's"):
        check_signing_certificate(certificate, key, token, trust)
    # the token the certificate was issued for is accepted
    check_signing_certificate(certificate, key, parse_identity_token(other), trust)
