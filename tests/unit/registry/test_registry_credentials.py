"""Credential sources: Docker config.json, credential helpers, GITHUB_TOKEN, chains."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from signer.errors import InputError
from signer.registry.credentials import (
    AnonymousKeychain,
    ChainKeychain,
    Credentials,
    DockerConfigKeychain,
    GitHubTokenKeychain,
    StaticKeychain,
    default_keychain,
    docker_config_path,
    run_credential_helper,
)

SECRET = "s3cret-value-123"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _config(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    return path


def test_credentials_never_show_secrets() -> None:
    creds = Credentials("alice", SECRET)
    token = Credentials("<token>", "", identity_token=SECRET)
    for value in (creds, token):
        assert SECRET not in repr(value)
        assert SECRET not in str(value)
        assert SECRET not in f"{value}"
    assert "alice" in repr(creds)
    assert creds.basic_header() == "Basic " + _b64(f"alice:{SECRET}")
    assert creds.secrets == (SECRET,)
    assert SECRET not in repr(StaticKeychain(creds))


def test_credentials_cannot_be_unpacked_serialised_or_changed() -> None:
    creds = Credentials("alice", SECRET)
    with pytest.raises(TypeError):
        iter(creds)  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        json.dumps(creds)
    with pytest.raises(AttributeError):
        creds.password = "other"  # type: ignore[misc]
    assert creds == Credentials("alice", SECRET) and creds != Credentials("alice", "x")
    assert hash(creds) == hash(Credentials("alice", SECRET))
    assert creds != ("alice", SECRET, None)


@pytest.mark.parametrize(("key", "registry"), [
    ("registry.example.com", "registry.example.com"),
    ("https://registry.example.com", "registry.example.com"),
    ("https://registry.example.com/v1/", "registry.example.com"),
    ("http://127.0.0.1:5000", "127.0.0.1:5000"),
    ("https://index.docker.io/v1/", "docker.io"),
    ("docker.io", "docker.io"),
])
def test_auths_entries(tmp_path: Path, key: str, registry: str) -> None:
    path = _config(tmp_path, {"auths": {key: {"auth": _b64(f"bob:{SECRET}")}}})
    found = DockerConfigKeychain(path).credentials_for(registry)
    assert found == Credentials("bob", SECRET)
    assert DockerConfigKeychain(path).credentials_for("other.example") is None


def test_auths_username_password_and_identity_token(tmp_path: Path) -> None:
    path = _config(tmp_path, {"auths": {
        "a.example": {"username": "u", "password": SECRET},
        "b.example": {"auth": _b64("u2:ignored"), "identitytoken": SECRET},
        "c.example": {},
    }})
    keychain = DockerConfigKeychain(path)
    assert keychain.credentials_for("a.example") == Credentials("u", SECRET)
    token = keychain.credentials_for("b.example")
    assert token is not None and token.identity_token == SECRET and token.username == "u2"
    assert keychain.credentials_for("c.example") is None


def test_missing_and_malformed_config(tmp_path: Path) -> None:
    assert DockerConfigKeychain(tmp_path / "absent.json").credentials_for("x") is None
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="cannot read Docker config"):
        DockerConfigKeychain(bad).credentials_for("x")
    path = _config(tmp_path, {"auths": {"x": {"auth": _b64("no-colon")}}})
    with pytest.raises(InputError, match="malformed 'auth'") as info:
        DockerConfigKeychain(path).credentials_for("x")
    assert "no-colon" not in info.value.diagnostics()


def test_docker_config_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert docker_config_path() == tmp_path / "config.json"
    monkeypatch.delenv("DOCKER_CONFIG")
    assert docker_config_path() == Path.home() / ".docker" / "config.json"


def _helper(bin_dir: Path, name: str, answer: dict[str, str] | None, log: Path) -> None:
    """A docker-credential-<name> program that logs its argv and stdin."""
    bin_dir.mkdir(exist_ok=True)
    program = bin_dir / f"docker-credential-{name}"
    reply = json.dumps(answer) if answer else ""
    program.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >> "{log}"\n'
        f'cat >> "{log}"\n'
        f'printf "\\n" >> "{log}"\n'
        + (f"printf '%s' '{reply}'\n" if answer else
           'echo "credentials not found in native keychain"; exit 1\n')
    )
    program.chmod(program.stat().st_mode | stat.S_IXUSR)


def test_credential_helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir, log = tmp_path / "bin", tmp_path / "helper.log"
    _helper(bin_dir, "good", {"ServerURL": "x", "Username": "helper-user", "Secret": SECRET}, log)
    _helper(bin_dir, "token", {"ServerURL": "x", "Username": "<token>", "Secret": SECRET}, log)
    _helper(bin_dir, "none", None, log)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    path = _config(tmp_path, {
        "credHelpers": {"a.example": "good", "t.example": "token", "n.example": "none",
                        "m.example": "missing-program"},
        "credsStore": "none",
        "auths": {"n.example": {"auth": _b64(f"fallback:{SECRET}")},
                  "s.example": {"auth": _b64(f"store-fallback:{SECRET}")}},
    })
    keychain = DockerConfigKeychain(path)
    assert keychain.credentials_for("a.example") == Credentials("helper-user", SECRET)
    token = keychain.credentials_for("t.example")
    assert token is not None and token.identity_token == SECRET
    # A helper named in credHelpers is authoritative, as in Docker.
    assert keychain.credentials_for("n.example") is None
    assert keychain.credentials_for("m.example") is None
    # credsStore without an answer falls back to auths.
    assert keychain.credentials_for("s.example") == Credentials("store-fallback", SECRET)
    # The protocol: "get" in argv, the server URL on stdin; no secret in argv.
    entries = log.read_text().split("\n")
    assert entries[0] == "get" and entries[1] == "a.example"
    assert all(SECRET not in line for line in entries)


def test_run_credential_helper_absent() -> None:
    assert run_credential_helper("definitely-not-installed-xyz", "a.example") is None


def test_github_token_only_for_ghcr() -> None:
    env = {"GITHUB_TOKEN": SECRET, "GITHUB_ACTOR": "octocat"}
    keychain = GitHubTokenKeychain(env)
    assert keychain.credentials_for("ghcr.io") == Credentials("octocat", SECRET)
    assert keychain.credentials_for("docker.io") is None
    assert keychain.credentials_for("ghcr.io.evil.example") is None
    assert GitHubTokenKeychain({}).credentials_for("ghcr.io") is None
    assert SECRET not in repr(keychain)


def test_chains_and_static(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = Credentials("me", SECRET)
    static = StaticKeychain(explicit, frozenset({"only.example"}))
    assert static.credentials_for("only.example") == explicit
    assert static.credentials_for("other.example") is None
    chain = ChainKeychain((AnonymousKeychain(), static))
    assert chain.credentials_for("only.example") == explicit
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    _config(tmp_path, {"auths": {"only.example": {"auth": _b64("docker:pw")},
                                 "x.example": {"auth": _b64("docker:pw")}}})
    keychain = default_keychain(explicit, ["only.example"])
    assert keychain.credentials_for("only.example") == explicit
    assert keychain.credentials_for("x.example") == Credentials("docker", "pw")


def test_credential_helper_environment_is_scrubbed(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir, dump = tmp_path / "bin", tmp_path / "env.txt"
    bin_dir.mkdir()
    program = bin_dir / "docker-credential-envdump"
    program.write_text(f"#!/bin/sh\nenv > '{dump}'\ncat > /dev/null\n"
                       """printf '{"Username":"u","Secret":"s"}'\n""")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    kept = {"HOME": str(tmp_path), "AWS_PROFILE": "ecr", "DOCKER_CONFIG": str(tmp_path),
            "XDG_RUNTIME_DIR": "/run/user/0", "HTTPS_PROXY": "http://proxy:3128"}
    dropped = {"INPUT_KEY_PASSWORD": SECRET, "INPUT_KEY": SECRET, "GITHUB_TOKEN": SECRET,
               "SIGNER_GITHUB_TOKEN": SECRET, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": SECRET,
               "ACTIONS_RUNTIME_TOKEN": SECRET, "COSIGN_PASSWORD": SECRET,
               "SIGSTORE_ID_TOKEN": SECRET, "SIGNER_REGISTRY_PASSWORD": SECRET,
               "SOME_OTHER_SECRET": SECRET}
    for name, value in {**kept, **dropped}.items():
        monkeypatch.setenv(name, value)
    assert run_credential_helper("envdump", "a.example") == Credentials("u", "s")
    environment = dict(line.split("=", 1) for line in dump.read_text().splitlines()
                       if "=" in line)
    assert {k: environment.get(k) for k in kept} == kept
    assert "PATH" in environment
    assert sorted(set(dropped) & set(environment)) == []
    assert SECRET not in dump.read_text()


@pytest.mark.parametrize("section", ["credsStore", "credHelpers"])
@pytest.mark.parametrize("name", ["x/../evil", "../evil", "x\\..\\evil", "/evil", ""])
def test_a_helper_name_that_is_a_path_runs_nothing(tmp_path: Path, section: str, name: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """config.json names a helper program by suffix (docker-credential-NAME); a name with a
    path in it would run whatever program it leads to (from the working directory, which
    in the action is the checked-out repository): refused, nothing runs."""
    work, marker = tmp_path / "work", tmp_path / "ran"
    (work / "docker-credential-x").mkdir(parents=True)
    (work / "docker-credential-").mkdir()
    evil = work / "evil"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\n")
    evil.chmod(0o755)
    monkeypatch.chdir(work)
    document: dict[str, object] = {"auths": {"h.example": {"auth": _b64(f"u:{SECRET}")}}}
    document[section] = name if section == "credsStore" else {"h.example": name}
    keychain = DockerConfigKeychain(_config(tmp_path, document))
    if not name:  # an empty name means no helper, as in Docker
        assert keychain.credentials_for("h.example") == Credentials("u", SECRET)
    else:
        with pytest.raises(InputError, match="not a program name"):
            keychain.credentials_for("h.example")
    assert not marker.exists()
