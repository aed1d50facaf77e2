"""Load-or-create the long-lived keys of the local stack (test keys, never user keys).

The stack keeps its service keys in its directory so that a restart in the same
directory keeps the same trust material (and the Rekor log stays verifiable).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

KeyKind = Literal["p256", "p384", "rsa2048"]


def _generate(kind: KeyKind) -> PrivateKeyTypes:
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
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
