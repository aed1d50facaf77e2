"""The signature check over the stored payload bytes, for every supported key type."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from signer.formats.legacy import build_simple_signing_payload
from signer.keys import load_public_key_pem, public_key_pem
from signer.verify.checks import CheckFailed, check_signature

PAYLOAD = build_simple_signing_payload("127.0.0.1:5000/a/b", "sha256:" + "a" * 64)


def _sign(kind: str) -> tuple[object, bytes]:
    if kind.startswith("ecdsa"):
        curve, digest = {"ecdsa-p256": (ec.SECP256R1(), hashes.SHA256()),
                         "ecdsa-p384": (ec.SECP384R1(), hashes.SHA384()),
                         "ecdsa-p521": (ec.SECP521R1(), hashes.SHA512())}[kind]
        key = ec.generate_private_key(curve)
        return key.public_key(), key.sign(PAYLOAD, ec.ECDSA(digest))
    if kind == "rsa":
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return rsa_key.public_key(), rsa_key.sign(PAYLOAD, padding.PKCS1v15(), hashes.SHA256())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    return ed_key.public_key(), ed_key.sign(PAYLOAD)


@pytest.mark.parametrize("kind", ["ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa", "ed25519"])
def test_each_key_type_verifies_and_rejects_a_changed_byte(kind: str) -> None:
    public, signature = _sign(kind)
    key = load_public_key_pem(public_key_pem(public))  # type: ignore[arg-type]
    check_signature(key, signature, PAYLOAD, any_hash=True)
    changed = bytearray(PAYLOAD)
    changed[10] ^= 0x01
    with pytest.raises(CheckFailed) as info:
        check_signature(key, signature, bytes(changed), any_hash=True)
    assert info.value.check == "signature"


def test_certificate_keys_use_sha256_only() -> None:
    public, signature = _sign("ecdsa-p384")
    key = load_public_key_pem(public_key_pem(public))  # type: ignore[arg-type]
    with pytest.raises(CheckFailed):
        check_signature(key, signature, PAYLOAD, any_hash=False)


def test_empty_signature() -> None:
    public, _ = _sign("ecdsa-p256")
    key = load_public_key_pem(public_key_pem(public))  # type: ignore[arg-type]
    with pytest.raises(CheckFailed, match="empty signature"):
        check_signature(key, b"", PAYLOAD)
