"""Private keys: ephemeral keys, cosign's encrypted key format, PKCS#8 PEM."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from signer.errors import InputError
from signer.keys import (
    COSIGN_KEY_LABEL,
    decrypt_cosign_private_key,
    encrypt_cosign_private_key,
    generate_ephemeral_key,
    load_private_key,
    load_private_key_bytes,
    private_key_pkcs8_der,
    sign_payload,
    write_cosign_key_pair,
)

# A key written by cosign itself with an empty password (COSIGN_PASSWORD=""), published
# as test data in conforma/cli internal/validate/vsa (TestSignVSA); data, not code.
COSIGN_EMPTY_PASSWORD_KEY = b"""-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----
eyJrZGYiOnsibmFtZSI6InNjcnlwdCIsInBhcmFtcyI6eyJOIjo2NTUzNiwiciI6
OCwicCI6MX0sInNhbHQiOiJLYU9OQzduQVJLOVgxM1FoaWFucjAwTTBGYys2Sitr
dnAxN1FuanpiVk9nPSJ9LCJjaXBoZXIiOnsibmFtZSI6Im5hY2wvc2VjcmV0Ym94
Iiwibm9uY2UiOiJVOHZqWWtqMlZOUFZGdlZFZWZ3bXZ5VGloUERrelBoaCJ9LCJj
aXBoZXJ0ZXh0IjoidWNWMnQ4TTZVNFJvb29FOXc0d3dkc3E1RDYrS2RKY245dERT
KzFwRDRGN040SVJOWEgzSTBua3h1a3NackFOUHR1emIvTkVYQ201dUp3Zjh3Qzl1
VlprbXdwNU5jRUZ6b3ZNS3JCZmNvdXdjaEkrMzkrQ0NhbVZPbzBucmRnZjhvcmpK
dXdrWDBYL1phY0RUTERGaUxyc1laMWVMMmlqMGU1MVRpZmVQNTl4WXNPK1FnM1Jv
OURRVjNQMk9ndDFDaVFHeGg1VXhUZytGc3c9PSJ9
-----END ENCRYPTED SIGSTORE PRIVATE KEY-----
"""


def test_ephemeral_key_is_p256_and_signs_der_ecdsa_sha256() -> None:
    key = generate_ephemeral_key()
    assert isinstance(key.curve, ec.SECP256R1)
    signature = sign_payload(key, b"payload")
    key.public_key().verify(signature, b"payload", ec.ECDSA(hashes.SHA256()))
    assert generate_ephemeral_key().private_numbers() != key.private_numbers()


def test_decrypts_a_key_written_by_cosign() -> None:
    key = load_private_key_bytes(COSIGN_EMPTY_PASSWORD_KEY, b"")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)


def test_cosign_key_wrong_password_is_one_line() -> None:
    with pytest.raises(InputError) as info:
        load_private_key_bytes(COSIGN_EMPTY_PASSWORD_KEY, b"not-the-password")
    assert "wrong password" in info.value.message
    assert "\n" not in info.value.message


def test_round_trip_and_envelope_shape() -> None:
    key = generate_ephemeral_key()
    pem = encrypt_cosign_private_key(key, b"s3cret", scrypt_params=(32768, 8, 1))
    lines = pem.decode().splitlines()
    assert lines[0] == f"-----BEGIN {COSIGN_KEY_LABEL}-----"
    assert lines[-1] == f"-----END {COSIGN_KEY_LABEL}-----"
    assert all(len(line) <= 64 for line in lines[1:-1])
    envelope = base64.b64decode("".join(lines[1:-1]))
    assert envelope.startswith(b'{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"')
    document = json.loads(envelope)
    assert list(document) == ["kdf", "cipher", "ciphertext"]
    assert document["cipher"]["name"] == "nacl/secretbox"
    assert len(base64.b64decode(document["kdf"]["salt"])) == 32
    assert len(base64.b64decode(document["cipher"]["nonce"])) == 24
    loaded = decrypt_cosign_private_key(envelope, b"s3cret")
    assert private_key_pkcs8_der(loaded) == private_key_pkcs8_der(key)
    # the older label is accepted too
    legacy = pem.replace(b"SIGSTORE", b"COSIGN")
    assert private_key_pkcs8_der(load_private_key_bytes(legacy, b"s3cret")) == \
        private_key_pkcs8_der(key)


def test_unsupported_scrypt_parameters_refused() -> None:
    key = generate_ephemeral_key()
    pem = encrypt_cosign_private_key(key, b"pw", scrypt_params=(16384, 8, 1))
    with pytest.raises(InputError, match="unsupported scrypt parameters"):
        load_private_key_bytes(pem, b"pw")


def test_pkcs8_pem_loads_without_password_prompt() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())

    def never() -> bytes:
        raise AssertionError("password asked for an unencrypted key")

    loaded = load_private_key_bytes(pem, never)
    assert private_key_pkcs8_der(loaded) == private_key_pkcs8_der(key)


def test_encrypted_pkcs8_pem_uses_password() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(b"pw"))
    assert private_key_pkcs8_der(load_private_key_bytes(pem, lambda: b"pw")) == \
        private_key_pkcs8_der(key)
    with pytest.raises(InputError, match="wrong password"):
        load_private_key_bytes(pem, b"bad")


def test_not_a_key_and_public_key_files_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a PEM"):
        load_private_key_bytes(b"hello")
    pub = generate_ephemeral_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(InputError, match="no private key"):
        load_private_key_bytes(pub)
    with pytest.raises(InputError, match="cannot read key file"):
        load_private_key(tmp_path / "missing.key")


def test_rsa_signs_pkcs1v15_and_ed25519_is_refused() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    from cryptography.hazmat.primitives.asymmetric import padding
    rsa_key.public_key().verify(sign_payload(rsa_key, b"x"), b"x", padding.PKCS1v15(),
                                hashes.SHA256())
    with pytest.raises(InputError, match="Ed25519"):
        sign_payload(ed25519.Ed25519PrivateKey.generate(), b"x")
    with pytest.raises(InputError, match="secp384r1"):
        sign_payload(ec.generate_private_key(ec.SECP384R1()), b"x")


def test_write_key_pair_modes_and_no_overwrite(tmp_path: Path) -> None:
    key_path, pub_path = write_cosign_key_pair(tmp_path, b"pw")
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(pub_path).st_mode) == 0o644
    key = load_private_key(key_path, b"pw")
    assert pub_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert serialization.load_pem_public_key(pub_path.read_bytes()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == key.public_key().public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    before = key_path.read_bytes()
    with pytest.raises(InputError, match="already exists"):
        write_cosign_key_pair(tmp_path, b"pw")
    assert key_path.read_bytes() == before
    write_cosign_key_pair(tmp_path, b"pw2", force=True)
    assert key_path.read_bytes() != before
    load_private_key(key_path, b"pw2")
