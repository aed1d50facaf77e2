"""Parsing of Fulcio and Rekor answers, dedupe and option checks (offline)."""

from __future__ import annotations

import base64
import json

import pytest

from signer.errors import SigningError, UsageError
from signer.formats.legacy import (
    ANNOTATION_BUNDLE,
    ANNOTATION_SIGNATURE,
    SIMPLE_SIGNING_MEDIA_TYPE,
    Descriptor,
    SignatureLayer,
)
from signer.keys import generate_ephemeral_key, sign_payload
from signer.services import TransientServiceError, with_retries
from signer.services.fulcio import build_csr, parse_signing_certificate
from signer.services.rekor import parse_log_entry
from signer.sign import SignOptions, sign_images
from signer.signing.publish import is_duplicate


def test_fulcio_response_without_chain_or_issuer_is_refused() -> None:
    with pytest.raises(SigningError, match="no certificate chain"):
        parse_signing_certificate(b"{}")
    with pytest.raises(SigningError, match="not JSON"):
        parse_signing_certificate(b"<html>")
    with pytest.raises(SigningError, match="does not parse"):
        parse_signing_certificate(json.dumps({"signedCertificateEmbeddedSct": {
            "chain": {"certificates": ["junk", "junk"]}}}).encode())


def test_csr_has_empty_subject_and_our_key() -> None:
    from cryptography import x509

    key = generate_ephemeral_key()
    csr = x509.load_pem_x509_csr(build_csr(key))
    assert csr.is_signature_valid
    assert len(csr.subject) == 0
    assert csr.public_key().public_numbers() == key.public_key().public_numbers()


def _entry(**overrides: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "body": base64.b64encode(b"{}").decode(), "integratedTime": 1, "logID": "ab" * 32,
        "logIndex": 7, "verification": {"signedEntryTimestamp": base64.b64encode(b"s").decode(),
                                        "inclusionProof": {"logIndex": 7, "treeSize": 8,
                                                           "rootHash": "00" * 32,
                                                           "hashes": [], "checkpoint": "c"}}}
    entry.update(overrides)
    return {"ab" * 40: entry}


def test_rekor_log_entry_parsing() -> None:
    entry = parse_log_entry(_entry())
    assert entry.log_index == 7 and entry.inclusion_proof is not None
    assert json.loads(entry.rekor_bundle().to_json())["Payload"]["logIndex"] == 7
    with pytest.raises(SigningError, match="exactly one"):
        parse_log_entry({**_entry(), "cd" * 40: {}})
    with pytest.raises(SigningError, match="invalid logIndex"):
        parse_log_entry(_entry(logIndex=-1))
    with pytest.raises(SigningError, match="signed entry timestamp"):
        parse_log_entry(_entry(verification={}))


def test_with_retries_is_bounded() -> None:
    calls = []

    def failing() -> None:
        calls.append(1)
        raise TransientServiceError(SigningError("down"))

    with pytest.raises(SigningError, match="down"):
        with_retries(failing, attempts=3, backoff=0, sleep=lambda _s: None)
    assert len(calls) == 3


def _layer(payload: bytes, **annotations: str) -> SignatureLayer:
    return SignatureLayer(payload, SIMPLE_SIGNING_MEDIA_TYPE, annotations)


def test_dedupe_rules() -> None:
    key = generate_ephemeral_key()
    payload = b'{"x":1}'
    first = _layer(payload, **{ANNOTATION_SIGNATURE:
                               base64.b64encode(sign_payload(key, payload)).decode()})
    second = _layer(payload, **{ANNOTATION_SIGNATURE:
                                base64.b64encode(sign_payload(key, payload)).decode()})
    existing = first.descriptor()

    def verifies(data: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        try:
            key.public_key().verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    assert is_duplicate(second, existing, verifies)  # same key, new random signature
    other_key = generate_ephemeral_key()
    third = _layer(payload, **{ANNOTATION_SIGNATURE:
                               base64.b64encode(sign_payload(other_key, payload)).decode()})
    assert not is_duplicate(third, existing, lambda d, s: False)
    with_bundle = _layer(payload, **{ANNOTATION_SIGNATURE: "x", ANNOTATION_BUNDLE: "{}"})
    assert not is_duplicate(with_bundle, existing, verifies)
    other_payload = Descriptor(SIMPLE_SIGNING_MEDIA_TYPE, 1, "sha256:" + "0" * 64,
                               dict(existing.annotations))
    assert not is_duplicate(second, other_payload, verifies)


def test_option_rules() -> None:
    with pytest.raises(UsageError, match="only allowed with --key"):
        sign_images(object(), ["x"], SignOptions(tlog_upload=False))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="no image"):
        sign_images(object(), [], SignOptions())  # type: ignore[arg-type]
    options = SignOptions(identity_token="secret.token.value")
    assert "secret.token.value" not in repr(options)
