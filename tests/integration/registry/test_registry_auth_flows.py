"""Authentication against the real TLS+htpasswd and bearer-token registries."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from signer.errors import AuthenticationError
from signer.reference import parse_reference
from signer.registry.client import RegistryClient
from signer.registry.credentials import (
    AnonymousKeychain,
    Credentials,
    DockerConfigKeychain,
    StaticKeychain,
)
from signer.testing.images import write_oci_layout
from signer.testing.registry import AuthRegistry
from tests.integration.registry.conftest import push_image

pytestmark = pytest.mark.slow


def test_tokens_are_scoped_and_cached(token_registry: AuthRegistry, tmp_path: Path) -> None:
    server = token_registry.token_server
    assert server is not None
    creds = Credentials(token_registry.username, token_registry.password)
    image = write_oci_layout(tmp_path / "img", seed="token-cache", tag="v1", layers=3)
    before = len(server.requests)
    with RegistryClient(StaticKeychain(creds)) as client:
        ref = parse_reference(f"{token_registry.host}/cache/app:v1")
        push_image(client, ref, image)
        for _ in range(3):
            client.get_manifest(ref)
            client.resolve_digest(ref)
        other = parse_reference(f"{token_registry.host}/cache/other:v1")
        assert client.head_manifest(other) is None
    issued = server.requests[before:]
    # A pull token (the first blob check), a pull,push token (uploads, then reused for
    # every later pull), a pull token for the other repository: not one per request.
    assert [r.scopes for r in issued] == [("repository:cache/app:pull",),
                                          ("repository:cache/app:pull,push",),
                                          ("repository:cache/other:pull",)]
    assert all(r.username == token_registry.username for r in issued)


def test_reader_can_pull_but_not_push(token_registry: AuthRegistry, tmp_path: Path) -> None:
    owner = Credentials(token_registry.username, token_registry.password)
    reader = Credentials("reader", token_registry.users["reader"])
    image = write_oci_layout(tmp_path / "img", seed="reader", tag="v1")
    ref = parse_reference(f"{token_registry.host}/acl/app:v1")
    with RegistryClient(StaticKeychain(owner)) as client:
        digest = push_image(client, ref, image)
    with RegistryClient(StaticKeychain(reader)) as client:
        assert client.get_manifest(ref).digest == digest
        with pytest.raises(AuthenticationError) as info:
            client.upload_blob(ref, b"not allowed")
    assert "insufficient_scope" in info.value.message
    assert token_registry.users["reader"] not in info.value.diagnostics()
    assert info.value.hint and "write access" in info.value.hint


@pytest.mark.parametrize("kind", ["tls", "token"])
def test_anonymous_is_told_to_log_in(request: pytest.FixtureRequest, kind: str) -> None:
    reg: AuthRegistry = request.getfixturevalue(f"{kind}_registry")
    ca = str(reg.ca_bundle) if reg.ca_bundle else None
    with RegistryClient(AnonymousKeychain(), ca_bundle=ca) as client, \
            pytest.raises(AuthenticationError) as info:
        client.get_manifest(parse_reference(f"{reg.host}/anon/app:v1"))
    assert "requires authentication" in info.value.message
    assert info.value.hint and "docker login" in info.value.hint


def _write_config(directory: Path, document: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.json"
    path.write_text(json.dumps(document))
    return path


def test_docker_config_auths_with_tls(tls_registry: AuthRegistry, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    encoded = base64.b64encode(f"{tls_registry.username}:{tls_registry.password}".encode())
    _write_config(tmp_path / "docker", {"auths": {f"https://{tls_registry.host}": {
        "auth": encoded.decode()}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    image = write_oci_layout(tmp_path / "img", seed="config-auths", tag="v1")
    ref = parse_reference(f"{tls_registry.host}/config/app:v1")
    # credentials=None: the default keychain reads $DOCKER_CONFIG/config.json.
    with RegistryClient(ca_bundle=str(tls_registry.ca_bundle)) as client:
        assert push_image(client, ref, image) == image.digest
        assert client.get_manifest(ref).data == image.manifest


def test_credential_helper_with_token_registry(token_registry: AuthRegistry, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "argv.log"
    answer = json.dumps({"ServerURL": token_registry.host, "Username": token_registry.username,
                         "Secret": token_registry.password})
    helper = bin_dir / "docker-credential-signertest"
    helper.write_text(f'#!/bin/sh\nprintf "%s|" "$0" "$@" > "{log}"\ncat > /dev/null\n'
                      f"printf '%s' '{answer}'\n")
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config = _write_config(tmp_path / "docker", {
        "credHelpers": {token_registry.host: "signertest"}})
    image = write_oci_layout(tmp_path / "img", seed="helper", tag="v1")
    ref = parse_reference(f"{token_registry.host}/helper/app:v1")
    with RegistryClient(DockerConfigKeychain(config)) as client:
        assert push_image(client, ref, image) == image.digest
    assert token_registry.password not in log.read_text()
    assert log.read_text().endswith("|get|")


def test_identity_token_refresh_flow(token_registry: AuthRegistry, tmp_path: Path) -> None:
    server = token_registry.token_server
    assert server is not None
    refresh = server.users[token_registry.username].refresh_token
    config = _write_config(tmp_path / "docker", {"auths": {token_registry.host: {
        "identitytoken": refresh}}})
    before = len(server.requests)
    with RegistryClient(DockerConfigKeychain(config)) as client:
        client.upload_blob(parse_reference(f"{token_registry.host}/oauth/app"), b"via oauth")
    assert [r.method for r in server.requests[before:]] == ["POST"]


def test_insecure_tls_registry_without_ca(tls_registry: AuthRegistry, tmp_path: Path) -> None:
    creds = Credentials(tls_registry.username, tls_registry.password)
    ref = parse_reference(f"{tls_registry.host}/insecure/app:v1")
    image = write_oci_layout(tmp_path / "img", seed="insecure", tag="v1")
    with RegistryClient(StaticKeychain(creds), insecure=[tls_registry.host]) as client:
        assert push_image(client, ref, image) == image.digest


def test_concurrent_use_of_one_client(token_registry: AuthRegistry, tmp_path: Path) -> None:
    creds = Credentials(token_registry.username, token_registry.password)
    images = [write_oci_layout(tmp_path / f"img{i}", seed=f"conc-{i}", tag="v1")
              for i in range(8)]
    errors: list[BaseException] = []
    results: dict[int, str] = {}
    server = token_registry.token_server
    assert server is not None
    before = len(server.requests)
    with RegistryClient(StaticKeychain(creds)) as client:
        def work(i: int) -> None:
            try:
                ref = parse_reference(f"{token_registry.host}/conc/app{i % 2}:t{i}")
                results[i] = push_image(client, ref, images[i])
                for _ in range(5):
                    assert client.resolve_digest(ref) == results[i]
            except BaseException as exc:  # collected and re-raised in the main thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors
    assert results == {i: images[i].digest for i in range(8)}
    # Eight threads, two repositories: one token per (repository, scope), not per thread.
    issued = sorted(r.scopes for r in server.requests[before:])
    assert issued == sorted({r.scopes for r in server.requests[before:]})
    assert len(issued) <= 4
