"""Helpers for the gate's unit tests: PEM public keys and policy text."""

from __future__ import annotations

import textwrap

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def public_pem() -> str:
    """A fresh P-256 public key as PEM text."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_block(indent: int) -> str:
    """``key: |`` followed by a PEM key, indented for a trust root entry."""
    pad = " " * indent
    body = textwrap.indent(public_pem(), pad + "  ")
    return f"key: |\n{body}"
