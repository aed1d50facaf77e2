"""RFC 3161 timestamp authority client (layer L3).

``POST <tsa url>`` with ``Content-Type: application/timestamp-query`` and a DER
``TimeStampReq`` over SHA-256 of the signature bytes, with a random nonce and
certReq; the answer must be a granted ``TimeStampResp`` whose imprint and nonce are
ours (docs/sigstore-protocols.md §6). Whether the TSA is trusted is decided when the
bundle is verified against the trusted root, not here.
"""

from __future__ import annotations

import hashlib
import hmac

from signer.errors import SigningError
from signer.services import TransientServiceError, send_request, with_retries

MAX_RESPONSE_BYTES = 64 * 1024


class TimestampClient:
    """A client for one timestamp authority URL (the full ``…/api/v1/timestamp`` URL)."""

    def __init__(self, url: str, *, ca_bundle: str | None = None, attempts: int = 3,
                 backoff: float = 0.5, timeout: tuple[float, float] = (5.0, 15.0)) -> None:
        from signer.http import new_session

        self.url = url
        self.attempts = attempts
        self.backoff = backoff
        self._session = new_session(retries=0, timeout=timeout, ca_bundle=ca_bundle)

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def timestamp(self, signature: bytes) -> bytes:
        """A DER ``TimeStampResp`` over SHA-256 of ``signature``, checked for our
        imprint and nonce."""
        from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

        request = (TimestampRequestBuilder().data(signature)
                   .hash_algorithm(HashAlgorithm.SHA256).nonce(nonce=True)
                   .cert_request(cert_request=True).build())
        body = request.as_bytes()
        reply = with_retries(lambda: self._post(body), attempts=self.attempts,
                             backoff=self.backoff)
        _check_reply(reply, hashlib.sha256(signature).digest(), request.nonce)
        return reply

    def _post(self, body: bytes) -> bytes:
        response, text = send_request(
            self._session, "POST", self.url, service="timestamp authority",
            limit=MAX_RESPONSE_BYTES, data=body,
            headers={"Content-Type": "application/timestamp-query",
                     "Accept": "application/timestamp-reply"})
        if response.status_code in (200, 201):
            return text
        error = SigningError(f"the timestamp authority answered HTTP {response.status_code}",
                             hint="check --timestamp-server-url or the signing config")
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientServiceError(error)
        raise error


def _check_reply(reply: bytes, imprint: bytes, nonce: int | None) -> None:
    from rfc3161_client import PKIStatus, decode_timestamp_response

    try:
        decoded = decode_timestamp_response(reply)
        status = decoded.status
        info = decoded.tst_info if status == PKIStatus.GRANTED else None
    except ValueError:
        raise SigningError("the timestamp authority answered something that is not an "
                           "RFC 3161 response") from None
    if info is None:
        raise SigningError(f"the timestamp authority refused the request (status {status})")
    if not hmac.compare_digest(info.message_imprint.message, imprint):
        raise SigningError("the timestamp authority stamped another message than ours")
    if nonce is not None and info.nonce != nonce:
        raise SigningError("the timestamp authority answered with another request's nonce")
