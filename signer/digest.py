"""Content digests (`sha256:<hex>`) as OCI uses them (layer L1).

Value types on the ``signer push`` path are ``NamedTuple``s rather than dataclasses:
the push is one short process per image, and ``dataclasses`` (with ``inspect``) plus
the code it generates per class cost more start-up time than the push's own work.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import NamedTuple

from signer.errors import DigestMismatchError, InputError

_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_DIGEST_RE = re.compile(r"^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-fA-F0-9]{32,})$")


class Digest(NamedTuple):
    """A parsed content digest such as ``sha256:abc…``."""

    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def tag_form(self) -> str:
        """The digest as cosign writes it in tag names: ``sha256-<hex>``."""
        return f"{self.algorithm}-{self.hex}"

    def matches(self, data: bytes) -> bool:
        """True if ``data`` hashes to this digest."""
        actual = hashlib.new(self.algorithm, data).hexdigest()
        return hmac.compare_digest(actual, self.hex)


def parse_digest(text: str) -> Digest:
    """Parse ``alg:hex``; only sha256, sha384 and sha512 with their exact lengths."""
    match = _DIGEST_RE.match(text)
    if not match:
        raise InputError(f"invalid digest {text!r}", hint="expected sha256:<64 hex digits>")
    algorithm, hex_part = match.group(1), match.group(2)
    expected = _HEX_LENGTHS.get(algorithm)
    if expected is None:
        raise InputError(f"unsupported digest algorithm {algorithm!r} in {text!r}",
                         hint="use sha256, sha384 or sha512")
    if len(hex_part) != expected or hex_part != hex_part.lower():
        raise InputError(f"invalid {algorithm} digest {text!r}",
                         hint=f"{algorithm} needs {expected} lower-case hex digits")
    return Digest(algorithm, hex_part)


def sha256_digest(data: bytes) -> Digest:
    """The sha256 digest of ``data``."""
    return Digest("sha256", hashlib.sha256(data).hexdigest())


def check_digest(expected: Digest | str, data: bytes, what: str = "content") -> None:
    """Raise :class:`DigestMismatchError` unless ``data`` hashes to ``expected``."""
    digest = parse_digest(expected) if isinstance(expected, str) else expected
    if not digest.matches(data):
        actual = hashlib.new(digest.algorithm, data).hexdigest()
        raise DigestMismatchError(
            f"{what} does not match its digest: expected {digest}, got {digest.algorithm}:{actual}",
            hint="the registry or a proxy altered the content; do not trust it",
        )
