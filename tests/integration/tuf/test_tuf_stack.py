"""The local stack's TUF repository end to end: ``signer initialize`` with its
``tuf_url``/``tuf_root``, then sign and verify without ``--trusted-root``; the stack
publishes a new trusted root (Rekor gets a new key, the old one is removed) and the
next commands follow it; an independent TUF client (python-tuf's ngclient used
directly) reads the same target bytes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack, start_stack
from tests.integration.verify.conftest import (  # noqa: F401
    CliResult,
    push_plain_image,
    registry_client,
    run_cli,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own: this module rotates its Rekor key."""
    with start_stack(tmp_path_factory.mktemp("tuf-stack")) as running:
        yield running


def test_stack_json_names_the_tuf_repository(stack: Stack) -> None:
    info = json.loads(stack.write_stack_json().read_text())
    assert info["tuf_url"] == stack.tuf_url
    root = json.loads(Path(info["tuf_root"]).read_bytes())
    assert root["signed"]["_type"] == "root" and root["signed"]["consistent_snapshot"] is True


def test_an_independent_tuf_client_gets_the_same_target_bytes(stack: Stack,
                                                              tmp_path: Path) -> None:
    # python-tuf's ngclient on its own: no signer code between it and the repository
    from tuf.ngclient import Updater

    updater = Updater(str(tmp_path / "metadata"), f"{stack.tuf_url}/",
                      str(tmp_path / "targets"), f"{stack.tuf_url}/targets/",
                      bootstrap=stack.tuf_root_path.read_bytes())
    updater.refresh()
    for name, expected in (("trusted_root.json", stack.trusted_root_path),
                           ("signing_config.v0.2.json", stack.signing_config_v02_path)):
        info = updater.get_targetinfo(name)
        assert info is not None, name
        downloaded = Path(updater.download_target(info, str(tmp_path / name)))
        assert downloaded.read_bytes() == expected.read_bytes()


def _sign(stack: Stack, registry: LocalRegistry, image: Reference,
          env: dict[str, str]) -> CliResult:
    return run_cli(["sign", "--fulcio-url", stack.fulcio_url, "--rekor-url", stack.rekor_url,
                    "--insecure-registry", registry.host, "--yes", str(image)],
                   {**env, "SIGSTORE_ID_TOKEN": stack.issue_token()})


def _verify(stack: Stack, image: Reference, env: dict[str, str], *extra: str) -> CliResult:
    return run_cli(["verify", "--certificate-identity", stack.default_identity,
                    "--certificate-oidc-issuer", stack.oidc_issuer_url, *extra, str(image)], env)


def test_sign_and_verify_follow_a_new_trusted_root(
        stack: Stack, registry: LocalRegistry, registry_client: RegistryClient,  # noqa: F811
        tmp_path: Path) -> None:
    env = {"TUF_ROOT": str(tmp_path / "tuf-cache")}
    result = run_cli(["initialize", "--mirror", stack.tuf_url, "--root",
                      str(stack.tuf_root_path)], env)
    assert result.returncode == 0, result.stderr
    assert f"Initialized TUF repository {stack.tuf_url}" in result.stderr
    assert "2 transparency log(s)" in result.stderr  # Rekor v1 and v2

    before = push_plain_image(registry, registry_client, "tuf/before-rotation")
    assert _sign(stack, registry, before, env).returncode == 0
    verified = _verify(stack, before, env)
    assert verified.returncode == 0, verified.stderr
    old_root = tmp_path / "old_trusted_root.json"
    old_root.write_bytes(stack.trusted_root_path.read_bytes())

    stack.rotate_tuf_root_keys(3, 2)  # TUF root v2: new keys, threshold 2
    stack.rotate_rekor_key()  # a new trusted root: only the new Rekor key
    after = push_plain_image(registry, registry_client, "tuf/after-rotation")
    signed = _sign(stack, registry, after, env)  # checks Rekor's answer with the new root
    assert signed.returncode == 0, signed.stderr
    verified = _verify(stack, after, env)
    assert verified.returncode == 0, verified.stderr
    # the old root does not know the new key: the refresh is what made it verify
    assert _verify(stack, after, {}, "--trusted-root", str(old_root)).returncode == 12

    refused = _verify(stack, before, env)  # logged by a log the new root removed
    assert refused.returncode == 12, refused.stderr
    assert f"no matching signatures for {before.name}" in refused.stderr
    offline = _verify(stack, before, env, "--offline")
    assert offline.returncode == 12
    assert f"Offline: trusted root from the TUF cache of {stack.tuf_url}" in offline.stderr
    history = sorted(p.name for p in (tmp_path / "tuf-cache").glob("*/metadata/root_history/*"))
    assert history == ["1.root.json", "2.root.json"]  # the client followed the rotation


def test_verify_without_initialize_names_the_public_good_repository_it_cannot_reach(
        stack: Stack, tmp_path: Path) -> None:
    env = {"TUF_ROOT": str(tmp_path / "empty")}
    image = "127.0.0.1:1/none@sha256:" + "a" * 64
    result = run_cli(["verify", "--certificate-identity", "x", "--certificate-oidc-issuer",
                      "y", image], env)
    assert result.returncode == 1
    [line, hint] = result.stderr.strip().splitlines()
    assert line.startswith("Error: ") and "tuf-repo-cdn.sigstore.dev" in line
    assert "--offline" in hint


def test_sign_and_sign_blob_take_the_services_from_the_tuf_signing_config(
        stack: Stack, registry: LocalRegistry, registry_client: RegistryClient,  # noqa: F811
        tmp_path: Path) -> None:
    env = {"TUF_ROOT": str(tmp_path / "tuf-cache")}
    assert run_cli(["initialize", "--mirror", stack.tuf_url, "--root",
                    str(stack.tuf_root_path)], env).returncode == 0
    image = push_plain_image(registry, registry_client, "tuf/services-from-tuf")
    # no --fulcio-url, --rekor-url, --signing-config or --trusted-root: all from TUF
    signed = run_cli(["sign", "--insecure-registry", registry.host, "--yes", str(image)],
                     {**env, "SIGSTORE_ID_TOKEN": stack.issue_token()})
    assert signed.returncode == 0, signed.stderr
    assert stack.rekor_url in signed.stderr  # the entry is in the stack's Rekor
    assert _verify(stack, image, env).returncode == 0

    blob = tmp_path / "artifact.txt"
    blob.write_bytes(b"signed through the TUF signing config\n")
    bundle = tmp_path / "artifact.sigstore.json"
    made = run_cli(["sign-blob", "--bundle", str(bundle), str(blob)],
                   {**env, "SIGSTORE_ID_TOKEN": stack.issue_token()})
    assert made.returncode == 0, made.stderr
    checked = run_cli(["verify-blob", "--bundle", str(bundle), "--certificate-identity",
                       stack.default_identity, "--certificate-oidc-issuer",
                       stack.oidc_issuer_url, str(blob)], env)
    assert checked.returncode == 0, checked.stderr
