"""Load-or-create the long-lived keys of the local stack (test keys, never user keys).

The stack keeps its service keys in its directory so that a restart in the same
directory keeps the same trust material (and the Rekor log stays verifiable).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

KeyKind = Literal["p256", "p384", "rsa2048", "ed25519"]


def _generate(kind: KeyKind) -> PrivateKeyTypes:
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def load_or_create_key(directory: Path, name: str, kind: KeyKind) -> PrivateKeyTypes:
    """The private key stored as ``directory/name.key.pem``, created on first use."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.key.pem"
    if path.exists():
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    key = _generate(kind)
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return key


def spki_der(key: PublicKeyTypes) -> bytes:
    """DER SubjectPublicKeyInfo of a public key."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def spki_pem(key: PublicKeyTypes) -> str:
    """PEM SubjectPublicKeyInfo of a public key."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def key_id(key: PublicKeyTypes) -> bytes:
    """SHA-256 of the DER SubjectPublicKeyInfo (Rekor logID, CT log id)."""
    return hashlib.sha256(spki_der(key)).digest()


#: The hash each ECDSA curve signs with by default (as Fulcio and Rekor assume).
_CURVE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}


def verify_with_default_hash(key: object, signature: bytes, message: bytes) -> None:
    """Verify ``signature`` over ``message`` with the key type's default algorithm:
    ECDSA with its curve's hash, RSA PKCS#1 v1.5 SHA-256, or Ed25519. Raises
    ``InvalidSignature`` when it does not verify or the key type is unsupported."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        hash_type = _CURVE_HASHES.get(key.curve.name)
        if hash_type is None:
            raise InvalidSignature("unsupported curve")
        key.verify(signature, message, ec.ECDSA(hash_type()))
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(signature, message)
    else:
        raise InvalidSignature("unsupported key type")
