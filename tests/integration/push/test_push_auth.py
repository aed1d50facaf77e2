"""``signer push`` to a TLS + htpasswd registry and to a bearer-token registry.

Credentials reach ``signer`` only through stdin or the environment; skopeo (given the
same credentials) is the independent reader of what we pushed.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from signer.testing.images import TestImage
from signer.testing.registry import AuthRegistry
from tests.integration.push.conftest import (
    run_push,
    skopeo,
    skopeo_manifest_digest,
    skopeo_raw,
    tls_args,
)
from tests.integration.push.test_push_roundtrip import make_source, pushed_digest

AUTH_KINDS = ["oci", "oci-docker-types", "oci-index", "docker-index", "docker-save"]


def _cert_dir(registry: AuthRegistry, tmp_path: Path) -> Path | None:
    if registry.ca_bundle is None:
        return None
    cert_dir = tmp_path / "certs"
    cert_dir.mkdir(exist_ok=True)
    shutil.copy(registry.ca_bundle, cert_dir / "ca.crt")
    return cert_dir


def _flags(registry: AuthRegistry) -> list[str]:
    flags = ["--username", registry.username, "--password-stdin"]
    if registry.ca_bundle is not None:
        flags += ["--ca-bundle", str(registry.ca_bundle)]
    return flags


def _check_round_trip(registry: AuthRegistry, image: TestImage, repository: str, tag: str,
                      digest: str, tmp_path: Path) -> None:
    cert_dir = _cert_dir(registry, tmp_path)
    creds = f"{registry.username}:{registry.password}"
    raw = skopeo_raw(f"{repository}:{tag}", cert_dir=cert_dir, creds=creds)
    assert raw is not None
    assert digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert digest == skopeo_manifest_digest(raw, tmp_path)
    if image.manifest is not None:
        assert raw == image.manifest and digest == image.digest
    copy = tmp_path / "copy"
    skopeo("copy", "--all", "--preserve-digests", *tls_args("src-", cert_dir),
           f"--src-creds={creds}", f"docker://{repository}:{tag}", f"dir:{copy}")
    assert (copy / "manifest.json").read_bytes() == raw
    for blob_digest, blob in image.blobs.items():
        assert (copy / blob_digest.removeprefix("sha256:")).read_bytes() == blob


def _registry(request: pytest.FixtureRequest, name: str) -> AuthRegistry:
    registry: AuthRegistry = request.getfixturevalue(name)
    return registry


@pytest.mark.slow
@pytest.mark.parametrize("which", ["tls_registry", "token_registry"])
@pytest.mark.parametrize("kind", AUTH_KINDS)
def test_push_round_trip_with_credentials(request: pytest.FixtureRequest, tmp_path: Path,
                                          which: str, kind: str) -> None:
    registry = _registry(request, which)
    image = make_source(kind, tmp_path, seed=f"auth-{which}-{kind}")
    repository = f"{registry.host}/push-auth/{kind}"
    outcome = run_push([*_flags(registry), image.source, f"{repository}:v1"],
                       stdin=registry.password + "\n")
    assert outcome.code == 0, outcome.stderr
    assert registry.password not in outcome.stdout + outcome.stderr
    digest = pushed_digest(outcome.stdout, repository)
    _check_round_trip(registry, image, repository, "v1", digest, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["tls_registry", "token_registry"])
def test_password_from_environment_and_mount_between_repositories(
        request: pytest.FixtureRequest, tmp_path: Path, which: str) -> None:
    registry = _registry(request, which)
    image = make_source("oci-index", tmp_path, seed=f"auth-env-{which}")
    first, second = (f"{registry.host}/push-auth-env/{n}" for n in ("one", "two"))
    flags = ["--username", registry.username]
    if registry.ca_bundle is not None:
        flags += ["--ca-bundle", str(registry.ca_bundle)]
    outcome = run_push([*flags, image.source, f"{first}:v1,{second}:v1"],
                       env={"SIGNER_REGISTRY_PASSWORD": registry.password})
    assert outcome.code == 0, outcome.stderr
    assert outcome.stdout.splitlines() == [f"{first}@{image.digest}", f"{second}@{image.digest}"]
    assert f"0 blobs uploaded, 0 already present, {len(image.blobs)} mounted" in outcome.stderr
    _check_round_trip(registry, image, second, "v1", image.digest or "", tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["tls_registry", "token_registry"])
def test_wrong_password_is_one_line_and_pushes_nothing(request: pytest.FixtureRequest,
                                                       tmp_path: Path, which: str) -> None:
    registry = _registry(request, which)
    image = make_source("oci", tmp_path, seed=f"auth-wrong-{which}")
    repository = f"{registry.host}/push-auth-wrong/img"
    wrong = "not-the-password-" + registry.password[:3]
    outcome = run_push([*_flags(registry), image.source, f"{repository}:v1"], stdin=wrong + "\n")
    outcome.assert_one_line_error()
    assert outcome.code == 1
    assert wrong not in outcome.stderr and registry.password not in outcome.stderr
    creds = f"{registry.username}:{registry.password}"
    assert skopeo_raw(f"{repository}:v1", cert_dir=_cert_dir(registry, tmp_path),
                      creds=creds) is None


@pytest.mark.slow
def test_pull_only_user_cannot_push(token_registry: AuthRegistry, tmp_path: Path) -> None:
    image = make_source("oci", tmp_path, seed="auth-reader")
    repository = f"{token_registry.host}/push-auth-reader/img"
    outcome = run_push(["--username", "reader", "--password-stdin", image.source,
                        f"{repository}:v1"], stdin=token_registry.users["reader"] + "\n")
    outcome.assert_one_line_error()
    assert outcome.code == 1
    assert token_registry.users["reader"] not in outcome.stderr
    creds = f"{token_registry.username}:{token_registry.password}"
    assert skopeo_raw(f"{repository}:v1", creds=creds) is None


@pytest.mark.slow
def test_tls_registry_without_its_ca_is_refused(tls_registry: AuthRegistry,
                                                tmp_path: Path) -> None:
    image = make_source("oci", tmp_path, seed="auth-no-ca")
    outcome = run_push(["--username", tls_registry.username, "--password-stdin", image.source,
                        f"{tls_registry.host}/push-auth-noca/img:v1"],
                       stdin=tls_registry.password + "\n")
    line = outcome.assert_one_line_error()
    assert "TLS" in line or "certificate" in line, line


@pytest.mark.slow
def test_insecure_registry_flag_skips_tls_verification(tls_registry: AuthRegistry,
                                                      tmp_path: Path) -> None:
    image = make_source("oci", tmp_path, seed="auth-insecure")
    repository = f"{tls_registry.host}/push-auth-insecure/img"
    outcome = run_push(["--insecure-registry", tls_registry.host, "--username",
                        tls_registry.username, image.source, f"{repository}:v1"],
                       env={"REGISTRY_PASSWORD": tls_registry.password})
    assert outcome.code == 0, outcome.stderr
    assert pushed_digest(outcome.stdout, repository) == image.digest
    _check_round_trip(tls_registry, image, repository, "v1", image.digest or "", tmp_path)
