"""RFC 3161 signed timestamps against the trusted root's TSAs (layer L2, pure).

A timestamp in a Sigstore bundle is a DER ``TimeStampResp`` whose message imprint
is the hash of the signature bytes (sigstore-protocols.md §6). It counts as signed
time when its CMS signature chains to a timestamp authority of the trusted root at
``genTime``, the TSA leaf has the critical timeStamping EKU, and ``genTime`` lies
within the authority's ``validFor`` window (both ends inclusive).

Parsing and CMS verification use ``rfc3161-client`` (``cryptography`` cannot
verify CMS). Failures raise :class:`VerificationError` messages starting "TSA:".
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from signer.errors import VerificationError
from signer.trust import CertificateAuthority, TrustedRoot

__all__ = ["MAX_TIMESTAMPS", "TimestampVerifier", "timestamp_verifier", "verify_timestamps"]

#: more timestamps than this in one bundle are refused (as sigstore-python does)
MAX_TIMESTAMPS = 32


@dataclass(frozen=True)
class _Authority:
    authority: CertificateAuthority
    verifier: Any  # rfc3161_client.Verifier


class TimestampVerifier:
    """Verifiers for every timestamp authority of one trusted root, built once."""

    def __init__(self, trust: TrustedRoot):
        from rfc3161_client import VerifierBuilder

        self._authorities: list[_Authority] = []
        for authority in trust.timestamp_authorities:
            certs = authority.chain
            if len(certs) < 2:  # a TSA leaf and a root at least
                continue
            builder = VerifierBuilder().tsa_certificate(certs[0]).add_root_certificate(certs[-1])
            for intermediate in certs[1:-1]:
                builder = builder.add_intermediate_certificate(intermediate)
            self._authorities.append(_Authority(authority, builder.build()))

    def verify(self, timestamp: bytes, signature: bytes) -> datetime:
        """Verify one DER ``TimeStampResp`` over ``signature``; return its ``genTime``."""
        from rfc3161_client import VerificationError as TimestampError
        from rfc3161_client import decode_timestamp_response

        try:
            response = decode_timestamp_response(timestamp)
        except (ValueError, TypeError) as exc:
            raise VerificationError("TSA: the signed timestamp is not a valid RFC 3161 "
                                    f"response ({str(exc)[:80]})") from None
        except Exception:  # the Rust parser raises its own error types on garbage
            raise VerificationError("TSA: the signed timestamp cannot be parsed") from None
        if not self._authorities:
            raise VerificationError("TSA: the trusted root has no timestamp authorities",
                                    hint="pass a trusted root that lists the TSA")
        gen_time = response.tst_info.gen_time
        if gen_time.tzinfo is None:
            gen_time = gen_time.replace(tzinfo=timezone.utc)
        problems = []
        for entry in self._authorities:
            try:
                entry.verifier.verify_message(response, signature)
            except TimestampError as err:
                text = str(err)
                if "verifying certificates" in text:
                    text = ("the CMS signature does not verify with this authority's "
                            "certificates at the timestamp's time")
                problems.append(text[:120])
                continue
            except Exception:  # malformed CMS content: treat as not verifying
                problems.append("malformed timestamp")
                continue
            if not entry.authority.valid_for.contains(gen_time):
                problems.append(f"time {gen_time:%Y-%m-%dT%H:%M:%SZ} is outside the "
                                "authority's validity in the trusted root")
                continue
            return gen_time
        detail = "; ".join(dict.fromkeys(problems)) or "no authority verified it"
        raise VerificationError(
            f"TSA: timestamp not verified by a trusted timestamp authority ({detail})",
            hint="the timestamp is for other data, expired, or from a TSA not in the "
                 "trusted root")

    def verify_all(self, timestamps: Sequence[bytes],
                   signature: bytes) -> tuple[list[datetime], list[str]]:
        """Verify every timestamp over ``signature``.

        Returns the times of those that verify and the reasons the others did not:
        as sigstore-go does, a timestamp from an unknown authority is not an error by
        itself, it only does not count. Too many or duplicate timestamps are refused.
        """
        if len(timestamps) > MAX_TIMESTAMPS:
            raise VerificationError(
                f"TSA: too many signed timestamps ({len(timestamps)} > {MAX_TIMESTAMPS})")
        digests = [hashlib.sha256(t).digest() for t in timestamps]
        if len(set(digests)) != len(digests):
            raise VerificationError("TSA: duplicate signed timestamps in the bundle")
        times: list[datetime] = []
        problems: list[str] = []
        for timestamp in timestamps:
            try:
                times.append(self.verify(timestamp, signature))
            except VerificationError as err:
                problems.append(err.message)
        return times, problems


_cache_lock = threading.Lock()
_cache: dict[int, tuple[weakref.ref[TrustedRoot], TimestampVerifier]] = {}


def timestamp_verifier(trust: TrustedRoot) -> TimestampVerifier:
    """The (cached) :class:`TimestampVerifier` for ``trust``."""
    key = id(trust)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached[0]() is trust:
            return cached[1]
    verifier = TimestampVerifier(trust)

    def forget(_ref: weakref.ref[TrustedRoot]) -> None:
        with _cache_lock:
            _cache.pop(key, None)

    with _cache_lock:
        _cache[key] = (weakref.ref(trust, forget), verifier)
    return verifier


def verify_timestamps(timestamps: Sequence[bytes], signature: bytes,
                      trust: TrustedRoot) -> list[datetime]:
    """Verify RFC 3161 timestamps over ``signature`` against ``trust``'s TSAs.

    Every timestamp must verify; returns their ``genTime`` values or raises
    ``VerificationError("TSA: …")``.
    """
    times, problems = timestamp_verifier(trust).verify_all(timestamps, signature)
    if problems:
        raise VerificationError(problems[0])
    return times
