"""signer.http: messages and printed URLs never carry credentials embedded in a URL."""

from __future__ import annotations

import pytest
import requests

from signer.errors import Error
from signer.http import describe_exception, display_host, display_url, redact, safe_headers
from signer.services.rekor import RekorClient
from signer.testing.ports import free_port

SECRET = "hunter2-pw"


def test_display_host_drops_user_info() -> None:
    assert display_host(f"https://alice:{SECRET}@rekor.example:8443/api") == "rekor.example:8443"
    assert display_host("https://rekor.example/api") == "rekor.example"


def test_display_url_drops_user_info_and_keeps_the_rest() -> None:
    url = f"https://alice:{SECRET}@rekor.example/api/v1/log/entries/ab?x=1"
    assert display_url(url) == "https://rekor.example/api/v1/log/entries/ab?x=1"
    plain = "https://rekor.example/api/v1/log/entries/ab"
    assert display_url(plain) == plain


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectionError("refused"),
        requests.exceptions.SSLError("bad certificate"),
        requests.exceptions.ReadTimeout("slow"),
        requests.exceptions.InvalidURL("odd"),
    ],
)
def test_describe_exception_never_shows_url_credentials(exc: requests.RequestException) -> None:
    error = describe_exception(exc, f"https://alice:{SECRET}@rekor.example/api")
    assert SECRET not in error.diagnostics()
    assert "alice" not in error.diagnostics()
    assert "rekor.example" in error.message


def test_a_service_down_error_does_not_echo_url_credentials() -> None:
    """Regression: the host in network errors was the URL's netloc, user:password included."""
    port = free_port()  # nothing listens there
    client = RekorClient(f"http://alice:{SECRET}@127.0.0.1:{port}", attempts=1, backoff=0.0,
                         timeout=(0.5, 0.5))
    try:
        with pytest.raises(Error) as caught:
            client.get_entry("a" * 64)
    finally:
        client.close()
    assert SECRET not in caught.value.diagnostics()
    assert f"127.0.0.1:{port}" in caught.value.message


def test_redact_and_safe_headers() -> None:
    assert redact(f"token {SECRET} and {SECRET}", [SECRET, None, ""]) == "token *** and ***"
    headers = safe_headers({"Authorization": f"Bearer {SECRET}", "Accept": "x"})
    assert headers == {"Authorization": "***", "Accept": "x"}
