"""Registry error messages (signer/registry/failures.py): server text is scrubbed of every
credential before it is shortened (issue 13.7)."""

from __future__ import annotations

import base64
import io
import json

import pytest
import requests

from signer.errors import RegistryError
from signer.registry.failures import MAX_DETAIL_CHARS, response_error, sent_credentials

BEARER = "eyJhbGciOiJFUzI1NiJ9." + "a" * 300 + ".sig"
BASIC_BLOB = base64.b64encode(b"alice:hunter2-password").decode()
REFRESH = "refresh-token-0123456789"


def _response(status: int, message: str, authorization: str | None) -> requests.Response:
    """A response as requests builds one, to a request that carried ``authorization``."""
    request = requests.Request("GET", "http://registry.test/v2/x/manifests/v1",
                               headers={"Authorization": authorization} if authorization
                               else {}).prepare()
    response = requests.Response()
    response.status_code = status
    response.headers["Content-Type"] = "application/json"
    response.raw = io.BytesIO(json.dumps(
        {"errors": [{"code": "DENIED", "message": message}]}).encode())
    response.request = request
    return response


def test_sent_credentials_name_every_form_of_the_header() -> None:
    bearer = requests.Request("GET", "http://x/", headers={
        "Authorization": f"Bearer {BEARER}"}).prepare()
    assert sent_credentials(bearer) == [f"Bearer {BEARER}", BEARER]
    basic = requests.Request("GET", "http://x/", headers={
        "Authorization": f"Basic {BASIC_BLOB}"}).prepare()
    assert sent_credentials(basic) == [f"Basic {BASIC_BLOB}", BASIC_BLOB,
                                       "alice:hunter2-password", "hunter2-password"]
    assert sent_credentials(requests.Request("GET", "http://x/").prepare()) == []
    assert sent_credentials(None) == []


@pytest.mark.parametrize(("echo", "authorization", "secret"), [
    # longer than the detail limit: redacted before the message is cut
    (f"Authorization: Bearer {BEARER}", f"Bearer {BEARER}", BEARER[:30]),
    # the server itself cut the token short
    (f"token {BEARER[:100]}", f"Bearer {BEARER}", BEARER[:30]),
    (f"Basic {BASIC_BLOB}", f"Basic {BASIC_BLOB}", BASIC_BLOB),
    ("user alice:hunter2-password", f"Basic {BASIC_BLOB}", "hunter2-password"),
    ("password hunter2-password", f"Basic {BASIC_BLOB}", "hunter2-password"),
])
def test_echoed_credentials_never_reach_the_message(echo: str, authorization: str,
                                                    secret: str) -> None:
    error = response_error(_response(403, echo, authorization), "manifest x", "registry.test")
    assert isinstance(error, RegistryError) and "HTTP 403" in error.message
    assert secret not in error.message and BEARER[:12] not in error.message
    assert "***" in error.message, error.message
    assert len(error.message) < 200 + MAX_DETAIL_CHARS


def test_the_refresh_token_of_the_keychain_is_redacted_too() -> None:
    error = response_error(_response(401, f"bad refresh_token={REFRESH}", None),
                           "token request to auth.test", "auth.test", secrets=(REFRESH,))
    assert REFRESH not in error.message and "refresh_token=***" in error.message
