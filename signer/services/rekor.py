"""Rekor v1 client: hashedrekord uploads and entry lookups (layer L3).

A create is never blindly repeated: a 409 means the entry exists and is fetched
by the ``Location`` Rekor names; after a failure whose outcome is unknown
(connection cut, 5xx) the entry is first looked up by its UUID (which the caller
computes from the canonical body) and only POSTed again if it is not there.
Nothing here verifies the entry; the signing flow does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from signer.errors import SigningError
from signer.formats.legacy import RekorBundle
from signer.services import PUBLIC_GOOD_REKOR_URL, TransientServiceError, send_request

MAX_RESPONSE_BYTES = 4 * 1024 * 1024
ENTRIES_PATH = "/api/v1/log/entries"
_ENTRY_ID_RE = re.compile(r"\b([0-9a-f]{80}|[0-9a-f]{64})\b")


@dataclass(frozen=True)
class InclusionProof:
    """A Rekor v1 inclusion proof (shard-local index) with its checkpoint."""

    log_index: int
    tree_size: int
    root_hash: str  # hex
    hashes: tuple[str, ...]  # hex, leaf to root
    checkpoint: str


@dataclass(frozen=True)
class LogEntry:
    """One Rekor v1 LogEntry as returned by the API."""

    uuid: str  # the key of the response map (UUID or 80-hex EntryID)
    body: str  # base64 of the canonicalized entry, exactly as returned
    integrated_time: int
    log_id: str  # hex
    log_index: int  # global
    signed_entry_timestamp: bytes
    inclusion_proof: InclusionProof | None

    def decoded_body(self) -> bytes:
        """The canonicalized body bytes (the Merkle leaf)."""
        return base64.b64decode(self.body, validate=True)

    def rekor_bundle(self) -> RekorBundle:
        """cosign's ``dev.sigstore.cosign/bundle`` annotation for this entry."""
        return RekorBundle(self.signed_entry_timestamp, self.body, self.integrated_time,
                           self.log_index, self.log_id)


def hashedrekord_proposal(signature: bytes, verifier_pem: bytes, sha256_hex: str) -> dict[str, Any]:
    """A hashedrekord v0.0.1 proposed entry (cosign's upload for image signatures)."""
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "signature": {
                "content": base64.b64encode(signature).decode(),
                "publicKey": {"content": base64.b64encode(verifier_pem).decode()},
            },
            "data": {"hash": {"algorithm": "sha256", "value": sha256_hex}},
        },
    }


def dsse_proposal(envelope: Mapping[str, Any], verifier_pem: bytes) -> dict[str, Any]:
    """A dsse v0.0.1 proposed entry (cosign v3's Rekor v1 upload for a bundle): the
    envelope as a JSON string and the verifier PEM, base64."""
    return {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "proposedContent": {
                "envelope": json.dumps(envelope, separators=(",", ":")),
                "verifiers": [base64.b64encode(verifier_pem).decode()],
            },
        },
    }


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SigningError(f"Rekor returned an entry with an invalid {what}")
    return value


def _parse_proof(obj: Any) -> InclusionProof | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise SigningError("Rekor returned a malformed inclusion proof")
    hashes = obj.get("hashes") or []
    root, checkpoint = obj.get("rootHash"), obj.get("checkpoint")
    if not (isinstance(hashes, list) and all(isinstance(h, str) for h in hashes)
            and isinstance(root, str) and isinstance(checkpoint, str)):
        raise SigningError("Rekor returned a malformed inclusion proof")
    return InclusionProof(_int(obj.get("logIndex"), "proof index"),
                          _int(obj.get("treeSize"), "tree size"), root.lower(),
                          tuple(h.lower() for h in hashes), checkpoint)


def parse_log_entry(document: Any) -> LogEntry:
    """Parse a ``{uuid: LogEntry}`` map (or a one-element list of them)."""
    if isinstance(document, list) and len(document) == 1:
        document = document[0]
    if not isinstance(document, dict) or len(document) != 1:
        raise SigningError("Rekor returned other than exactly one log entry")
    ((uuid, entry),) = document.items()
    if not isinstance(entry, dict) or not isinstance(uuid, str):
        raise SigningError("Rekor returned a malformed log entry")
    verification = entry.get("verification")
    verification = verification if isinstance(verification, dict) else {}
    body, log_id = entry.get("body"), entry.get("logID")
    set_text = verification.get("signedEntryTimestamp")
    if not isinstance(body, str) or not isinstance(log_id, str):
        raise SigningError("Rekor returned an entry without body or logID")
    if not isinstance(set_text, str):
        raise SigningError("Rekor returned an entry without a signed entry timestamp")
    try:
        set_bytes = base64.b64decode(set_text, validate=True)
        base64.b64decode(body, validate=True)
    except (ValueError, binascii.Error):
        raise SigningError("Rekor returned an entry whose body or SET is not base64") from None
    integrated_time = _int(entry.get("integratedTime"), "integratedTime")
    if integrated_time > 253402300799:  # after 9999-12-31: no datetime can hold it
        raise SigningError("Rekor returned an entry with an out-of-range integratedTime")
    return LogEntry(uuid.lower(), body, integrated_time,
                    log_id.lower(), _int(entry.get("logIndex"), "logIndex"), set_bytes,
                    _parse_proof(verification.get("inclusionProof")))


class RekorClient:
    """A Rekor v1 client."""

    def __init__(self, url: str = PUBLIC_GOOD_REKOR_URL, *, ca_bundle: str | None = None,
                 attempts: int = 3, backoff: float = 0.5,
                 timeout: tuple[float, float] = (5.0, 30.0)) -> None:
        from signer.http import new_session

        self.url = url.rstrip("/")
        self.attempts = attempts
        self.backoff = backoff
        # GETs retry in the adapter; POSTs are handled below, never blindly repeated.
        self._session = new_session(retries=2, timeout=timeout, ca_bundle=ca_bundle)

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def entry_url(self, uuid: str) -> str:
        """The API URL of an entry (what we report to users)."""
        return f"{self.url}{ENTRIES_PATH}/{uuid}"

    def create_entry(self, proposed: Mapping[str, Any], expected_uuid: str | None = None
                     ) -> LogEntry:
        """Upload ``proposed``; on 409 fetch the existing entry.

        ``expected_uuid`` (hex leaf hash of the canonical body) lets a retry after an
        unknown outcome look the entry up before POSTing again.
        """
        from signer.services import note_attempts

        body = json.dumps(proposed, separators=(",", ":")).encode()
        last: TransientServiceError | None = None
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * (2 ** (attempt - 1)))
            if attempt and expected_uuid:
                try:
                    existing = self._lookup(expected_uuid)
                except TransientServiceError:
                    existing = None  # unknown; a POST of an existing entry answers 409
                if existing is not None:
                    return existing
            try:
                return self._post(body)
            except TransientServiceError as failure:
                last = failure
        assert last is not None
        raise note_attempts(last.error, self.attempts) from None

    def get_entry(self, uuid: str) -> LogEntry:
        """Fetch an entry by UUID or EntryID."""
        if not _ENTRY_ID_RE.fullmatch(uuid.lower()):
            raise SigningError(f"invalid Rekor entry UUID {uuid[:90]!r}")
        try:
            entry = self._lookup(uuid)
        except TransientServiceError as failure:  # public API: only signer errors leave
            raise failure.error from None
        if entry is None:
            raise SigningError(f"Rekor has no entry {uuid}")
        return entry

    def get_entry_by_index(self, index: int) -> LogEntry:
        """Fetch an entry by its global log index."""
        try:
            document = self._get(f"{self.url}{ENTRIES_PATH}", params={"logIndex": str(index)})
        except TransientServiceError as failure:  # public API: only signer errors leave
            raise failure.error from None
        if document is None:
            raise SigningError(f"Rekor has no entry at index {index}")
        return parse_log_entry(document)

    # ------------------------------------------------------------------ internals

    def _lookup(self, uuid: str) -> LogEntry | None:
        document = self._get(self.entry_url(uuid.lower()))
        return None if document is None else parse_log_entry(document)

    def _get(self, url: str, params: Mapping[str, str] | None = None) -> Any:
        response, text = send_request(self._session, "GET", url, service="Rekor",
                                      limit=MAX_RESPONSE_BYTES, params=params,
                                      headers={"Accept": "application/json"})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            error = SigningError(f"Rekor answered HTTP {response.status_code} to a lookup"
                                 f"{_message_suffix(text)}")
            if response.status_code >= 500 or response.status_code == 429:
                raise TransientServiceError(error)
            raise error
        return _json(text)

    def _post(self, body: bytes) -> LogEntry:
        url = f"{self.url}{ENTRIES_PATH}"
        # an answer lost here leaves the outcome unknown: the retry looks the entry up first
        response, text = send_request(self._session, "POST", url, service="Rekor",
                                      limit=MAX_RESPONSE_BYTES, data=body, headers={
                                          "Content-Type": "application/json",
                                          "Accept": "application/json"})
        status = response.status_code
        if status == 201 or status == 200:
            return parse_log_entry(_json(text))
        if status == 409:
            uuid = self._existing_uuid(response.headers.get("Location"), text)
            entry = self._lookup(uuid)
            if entry is None:
                raise SigningError(f"Rekor says entry {uuid} exists but cannot return it")
            return entry
        error = SigningError(f"Rekor refused the entry (HTTP {status}){_message_suffix(text)}",
                             hint="Rekor is failing; try again later" if status >= 500 else
                             "the signature, key or digest was rejected by the log")
        if status == 429 or status >= 500:
            raise TransientServiceError(error)
        raise error

    @staticmethod
    def _existing_uuid(location: str | None, text: bytes) -> str:
        candidates = []
        if location:
            candidates.append(urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1].lower())
        candidates += _ENTRY_ID_RE.findall(text.decode("utf-8", errors="replace").lower())
        for candidate in candidates:
            if _ENTRY_ID_RE.fullmatch(candidate):
                return candidate
        raise SigningError("Rekor answered 409 without naming the existing entry")


def _json(text: bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise SigningError("Rekor returned a response that is not JSON") from None


def _message_suffix(text: bytes) -> str:
    try:
        message = json.loads(text).get("message")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return ""
    return f": {' '.join(message.split())[:200]}" if isinstance(message, str) else ""
