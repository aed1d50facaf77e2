"""Which schemes the client is willing to use, observed at the transport layer.

No network: a transport adapter records every URL the client tries and refuses the
connection, so the policy (HTTPS only unless the registry is loopback or named
insecure) is checked without any server. The bare TLS handshake that decides whether
a loopback or insecure registry's HTTPS attempt is worth making is replaced by a
fixed answer.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
import requests
from requests.adapters import BaseAdapter

from signer.errors import NetworkError
from signer.reference import parse_reference
from signer.registry.client import RegistryClient
from signer.registry.credentials import AnonymousKeychain


class _Refusing(BaseAdapter):
    def __init__(self, seen: list[tuple[str, Any]]) -> None:
        super().__init__()
        self.seen = seen

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.seen.append((request.url or "", kwargs.get("verify")))
        raise requests.exceptions.ConnectionError(ConnectionRefusedError(111, "Connection refused"))

    def close(self) -> None:
        """Nothing to close."""


def _attempts(text: str, insecure: tuple[str, ...] = (),
              answers_tls: bool = True) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []
    client = RegistryClient(AnonymousKeychain(), insecure=insecure, retries=0)
    for session in (client._session, client._once):
        session.mount("https://", _Refusing(seen))
        session.mount("http://", _Refusing(seen))
    with client, pytest.raises(NetworkError), \
            mock.patch("signer.registry.client.answers_tls", return_value=answers_tls):
        client.get_manifest(parse_reference(text))
    return seen


def test_remote_registries_use_verified_https_only() -> None:
    seen = _attempts("registry.example.com/app:v1")
    assert [url for url, _ in seen] == ["https://registry.example.com/v2/"]
    assert all(verify is not False for _, verify in seen)


def test_docker_hub_goes_to_its_api_host() -> None:
    seen = _attempts("alpine")
    assert [url for url, _ in seen] == ["https://registry-1.docker.io/v2/"]


@pytest.mark.parametrize("text", ["127.0.0.1:5000/app", "localhost:5000/app",
                                  "[::1]:5000/app", "127.1.2.3/app"])
def test_loopback_tries_https_then_http(text: str) -> None:
    host = text.split("/")[0]
    seen = _attempts(text)
    assert [url for url, _ in seen] == [f"https://{host}/v2/", f"http://{host}/v2/"]
    assert seen[0][1] is not False  # TLS still verified on the HTTPS attempt


def test_named_insecure_registry_may_use_http_and_unverified_tls() -> None:
    seen = _attempts("registry.internal:5000/app", insecure=("registry.internal:5000",))
    assert [url for url, _ in seen] == ["https://registry.internal:5000/v2/",
                                        "http://registry.internal:5000/v2/"]
    assert seen[0][1] is False
    # Naming one registry insecure does not relax another.
    seen = _attempts("other.internal:5000/app", insecure=("registry.internal:5000",))
    assert [url for url, _ in seen] == ["https://other.internal:5000/v2/"]


@pytest.mark.parametrize("insecure", [(), ("127.0.0.1:5000",)])
def test_port_without_tls_skips_the_https_attempt(insecure: tuple[str, ...]) -> None:
    seen = _attempts("127.0.0.1:5000/app", insecure=insecure, answers_tls=False)
    assert [url for url, _ in seen] == ["http://127.0.0.1:5000/v2/"]


def test_remote_registry_never_takes_the_plain_http_shortcut() -> None:
    seen = _attempts("registry.example.com/app:v1", answers_tls=False)
    assert [url for url, _ in seen] == ["https://registry.example.com/v2/"]
