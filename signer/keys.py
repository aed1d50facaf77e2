"""Keys (layer L1): public key loading here; private keys, ephemeral keys and
cosign's encrypted key format are added by the signing work."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from signer.errors import InputError

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


def load_public_key_pem(data: bytes, what: str = "public key") -> PublicKey:
    """Load a PEM (or DER) SubjectPublicKeyInfo: ECDSA P-256/384/521, RSA or Ed25519."""
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except (ValueError, TypeError):
        raise InputError(f"{what} is not a valid PEM public key",
                         hint="expected a '-----BEGIN PUBLIC KEY-----' file") from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)):
            raise InputError(f"{what} uses unsupported curve {key.curve.name}")
        return key
    if isinstance(key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        return key
    raise InputError(f"{what} has an unsupported key type {type(key).__name__}")


def public_key_der(key: PublicKey) -> bytes:
    """DER SubjectPublicKeyInfo of ``key`` (what log IDs and key comparisons use)."""
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_pem(key: PublicKey) -> bytes:
    """PEM SubjectPublicKeyInfo of ``key``."""
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
