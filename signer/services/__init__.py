"""Clients for the Sigstore services (layer L3): Fulcio and Rekor v1.

They talk HTTP and return parsed models; they decide nothing about trust. The
signing flow (:mod:`signer.sign`) checks what they return.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import requests

PUBLIC_GOOD_FULCIO_URL = "https://fulcio.sigstore.dev"
PUBLIC_GOOD_REKOR_URL = "https://rekor.sigstore.dev"

T = TypeVar("T")


class TransientServiceError(Exception):
    """A failure worth trying again (connection error, 429, 5xx); carries the final error."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


def send_request(session: requests.Session, method: str, url: str, *, service: str,
                 limit: int, **kwargs: Any) -> tuple[requests.Response, bytes]:
    """Send one request and read its body (at most ``limit`` bytes).

    A network failure or an answer cut short (whose outcome is unknown) becomes a
    :class:`TransientServiceError` around a ``SigningError("<service>: …")``; the
    caller decides on the status code.
    """
    import requests

    from signer.errors import ResponseCutError, SigningError
    from signer.http import describe_exception, read_bounded

    try:
        response = session.request(method, url, stream=True, **kwargs)
        text = read_bounded(response, limit, f"{service} response")
    except requests.RequestException as exc:
        network = describe_exception(exc, url)
        raise TransientServiceError(SigningError(f"{service}: {network.message}",
                                                 hint=network.hint)) from None
    except ResponseCutError as cut:
        raise TransientServiceError(SigningError(f"{service}: {cut.message}",
                                                 hint=cut.hint)) from None
    return response, text


def note_attempts(error: Exception, attempts: int) -> Exception:
    """Add "(tried N times)" to a :class:`signer.errors.Error`'s message."""
    from signer.errors import Error

    if isinstance(error, Error) and attempts > 1:
        error.message = f"{error.message} (tried {attempts} times)"
        error.args = (error.message,)
    return error


def with_retries(action: Callable[[], T], *, attempts: int = 3, backoff: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``action`` up to ``attempts`` times while it raises :class:`TransientServiceError`.

    The last failure's wrapped error is raised. Waits ``backoff``, 2x, 4x... seconds.
    """
    for attempt in range(attempts):
        try:
            return action()
        except TransientServiceError as failure:
            if attempt == attempts - 1:
                raise note_attempts(failure.error, attempts) from None
            sleep(backoff * (2 ** attempt))
    raise AssertionError("unreachable")
