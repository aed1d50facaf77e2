"""Registry credentials in the action go only where they belong (issue 13, item 7).

- Typed-in ``registry-username``/``registry-password`` are for one registry: the one
  named by ``registry``, or the only registry of ``images``; with images on several
  registries and no ``registry`` the inputs are refused before anything is sent.
- A credential helper runs with a scrubbed environment: none of the action's inputs,
  the GitHub token or the runner's OIDC request token reach it.

Two real registries: a bearer-token one on plain HTTP (``token_registry``) and an HTTPS
one with basic auth (``tls_registry``), each with its own password.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from signer.keys import write_cosign_key_pair
from signer.testing.images import write_oci_layout
from signer.testing.registry import AuthRegistry
from tests.integration.action.conftest import GITHUB_TOKEN, ActionHarness, assert_no_secrets

pytestmark = pytest.mark.slow


def _error_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("::error")]


def _docker_config(home: Path, config: dict[str, object]) -> Path:
    directory = home / "docker-config"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def _basic(registry: AuthRegistry) -> dict[str, str]:
    import base64

    raw = f"{registry.username}:{registry.password}".encode()
    return {"auth": base64.b64encode(raw).decode()}


def _key(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "keys").mkdir(exist_ok=True)
    write_cosign_key_pair(tmp_path / "keys", b"pw-creds-key")
    return (tmp_path / "keys" / "cosign.key").read_text(), "pw-creds-key"


def test_typed_credentials_on_several_registries_need_the_registry_input(
        action: ActionHarness, token_registry: AuthRegistry, tls_registry: AuthRegistry,
        tmp_path: Path) -> None:
    assert tls_registry.ca_bundle is not None
    layout = write_oci_layout(tmp_path / "layout", seed="creds-two", tag="v1")
    images = (f"{token_registry.host}/action/creds:v1\n"
              f"{tls_registry.host}/action/creds:v1")
    # the TLS registry's login is configured the docker/login-action way
    config = _docker_config(tmp_path, {"auths": {tls_registry.host: _basic(tls_registry)}})
    key, key_password = _key(tmp_path)
    inputs = {
        "push-from": str(layout.path), "images": images, "key": key,
        "key-password": key_password,
        "registry-username": token_registry.username,
        "registry-password": token_registry.password,
        "registry-ca-bundle": str(tls_registry.ca_bundle), **action.stack_inputs(),
    }
    extra = {"DOCKER_CONFIG": str(config)}
    ambiguous = action.run(inputs, id_token=False, extra_env=extra)
    assert ambiguous.exit_code == 2, ambiguous.log
    errors = _error_lines(ambiguous.log)
    assert len(errors) == 1 and "input 'registry'" in errors[0]
    assert "pushed" not in ambiguous.log  # refused before anything was sent

    named = action.run({**inputs, "registry": token_registry.host}, id_token=False,
                       extra_env=extra)
    # the typed password went to the token registry only; the TLS registry got its own
    assert named.succeeded, named.log
    assert named.outputs["verified"] == "true"
    for run in (ambiguous, named):
        assert_no_secrets(run, [token_registry.password, tls_registry.password, key_password,
                                GITHUB_TOKEN])


def test_registry_input_must_name_a_registry_of_the_images(
        action: ActionHarness, token_registry: AuthRegistry) -> None:
    run = action.run({"mode": "verify", "images": f"{token_registry.host}/a/b:v1",
                      "registry": "elsewhere.example", "public-key": "-----BEGIN PUBLIC KEY-----"
                      "\nx\n-----END PUBLIC KEY-----",
                      "registry-username": "u", "registry-password": "p-secret-123"})
    assert run.exit_code == 2
    assert any("input 'registry'" in line for line in _error_lines(run.log))


def test_credential_helper_gets_a_scrubbed_environment(
        action: ActionHarness, token_registry: AuthRegistry, tmp_path: Path) -> None:
    dump = tmp_path / "helper-environment.txt"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-envdump"
    answer = json.dumps({"ServerURL": token_registry.host, "Username": token_registry.username,
                         "Secret": token_registry.password})
    helper.write_text(f"#!/bin/sh\nenv > '{dump}'\ncat > /dev/null\nprintf '%s' '{answer}'\n")
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    config = _docker_config(tmp_path, {"credHelpers": {token_registry.host: "envdump"}})
    layout = write_oci_layout(tmp_path / "layout", seed="creds-helper", tag="v1")
    key, key_password = _key(tmp_path)
    import os

    run = action.run({"push-from": str(layout.path),
                      "images": f"{token_registry.host}/action/helper:v1",
                      "key": key, "key-password": key_password, **action.stack_inputs()},
                     extra_env={"DOCKER_CONFIG": str(config),
                                "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert run.succeeded, run.log
    environment = dump.read_text()
    names = {line.split("=", 1)[0] for line in environment.splitlines() if "=" in line}
    assert "PATH" in names and "HOME" in names  # what a helper needs to run
    leaked = sorted(n for n in names if n.startswith(("INPUT_", "SIGNER_", "ACTIONS_",
                                                      "GITHUB_TOKEN", "SIGSTORE_")))
    assert leaked == []
    key_body = [line for line in key.splitlines() if "-----" not in line]
    for secret in (key_password, GITHUB_TOKEN, action.stack.token_request_token, *key_body):
        assert secret not in environment
