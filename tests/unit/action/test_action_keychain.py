"""Which credential the action offers each registry (issue 13, item 7).

On ghcr.io a credential the user configured -- typed in, Docker's config.json (as
docker/login-action writes it) or a credential helper -- wins over the workflow's
GITHUB_TOKEN, which is only the fallback (``github-token`` input). Typed-in
credentials go to one registry only.
"""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from signer.action.credentials import build_keychain
from signer.action.inputs import read_inputs
from signer.registry.credentials import Credentials

TOKEN = "ghs_workflowTokenValue0123456789"
PAT = "ghp_otherOrgPersonalAccessToken0123"


def _env(**inputs: str) -> dict[str, str]:
    values = {"GITHUB_REPOSITORY": "octo-org/app", "GITHUB_WORKSPACE": "/",
              "SIGNER_GITHUB_ACTOR": "octocat", "INPUT_GITHUB_TOKEN": TOKEN,
              "SIGNER_GITHUB_TOKEN": TOKEN,  # where action.yml put github.token before
              "INPUT_CERTIFICATE_OIDC_ISSUER": "https://token.actions.githubusercontent.com",
              "INPUT_MODE": "verify"}
    for name, value in inputs.items():
        values["INPUT_" + name.upper()] = value
    return values


def _keychain_for(env: dict[str, str], registry: str) -> Credentials | None:
    inputs, problems = read_inputs(env)
    assert problems == [] and inputs is not None, problems
    return build_keychain(inputs, env).credentials_for(registry)


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    return tmp_path / "config.json"


def test_github_token_is_the_fallback_on_ghcr(docker_config: Path) -> None:
    found = _keychain_for(_env(images="ghcr.io/octo-org/app:1"), "ghcr.io")
    assert found == Credentials("octocat", TOKEN)
    # never offered anywhere else
    assert _keychain_for(_env(images="ghcr.io/octo-org/app:1 quay.io/o/a:1"),
                         "quay.io") is None
    # no token input, no fallback
    env = _env(images="ghcr.io/octo-org/app:1")
    del env["INPUT_GITHUB_TOKEN"], env["SIGNER_GITHUB_TOKEN"]
    assert _keychain_for(env, "ghcr.io") is None


def test_a_docker_login_wins_over_the_github_token(docker_config: Path) -> None:
    raw = base64.b64encode(f"someone:{PAT}".encode()).decode()
    docker_config.write_text(json.dumps({"auths": {"ghcr.io": {"auth": raw}}}))
    assert _keychain_for(_env(images="ghcr.io/other-org/base:1"),
                         "ghcr.io") == Credentials("someone", PAT)


def test_a_credential_helper_wins_over_the_github_token(docker_config: Path,
                                                        tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-ghcrtest"
    helper.write_text("#!/bin/sh\ncat > /dev/null\n"
                      f"printf '%s' '{json.dumps({'Username': 'helper', 'Secret': PAT})}'\n")
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    docker_config.write_text(json.dumps({"credHelpers": {"ghcr.io": "ghcrtest"}}))
    assert _keychain_for(_env(images="ghcr.io/o/a:1"), "ghcr.io") == Credentials("helper", PAT)


def test_typed_credentials_win_and_go_to_their_registry_only(docker_config: Path) -> None:
    env = _env(images="ghcr.io/o/a:1 docker.io/o/a:1", registry="docker.io",
               registry_username="hubuser", registry_password="hub-password-1")
    assert _keychain_for(env, "docker.io") == Credentials("hubuser", "hub-password-1")
    # ghcr.io gets the workflow token, not the Docker Hub password
    assert _keychain_for(env, "ghcr.io") == Credentials("octocat", TOKEN)
    single = _env(images="ghcr.io/o/a:1", registry_username="me", registry_password="pat-1")
    assert _keychain_for(single, "ghcr.io") == Credentials("me", "pat-1")


def test_typed_credentials_without_a_registry_on_several_registries_are_refused() -> None:
    inputs, problems = read_inputs(_env(images="ghcr.io/o/a:1 docker.io/o/a:1",
                                        registry_username="u", registry_password="p-1"))
    assert inputs is None
    assert [p.name for p in problems] == ["registry"]
    assert "ghcr.io" in problems[0].message and "docker.io" in problems[0].message
    assert "p-1" not in problems[0].message


def test_the_registry_input_is_normalised_and_checked() -> None:
    inputs, problems = read_inputs(_env(images="index.docker.io/o/a:1", registry="docker.io",
                                        registry_username="u", registry_password="p-1"))
    assert problems == [] and inputs is not None
    for bad in ("https://", "a b", "ghcr.io/path"):
        _, problems = read_inputs(_env(images="ghcr.io/o/a:1", registry=bad,
                                       registry_username="u", registry_password="p-1"))
        assert [p.name for p in problems] == ["registry"], bad
    _, problems = read_inputs(_env(images="ghcr.io/o/a:1", registry="ghcr.io"))
    assert [p.name for p in problems] == ["registry"]  # registry without credentials
