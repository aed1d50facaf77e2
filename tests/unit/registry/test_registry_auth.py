"""Challenge parsing, token caching and error-shaping helpers."""

from __future__ import annotations

import time

import pytest
import requests

from signer.registry import auth
from signer.registry.auth import Challenge, TokenCache, parse_challenge, repository_scope
from signer.registry.client import _next_link, _with_query
from signer.registry.failures import exception_error, looks_like_html


@pytest.mark.parametrize(("header", "expected"), [
    ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
     Challenge("bearer", {"realm": "https://auth.docker.io/token",
                          "service": "registry.docker.io"})),
    ('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/a:pull"',
     Challenge("bearer", {"realm": "https://ghcr.io/token", "service": "ghcr.io",
                          "scope": "repository:o/a:pull"})),
    ('Basic realm="Registry Realm"', Challenge("basic", {"realm": "Registry Realm"})),
    ("basic realm=plain", Challenge("basic", {"realm": "plain"})),
    ('Bearer realm="r", error="insufficient_scope", scope="a:b:c d:e:f"',
     Challenge("bearer", {"realm": "r", "error": "insufficient_scope",
                          "scope": "a:b:c d:e:f"})),
    ('Bearer realm="with \\"quote\\""', Challenge("bearer", {"realm": 'with "quote"'})),
    ("Bearer", Challenge("bearer", {})),
    ("", None),
    (None, None),
])
def test_parse_challenge(header: str | None, expected: Challenge | None) -> None:
    assert parse_challenge(header) == expected


def test_scope() -> None:
    assert repository_scope("library/alpine", "pull,push") == "repository:library/alpine:pull,push"


def test_token_cache_scopes_and_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = TokenCache()
    pull = ("a.example", "realm", "svc", ("repository:a:pull",), "alice")
    push = ("a.example", "realm", "svc", ("repository:a:pull,push",), "alice")
    other_user = ("a.example", "realm", "svc", ("repository:a:pull",), "bob")
    other_registry = ("b.example", "realm", "svc", ("repository:a:pull",), "alice")
    assert cache.get(pull) is None
    cache.put(push, "push-token", 300)
    # A push token serves pulls of the same repository; not another user's requests,
    # nor another registry naming the same realm.
    assert cache.get(pull) == "push-token"
    assert cache.get(other_user) is None
    assert cache.get(other_registry) is None
    cache.put(pull, "pull-token", 300)
    assert cache.get(pull) == "pull-token"
    cache.drop(pull)
    assert cache.get(pull) == "push-token"
    # Tokens about to expire are not used.
    cache.put(other_user, "short", 5)
    assert cache.get(other_user) is None
    now = time.monotonic()
    cache.put(pull, "soon", 60)
    monkeypatch.setattr(auth.time, "monotonic", lambda: now + 55)
    assert cache.get(pull) != "soon"
    assert "token" not in repr(cache).replace("tokens", "")


def test_html_detection() -> None:
    assert looks_like_html("text/html; charset=utf-8", b"")
    assert looks_like_html("application/octet-stream", b"  <!DOCTYPE html><html>")
    assert not looks_like_html("application/json", b'{"errors":[]}')


def test_next_link_and_query() -> None:
    base = "http://127.0.0.1:5000/"
    assert _next_link('</v2/x/tags/list?n=2&last=b>; rel="next"', base) == (
        "http://127.0.0.1:5000/v2/x/tags/list?n=2&last=b")
    assert _next_link("", base) is None
    assert _next_link('</a>; rel="prev"', base) is None
    assert _with_query("http://h/v2/u?_state=abc", digest="sha256:00") == (
        "http://h/v2/u?_state=abc&digest=sha256%3A00")


def test_exception_messages_are_distinct() -> None:
    refused = requests.exceptions.ConnectionError(ConnectionRefusedError(111, "Connection refused"))
    tls = requests.exceptions.SSLError("certificate verify failed")
    timeout = requests.exceptions.ReadTimeout("read timed out")
    messages = {exception_error(e, "h:1").message for e in (refused, tls, timeout)}
    assert len(messages) == 3
    assert all(exception_error(e, "h:1").hint for e in (refused, tls, timeout))
