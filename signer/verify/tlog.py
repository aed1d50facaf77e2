"""Transparency-log checks (layer L2, pure): SETs, RFC 6962 Merkle proofs, checkpoints.

Everything here works on bytes and already-loaded keys and never touches the
network. Failures raise :class:`signer.errors.VerificationError` whose message
names the check that failed ("SET", "inclusion proof", "consistency proof",
"checkpoint").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from signer.errors import VerificationError

__all__ = [
    "Checkpoint",
    "NoteSignature",
    "SetFields",
    "c2sp_key_id",
    "canonical_json",
    "checkpoint_key_hint",
    "leaf_hash",
    "node_hash",
    "parse_checkpoint",
    "root_from_inclusion_proof",
    "set_payload",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "verify_set",
    "verify_set_with_any_key",
    "verify_signature",
]

# --------------------------------------------------------------------------- JCS


def canonical_json(obj: Any) -> bytes:
    """Serialise ``obj`` as RFC 8785 (JCS) canonical JSON bytes.

    Objects have their keys sorted by UTF-16 code units, there is no whitespace,
    strings escape only what JSON requires (``"``, ``\\`` and control characters)
    and numbers use the ECMAScript shortest form. Raises ``ValueError`` for values
    JSON cannot represent (NaN, infinities, non-string keys, other types).
    """
    parts: list[str] = []
    _jcs(obj, parts)
    return "".join(parts).encode("utf-8")


_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r",
                  '"': '\\"', "\\": "\\\\"}


_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]')


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def _jcs_string(text: str) -> str:
    # most strings (base64 bodies, hex IDs) need no escaping at all
    if _NEEDS_ESCAPE.search(text) is None:
        return f'"{text}"'
    return f'"{_NEEDS_ESCAPE.sub(_escape, text)}"'


def _jcs_number(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError("JSON cannot represent NaN or infinity")
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    # Python's repr is the shortest round-tripping form, as ECMAScript requires;
    # only the layout of the exponent differs.
    text = repr(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    exp = int(exponent)
    if -6 <= exp < 0:
        # ECMAScript uses plain decimals down to 1e-6.
        digits = mantissa.replace("-", "").replace(".", "")
        sign = "-" if value < 0 else ""
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    if mantissa.endswith(".0"):
        mantissa = mantissa[:-2]
    return f"{mantissa}e{'+' if exp > 0 else '-'}{abs(exp)}"


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be")


def _jcs(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_jcs_number(value))
    elif isinstance(value, str):
        out.append(_jcs_string(value))
    elif isinstance(value, Mapping):
        keys = list(value)
        if not all(isinstance(k, str) for k in keys):
            raise ValueError("JSON object keys must be strings")
        out.append("{")
        for i, key in enumerate(sorted(keys, key=_utf16_key)):
            if i:
                out.append(",")
            out.append(_jcs_string(key))
            out.append(":")
            _jcs(value[key], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _jcs(item, out)
        out.append("]")
    else:
        raise ValueError(f"cannot serialise {type(value).__name__} as JSON")


# --------------------------------------------------------------------- signatures

VerifyingKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


def verify_signature(key: Any, signature: bytes, message: bytes) -> bool:
    """True if ``signature`` over ``message`` verifies with ``key``.

    ECDSA uses SHA-256 for P-256 and the curve's matching hash for P-384/P-521
    (DER signatures); RSA uses PKCS#1 v1.5 with SHA-256; Ed25519 signs the raw
    message. Unknown key types never verify.
    """
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(_ecdsa_hash(key)))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def _ecdsa_hash(key: ec.EllipticCurvePublicKey) -> hashes.HashAlgorithm:
    if isinstance(key.curve, ec.SECP384R1):
        return hashes.SHA384()
    if isinstance(key.curve, ec.SECP521R1):
        return hashes.SHA512()
    return hashes.SHA256()


def _spki_der(key: Any) -> bytes:
    der: bytes = key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


# ------------------------------------------------------------------------- SET


class SetFields(Protocol):
    """What a SET covers: cosign's ``RekorBundle`` and bundle tlog entries provide it."""

    @property
    def signed_entry_timestamp(self) -> bytes: ...

    @property
    def body(self) -> str: ...

    @property
    def integrated_time(self) -> int: ...

    @property
    def log_index(self) -> int: ...

    @property
    def log_id(self) -> str: ...


def set_payload(body: str, integrated_time: int, log_id_hex: str, log_index: int) -> bytes:
    """The bytes a Rekor v1 SET signs: JCS of ``{body, integratedTime, logID, logIndex}``.

    ``body`` is the base64 text exactly as Rekor returned it; ``log_id_hex`` is the
    lower-case hex log ID; ``log_index`` is the global index.
    """
    if not (type(integrated_time) is int and type(log_index) is int):
        raise ValueError("integratedTime and logIndex must be integers")
    # the keys are fixed and already in JCS order: format directly
    return (f'{{"body":{_jcs_string(body)},"integratedTime":{integrated_time},'
            f'"logID":{_jcs_string(log_id_hex)},"logIndex":{log_index}}}').encode()


def verify_set(entry: SetFields | Mapping[str, Any], public_key: Any) -> None:
    """Verify a Signed Entry Timestamp with the log's public key, or raise.

    ``entry`` is an object with ``signed_entry_timestamp``, ``body``,
    ``integrated_time``, ``log_index`` and ``log_id`` (hex), such as
    :class:`signer.formats.legacy.RekorBundle`, or a mapping with those keys.
    Only ECDSA log keys are accepted, as Rekor v1 signs SETs with ECDSA.
    """
    if isinstance(entry, Mapping):
        signature = entry["signed_entry_timestamp"]
        body, integrated_time = entry["body"], entry["integrated_time"]
        log_index, log_id = entry["log_index"], entry["log_id"]
    else:
        signature = entry.signed_entry_timestamp
        body, integrated_time = entry.body, entry.integrated_time
        log_index, log_id = entry.log_index, entry.log_id
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise VerificationError("SET: the transparency log key is not an ECDSA key")
    payload = set_payload(body, integrated_time, log_id.lower(), log_index)
    if not verify_signature(public_key, signature, payload):
        raise VerificationError("SET: signature does not verify with the transparency log key",
                                hint="the log entry was altered or the trusted Rekor key is wrong")


def verify_set_with_any_key(entry: SetFields | Mapping[str, Any], keys: Sequence[Any]) -> None:
    """Verify a SET with the first of ``keys`` that verifies it (several trusted log
    instances may share a log ID); raise the last key's error if none does."""
    last: VerificationError | None = None
    for key in keys:
        try:
            verify_set(entry, key)
            return
        except VerificationError as err:
            last = err
    raise last or VerificationError("SET: no transparency log key to verify it with")


# ----------------------------------------------------------------------- Merkle


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 ‖ data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion_proof(leaf: bytes, index: int, tree_size: int,
                              proof_hashes: Sequence[bytes]) -> bytes:
    """The root implied by an RFC 9162 §2.1.3.2 inclusion proof, or raise."""
    if index < 0 or tree_size <= 0 or index >= tree_size:
        raise VerificationError(
            f"inclusion proof: index {index} is outside a tree of size {tree_size}")
    if any(len(h) != 32 for h in proof_hashes) or len(leaf) != 32:
        raise VerificationError("inclusion proof: hashes must be 32 bytes")
    inner = (index ^ (tree_size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    if len(proof_hashes) != inner + border:
        raise VerificationError(
            f"inclusion proof: expected {inner + border} hashes, got {len(proof_hashes)}")
    current = leaf
    for level, sibling in enumerate(proof_hashes[:inner]):
        right_child = (index >> level) & 1
        current = node_hash(sibling, current) if right_child else node_hash(current, sibling)
    for sibling in proof_hashes[inner:]:
        current = node_hash(sibling, current)
    return current


def verify_inclusion(leaf: bytes, index: int, tree_size: int,
                     proof_hashes: Sequence[bytes], root_hash: bytes) -> None:
    """Verify that ``leaf`` (a leaf hash) sits at ``index`` in the tree with ``root_hash``."""
    computed = root_from_inclusion_proof(leaf, index, tree_size, proof_hashes)
    if not hmac.compare_digest(computed, root_hash):
        raise VerificationError("inclusion proof: computed root hash does not match the "
                                "expected root hash")


def verify_consistency(first_size: int, second_size: int, proof: Sequence[bytes],
                       first_root: bytes, second_root: bytes) -> None:
    """Verify an RFC 9162 §2.1.4.2 consistency proof between two tree heads, or raise."""
    if first_size < 0 or second_size < first_size:
        raise VerificationError(
            f"consistency proof: sizes {first_size} -> {second_size} are not increasing")
    if first_size == second_size:
        if proof:
            raise VerificationError("consistency proof: must be empty for equal sizes")
        if not hmac.compare_digest(first_root, second_root):
            raise VerificationError("consistency proof: roots differ for equal tree sizes")
        return
    if first_size == 0:
        if proof:
            raise VerificationError("consistency proof: must be empty from an empty tree")
        return
    if not proof or any(len(h) != 32 for h in proof):
        raise VerificationError("consistency proof: missing or malformed hashes")
    path = list(proof)
    if first_size & (first_size - 1) == 0:  # a power of two: first root is a proof node
        path.insert(0, first_root)
    fn, sn = first_size - 1, second_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof: too many hashes")
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof: too few hashes")
    if not (hmac.compare_digest(fr, first_root) and hmac.compare_digest(sr, second_root)):
        raise VerificationError("consistency proof: computed roots do not match")


# ------------------------------------------------------------------- checkpoints

_EM_DASH = "\u2014"


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a signed note: ``— <name> <b64(hint ‖ signature)>``."""

    name: str
    key_hint: bytes
    signature: bytes


@dataclass(frozen=True)
class Checkpoint:
    """A parsed transparency-log checkpoint (C2SP tlog-checkpoint in a signed note)."""

    origin: str
    tree_size: int
    root_hash: bytes
    extra_lines: tuple[str, ...]
    signatures: tuple[NoteSignature, ...]
    signed_text: bytes  # the note body exactly as signed, final newline included


def parse_checkpoint(text: str | bytes) -> Checkpoint:
    """Parse a checkpoint signed note; raise ``VerificationError("checkpoint: …")``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise VerificationError("checkpoint: not UTF-8 text") from None
    body, sep, signature_block = text.partition("\n\n")
    if not sep:
        raise VerificationError("checkpoint: no blank line between the note and its signatures")
    lines = body.split("\n")
    if len(lines) < 3:
        raise VerificationError("checkpoint: the note needs origin, tree size and root hash")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin or origin.strip() != origin:
        raise VerificationError("checkpoint: missing or malformed origin line")
    if not size_text.isdigit() or not size_text.isascii() or (
            len(size_text) > 1 and size_text[0] == "0"):
        raise VerificationError(f"checkpoint: malformed tree size {size_text[:40]!r}")
    try:
        root_hash = base64.b64decode(root_text, validate=True)
    except (ValueError, binascii.Error):
        raise VerificationError("checkpoint: root hash is not base64") from None
    if len(root_hash) != 32:
        raise VerificationError("checkpoint: root hash is not 32 bytes")
    extra = tuple(lines[3:])
    if any(not line for line in extra):
        raise VerificationError("checkpoint: empty line inside the note")
    if not signature_block.endswith("\n"):
        raise VerificationError("checkpoint: signature block must end with a newline")
    signatures = []
    for line in signature_block[:-1].split("\n"):
        signatures.append(_parse_signature_line(line))
    if not signatures:
        raise VerificationError("checkpoint: no signature lines")
    return Checkpoint(origin, int(size_text), root_hash, extra, tuple(signatures),
                      (body + "\n").encode("utf-8"))


def _parse_signature_line(line: str) -> NoteSignature:
    prefix = _EM_DASH + " "
    if not line.startswith(prefix):
        raise VerificationError("checkpoint: malformed signature line")
    fields = line[len(prefix):].split(" ")
    if len(fields) != 2 or not fields[0]:
        raise VerificationError("checkpoint: malformed signature line")
    try:
        raw = base64.b64decode(fields[1], validate=True)
    except (ValueError, binascii.Error):
        raise VerificationError("checkpoint: signature is not base64") from None
    if len(raw) < 5:
        raise VerificationError("checkpoint: signature too short")
    return NoteSignature(fields[0], raw[:4], raw[4:])


def c2sp_key_id(name: str, ed25519_public_key: bytes) -> bytes:
    """C2SP signed-note key ID of an Ed25519 key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ raw key)."""
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + ed25519_public_key).digest()


#: id(key) -> (key, name, hint): keys of a trusted root are long-lived, and their
#: hints are asked for once per checkpoint (the key is kept so its id stays unique)
_HINT_CACHE: dict[int, tuple[Any, str | None, bytes]] = {}
_HINT_CACHE_MAX = 256


def checkpoint_key_hint(key: Any, key_name: str | None = None) -> bytes:
    """The 4-byte signature-line hint for ``key``.

    Ed25519 keys (Rekor v2) use the C2SP key ID, which needs ``key_name``; ECDSA
    keys (Rekor v1) use SHA-256 of the DER SubjectPublicKeyInfo.
    """
    cached = _HINT_CACHE.get(id(key))
    if cached is not None and cached[0] is key and cached[1] == key_name:
        return cached[2]
    if isinstance(key, ed25519.Ed25519PublicKey):
        if key_name is None:
            raise ValueError("an Ed25519 note key needs its name")
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        hint = c2sp_key_id(key_name, raw)[:4]
    else:
        hint = hashlib.sha256(_spki_der(key)).digest()[:4]
    if len(_HINT_CACHE) >= _HINT_CACHE_MAX:
        _HINT_CACHE.clear()
    _HINT_CACHE[id(key)] = (key, key_name, hint)
    return hint


def verify_checkpoint(text: str | bytes | Checkpoint, key: Any, key_name: str | None = None,
                      *, key_id: bytes | None = None) -> Checkpoint:
    """Verify a checkpoint's signature by ``key`` and return the parsed checkpoint.

    A signature line counts only if its key hint equals the key's hint (the first
    4 bytes of ``key_id`` when given) and, when ``key_name`` is given, its name
    equals ``key_name``. Other lines (witness cosignatures, other keys) are
    ignored; at least one counted line must verify.
    """
    checkpoint = text if isinstance(text, Checkpoint) else parse_checkpoint(text)
    hint = key_id[:4] if key_id is not None else checkpoint_key_hint(key, key_name)
    candidates = [s for s in checkpoint.signatures
                  if hmac.compare_digest(s.key_hint, hint)
                  and (key_name is None or s.name == key_name)]
    if not candidates:
        raise VerificationError("checkpoint: no signature from the transparency log's key",
                                hint="the checkpoint was not signed by a trusted log")
    for candidate in candidates:
        if verify_signature(key, candidate.signature, checkpoint.signed_text):
            return checkpoint
    raise VerificationError("checkpoint: signature does not verify with the transparency "
                            "log key")
