"""Entry validation and canonical bodies of the local Rekor (no HTTP)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from signer.testing.rekor_log import canonical_json
from signer.testing.rekor_types import EntryError, canonicalize, pae


def _pem(key: Any) -> bytes:
    data: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


def _proposal(pem: bytes, signature: bytes, algorithm: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "signature": {
                "content": base64.b64encode(signature).decode(),
                "publicKey": {"content": base64.b64encode(pem).decode()},
            },
            "data": {"hash": {"algorithm": algorithm, "value": value}},
            "extra": "dropped",
        },
    }


def test_canonical_json_is_sorted_and_compact() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "x"]}) == b'{"a":[true,null,"x"],"b":1}'


def test_rsa_sha512_hashedrekord_is_accepted_and_canonicalised() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    digest = hashlib.sha512(b"data").digest()
    signature = key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA512()))
    entry = canonicalize(_proposal(_pem(key), signature, "sha512", digest.hex()))
    body = json.loads(entry.body)
    assert "extra" not in body["spec"]
    assert entry.body == canonical_json(body)
    assert f"sha512:{digest.hex()}" in entry.search_keys


def test_signature_over_another_digest_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    signature = key.sign(hashlib.sha256(b"a").digest(), ec.ECDSA(Prehashed(hashes.SHA256())))
    proposal = _proposal(_pem(key), signature, "sha256", hashlib.sha256(b"b").hexdigest())
    with pytest.raises(EntryError, match="signature"):
        canonicalize(proposal)


@pytest.mark.parametrize(
    ("algorithm", "value"),
    [("md5", "00" * 16), ("sha256", "00" * 31), ("sha256", "zz" * 32), ("sha384", "00" * 32)],
)
def test_bad_hashes_are_refused(algorithm: str, value: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(EntryError):
        canonicalize(_proposal(_pem(key), b"sig", algorithm, value))


def test_dsse_requires_a_matching_verifier() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    payload = b'{"_type":"https://in-toto.io/Statement/v1"}'
    signature = key.sign(pae("application/vnd.in-toto+json", payload), ec.ECDSA(hashes.SHA256()))
    envelope = {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": "application/vnd.in-toto+json",
        "signatures": [{"sig": base64.b64encode(signature).decode()}],
    }

    def proposal(verifier: Any) -> dict[str, Any]:
        return {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "proposedContent": {
                    "envelope": json.dumps(envelope),
                    "verifiers": [base64.b64encode(_pem(verifier)).decode()],
                }
            },
        }

    entry = canonicalize(proposal(key))
    body = json.loads(entry.body)
    assert body["spec"]["payloadHash"]["value"] == hashlib.sha256(payload).hexdigest()
    with pytest.raises(EntryError, match="signature"):
        canonicalize(proposal(other))
