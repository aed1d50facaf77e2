"""Rekor v2 (rekor-tiles) client: one ``POST /api/v2/log/entries`` (layer L3).

The request is a ``hashedRekordRequestV002`` (docs/sigstore-protocols.md §4); the
answer is a ``TransparencyLogEntry`` in protobuf JSON, returned as parsed JSON for
the bundle. The log answers once a checkpoint covers the entry, so the read timeout
is long. rekor-tiles deduplicates equal entries, so a POST whose outcome is unknown
(connection cut, 5xx) may be sent again. Nothing here verifies the entry.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from signer.errors import SigningError
from signer.services import TransientServiceError, send_request, with_retries

MAX_RESPONSE_BYTES = 4 * 1024 * 1024
ENTRIES_PATH = "/api/v2/log/entries"


def hashedrekord_v002_request(digest: bytes, signature: bytes, *,
                              certificate_der: bytes | None, public_key_der: bytes | None,
                              key_details: str) -> dict[str, Any]:
    """The request body for a signature over the SHA-256 ``digest``."""
    verifier: dict[str, Any] = (
        {"x509Certificate": {"rawBytes": base64.b64encode(certificate_der).decode()}}
        if certificate_der is not None else
        {"publicKey": {"rawBytes": base64.b64encode(public_key_der or b"").decode()}})
    verifier["keyDetails"] = key_details
    return {"hashedRekordRequestV002": {
        "digest": base64.b64encode(digest).decode(),
        "signature": {"content": base64.b64encode(signature).decode(), "verifier": verifier},
    }}


class RekorV2Client:
    """A Rekor v2 client for one log."""

    def __init__(self, url: str, *, ca_bundle: str | None = None, attempts: int = 3,
                 backoff: float = 0.5, timeout: tuple[float, float] = (5.0, 30.0)) -> None:
        from signer.http import new_session

        self.url = url.rstrip("/")
        self.attempts = attempts
        self.backoff = backoff
        self._session = new_session(retries=0, timeout=timeout, ca_bundle=ca_bundle)

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def create_entry(self, request: dict[str, Any]) -> dict[str, Any]:
        """Log ``request``; the ``TransparencyLogEntry`` JSON object."""
        body = json.dumps(request, separators=(",", ":")).encode()
        return with_retries(lambda: self._post(body), attempts=self.attempts,
                            backoff=self.backoff)

    def _post(self, body: bytes) -> dict[str, Any]:
        response, text = send_request(
            self._session, "POST", self.url + ENTRIES_PATH, service="Rekor v2",
            limit=MAX_RESPONSE_BYTES, data=body,
            headers={"Content-Type": "application/json", "Accept": "application/json"})
        status = response.status_code
        if status in (200, 201):
            try:
                document = json.loads(text)
            except (ValueError, UnicodeDecodeError, RecursionError):
                raise SigningError("Rekor v2 returned a response that is not JSON") from None
            if not isinstance(document, dict):
                raise SigningError("Rekor v2 returned other than one log entry")
            return document
        error = SigningError(f"Rekor v2 refused the entry (HTTP {status}){_message(text)}",
                             hint="Rekor is failing; try again later" if status >= 500 else
                             "the signature, key or digest was rejected by the log")
        if status == 429 or status >= 500:
            raise TransientServiceError(error)
        raise error


def _message(text: bytes) -> str:
    try:
        message = json.loads(text).get("message")
    except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):
        return ""
    return f": {' '.join(message.split())[:200]}" if isinstance(message, str) else ""
