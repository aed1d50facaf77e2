"""Keys (layer L1): public keys, private keys, ephemeral keys and cosign key files.

cosign's encrypted private key format (docs/cosign-format.md §7): a PEM
block ``ENCRYPTED SIGSTORE PRIVATE KEY`` (or the older ``ENCRYPTED COSIGN PRIVATE
KEY``) whose body is a JSON envelope: scrypt parameters and salt, a NaCl secretbox
nonce and the secretbox ciphertext of the PKCS#8 DER private key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from signer.errors import InputError
from signer.localfile import read_local_file

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


def load_public_key_pem(data: bytes, what: str = "public key") -> PublicKey:
    """Load a PEM (or DER) SubjectPublicKeyInfo: ECDSA P-256/384/521, RSA or Ed25519."""
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InputError(f"{what} is not a valid PEM public key",
                         hint="expected a '-----BEGIN PUBLIC KEY-----' file") from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)):
            raise InputError(f"{what} uses unsupported curve {key.curve.name}")
        return key
    if isinstance(key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        return key
    raise InputError(f"{what} has an unsupported key type {type(key).__name__}")


def public_key_der(key: CertificatePublicKeyTypes) -> bytes:
    """DER SubjectPublicKeyInfo of ``key`` (what log IDs and key comparisons use); any
    key a certificate can hold, so that a leaf's key compares without a type check."""
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_pem(key: PublicKey) -> bytes:
    """PEM SubjectPublicKeyInfo of ``key``."""
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


# --------------------------------------------------------------------------------------
# Private keys: ephemeral keys, PKCS#8 PEM and cosign's encrypted key format (§9).
# --------------------------------------------------------------------------------------

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
#: Where a password comes from: the bytes, a function asked only when one is needed, or None.
PasswordSource = bytes | Callable[[], bytes] | None

COSIGN_KEY_LABEL = "ENCRYPTED SIGSTORE PRIVATE KEY"
#: Labels cosign accepts on load (the second one was written before cosign v2.1).
COSIGN_KEY_LABELS = (COSIGN_KEY_LABEL, "ENCRYPTED COSIGN PRIVATE KEY")
#: scrypt (N, r, p) sets cosign's decrypter accepts; we write the middle one.
SCRYPT_PARAMETER_SETS = ((32768, 8, 1), (65536, 8, 1), (131072, 8, 1))
DEFAULT_SCRYPT = (65536, 8, 1)
MAX_KEY_FILE_BYTES = 64 * 1024
_PEM_RE = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


def generate_ephemeral_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 key held only in memory (keyless signing)."""
    return ec.generate_private_key(ec.SECP256R1())


def sign_payload(key: PrivateKey, payload: bytes) -> bytes:
    """Sign ``payload`` as cosign does: ECDSA P-256 / RSA PKCS#1 v1.5 over SHA-256.

    ECDSA signatures are ASN.1 DER. Curves other than P-256 and Ed25519 keys are
    refused, because what cosign and Rekor expect for them differs (SHA-384/512,
    Ed25519ph) and a signature nobody can verify is worse than an error.
    """
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise InputError(f"signing with an ECDSA {key.curve.name} key is not supported",
                             hint="use an ECDSA P-256 key (signer generate-key-pair)")
        return key.sign(payload, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise InputError(f"RSA key of {key.key_size} bits is too weak to sign with")
        return key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    raise InputError("signing with an Ed25519 key is not supported",
                     hint="use an ECDSA P-256 key (signer generate-key-pair)")


def private_key_pkcs8_der(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 DER (the plaintext inside a cosign key file)."""
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem(label: str, der: bytes) -> bytes:
    """PEM as Go's ``pem.EncodeToMemory`` writes it (64-character lines)."""
    body = base64.b64encode(der).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return (f"-----BEGIN {label}-----\n" + "".join(line + "\n" for line in lines)
            + f"-----END {label}-----\n").encode()


def pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    """(label, decoded body) of every PEM block in ``data``; ``InputError`` on bad base64."""
    blocks = []
    for match in _PEM_RE.finditer(data):
        label = match.group(1).decode()
        body = b"".join(line.strip() for line in match.group(2).splitlines()
                        if b":" not in line)  # skip RFC 1421 headers
        try:
            blocks.append((label, base64.b64decode(body, validate=True)))
        except (ValueError, binascii.Error):
            raise InputError(f"the {label} PEM block is not valid base64") from None
    return blocks


def encrypt_cosign_private_key(
    key: PrivateKey, password: bytes, *, scrypt_params: tuple[int, int, int] = DEFAULT_SCRYPT
) -> bytes:
    """cosign's encrypted key file: scrypt-derived key, NaCl secretbox, JSON in PEM."""
    from nacl.secret import SecretBox
    from nacl.utils import random as nacl_random

    n, r, p = scrypt_params
    salt = os.urandom(32)
    box_key = _scrypt(password, salt, n, r, p)
    nonce = nacl_random(SecretBox.NONCE_SIZE)
    ciphertext = SecretBox(box_key).encrypt(private_key_pkcs8_der(key), nonce).ciphertext
    # Only base64 text and integers: plain compact JSON equals Go's bytes.
    envelope = json.dumps({
        "kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p},
                "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }, separators=(",", ":")).encode()
    return _pem(COSIGN_KEY_LABEL, envelope)


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=128 * r * n * p + 64 * 1024 * 1024)


def decrypt_cosign_private_key(envelope_json: bytes, password: bytes,
                               what: str = "cosign key") -> PrivateKey:
    """Decrypt the JSON envelope of a cosign key file (the PEM body)."""
    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox

    try:
        envelope = json.loads(envelope_json)
        kdf, cipher = envelope["kdf"], envelope["cipher"]
        params = kdf["params"]
        n, r, p = int(params["N"]), int(params["r"]), int(params["p"])
        salt = base64.b64decode(kdf["salt"], validate=True)
        nonce = base64.b64decode(cipher["nonce"], validate=True)
        ciphertext = base64.b64decode(envelope["ciphertext"], validate=True)
        kdf_name, cipher_name = kdf["name"], cipher["name"]
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
        raise InputError(f"{what} is not a valid cosign encrypted key") from None
    if kdf_name != "scrypt" or cipher_name != "nacl/secretbox":
        raise InputError(f"{what} uses unsupported encryption {kdf_name}/{cipher_name}")
    if (n, r, p) not in SCRYPT_PARAMETER_SETS:
        raise InputError(f"{what} uses unsupported scrypt parameters N={n} r={r} p={p}")
    if len(nonce) != SecretBox.NONCE_SIZE:
        raise InputError(f"{what} has a nonce of the wrong length")
    try:
        plaintext = SecretBox(_scrypt(password, salt, n, r, p)).decrypt(ciphertext, nonce)
    except CryptoError:
        raise InputError(f"cannot decrypt {what}: wrong password",
                         hint="check COSIGN_PASSWORD or the password you typed") from None
    return _load_pkcs8_der(plaintext, what)


def _checked_private_key(key: object, what: str) -> PrivateKey:
    if isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey,
                        ed25519.Ed25519PrivateKey)):
        return key
    raise InputError(f"{what} has an unsupported key type {type(key).__name__}")


def _load_pkcs8_der(der: bytes, what: str) -> PrivateKey:
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InputError(f"{what} does not hold a valid PKCS#8 private key") from None
    return _checked_private_key(key, what)


def _resolve_password(password: PasswordSource) -> bytes | None:
    return password() if callable(password) else password


def load_private_key_bytes(data: bytes, password: PasswordSource = None,
                           what: str = "private key") -> PrivateKey:
    """Load a cosign encrypted key or a PEM private key (PKCS#8, SEC1, PKCS#1).

    ``password`` is only resolved (a prompt, say) when the key is encrypted.
    """
    blocks = pem_blocks(data)
    if not blocks:
        raise InputError(f"{what} is not a PEM file",
                         hint="expected a cosign.key or a '-----BEGIN PRIVATE KEY-----' file")
    for label, body in blocks:
        if label in COSIGN_KEY_LABELS:
            secret = _resolve_password(password)
            return decrypt_cosign_private_key(body, secret if secret is not None else b"", what)
        if label == "ENCRYPTED PRIVATE KEY":
            secret = _resolve_password(password)
            try:
                key = serialization.load_der_private_key(body, password=secret or None)
            except (ValueError, TypeError, UnsupportedAlgorithm):
                raise InputError(f"cannot decrypt {what}: wrong password",
                                 hint="check COSIGN_PASSWORD or the password you typed") from None
            return _checked_private_key(key, what)
        if label in ("PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"):
            pem = _pem(label, body)
            try:
                key = serialization.load_pem_private_key(pem, password=None)
            except (ValueError, TypeError, UnsupportedAlgorithm):
                raise InputError(f"{what} does not hold a valid {label}") from None
            return _checked_private_key(key, what)
    labels = ", ".join(label for label, _ in blocks)
    raise InputError(f"{what} holds no private key (found: {labels})")


def load_private_key(path: str | os.PathLike[str], password: PasswordSource = None) -> PrivateKey:
    """Load a private key file (cosign encrypted or PEM); errors name the file."""
    name = os.fspath(path)
    data = read_local_file(name, "key file", limit=MAX_KEY_FILE_BYTES)
    return load_private_key_bytes(data, password, what=f"key file {name}")


def write_cosign_key_pair(directory: str | os.PathLike[str], password: bytes, *,
                          force: bool = False, prefix: str = "cosign",
                          key: PrivateKey | None = None) -> tuple[Path, Path]:
    """Write ``cosign.key`` (encrypted, mode 0600) and ``cosign.pub`` (0644).

    A new P-256 key is generated unless ``key`` is given. Existing files are
    refused unless ``force``.
    """
    folder = Path(directory)
    key_path, pub_path = folder / f"{prefix}.key", folder / f"{prefix}.pub"
    if not force:
        for existing in (key_path, pub_path):
            if existing.exists():
                raise InputError(f"{existing} already exists",
                                 hint="pass --force to overwrite it")
    private_key = key if key is not None else ec.generate_private_key(ec.SECP256R1())
    encrypted = encrypt_cosign_private_key(private_key, password)
    _write_file(key_path, encrypted, 0o600)
    _write_file(pub_path, public_key_pem(private_key.public_key()), 0o644)
    return key_path, pub_path


def _write_file(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically with ``mode`` set before any byte is written."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise InputError(f"cannot write {path}: {exc.strerror}") from None
