"""A bearer token is only ever sent to the registry it was fetched for.

Registry B (hostile) answers with registry A's challenge (A's realm and service). The
client had a token for the same repository path from A, cached under (realm, service,
scope, user): with the same user name at both registries (common for a CI account),
that cached token -- A's push token -- went to B. Tokens are now kept per registry.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable

from signer.errors import AuthenticationError
from signer.reference import parse_reference
from signer.registry.client import RegistryClient
from signer.registry.credentials import ChainKeychain, Credentials, StaticKeychain
from tests.hardening.test_hostile_network import HostileServer, _Handler, hostile  # noqa: F401

A_TOKEN = "registry-a-push-token-3f9c1e7d"
USER = "ci-bot"


def _basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode()


def test_a_registry_naming_another_registrys_realm_never_gets_its_token(
        hostile: Callable[[], HostileServer]) -> None:  # noqa: F811
    registry_a, registry_b = hostile(), hostile()
    challenge = {"WWW-Authenticate": f'Bearer realm="http://{registry_a.host}/token",'
                                     f'service="{registry_a.host}"'}

    def a_api(handler: _Handler) -> None:
        if handler.headers.get("Authorization") == f"Bearer {A_TOKEN}":
            handler.reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"x"}]}',
                          {"Content-Type": "application/json"})
        else:
            handler.reply(401, b"{}", challenge)

    def a_token(handler: _Handler) -> None:  # only A's own credentials get a token
        if handler.headers.get("Authorization") == _basic("password-for-a"):
            handler.reply(200, json.dumps({"token": A_TOKEN}).encode(),
                          {"Content-Type": "application/json"})
        else:
            handler.reply(401, b"{}")

    registry_a.routes = {"* /v2/": a_api, "* /v2/org/app/manifests/v1": a_api,
                         "GET /token": a_token}
    registry_b.routes = {"* /v2/": lambda h: h.reply(401, b"{}", challenge),
                         "* /v2/org/app/manifests/v1": lambda h: h.reply(401, b"{}", challenge)}
    keychain = ChainKeychain((
        StaticKeychain(Credentials(USER, "password-for-a"), frozenset({registry_a.host})),
        StaticKeychain(Credentials(USER, "password-for-b"), frozenset({registry_b.host}))))
    with RegistryClient(keychain) as client:
        assert client.head_manifest(parse_reference(f"{registry_a.host}/org/app:v1")) is None
        # A's realm refuses B's password: no token for B, which is right
        with contextlib.suppress(AuthenticationError):
            client.head_manifest(parse_reference(f"{registry_b.host}/org/app:v1"))
    sent_to_b = [headers for _, _, headers in registry_b.seen]
    assert sent_to_b, "the client never asked registry B"
    assert all(A_TOKEN not in json.dumps(headers) for headers in sent_to_b), sent_to_b
