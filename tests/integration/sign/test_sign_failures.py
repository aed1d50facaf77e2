"""Failures of ``signer sign``: clear one-line errors, bounded retries, nothing pushed."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from signer.keys import write_cosign_key_pair
from signer.reference import Reference
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.integration.registry.faultproxy import Fault, FaultProxy
from tests.integration.sign.conftest import PushImage, signer_cli, stack_flags

pytestmark = pytest.mark.slow


def _sig_tag_exists(ref: Reference, digest: str) -> bool:
    tag = "sha256-" + digest.removeprefix("sha256:") + ".sig"
    result = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                             f"docker://{ref.repository_name}:{tag}"],
                            capture_output=True, timeout=60, check=False)
    return result.returncode == 0


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


def test_expired_token(registry: LocalRegistry, sigstore_stack: Stack,
                       push_image: PushImage) -> None:
    ref, image = push_image("expired")
    token = sigstore_stack.issue_token(exp=int(time.time()) - 60, iat=int(time.time()) - 400,
                                       nbf=int(time.time()) - 400)
    result = signer_cli(["sign", *stack_flags(sigstore_stack, registry), str(ref)],
                        env={"SIGSTORE_ID_TOKEN": token})
    assert result.returncode == 1
    assert len(_error_lines(result.stderr)) == 1 and "expired" in result.stderr
    assert token not in result.stderr
    assert not _sig_tag_exists(ref, image.digest or "")


def test_wrong_audience(registry: LocalRegistry, sigstore_stack: Stack,
                        push_image: PushImage) -> None:
    ref, image = push_image("audience")
    token = sigstore_stack.issue_token(aud="not-sigstore")
    result = signer_cli(["sign", *stack_flags(sigstore_stack, registry), str(ref)],
                        env={"SIGSTORE_ID_TOKEN": token})
    assert result.returncode == 1
    assert "audience not-sigstore, not 'sigstore'" in result.stderr
    assert not _sig_tag_exists(ref, image.digest or "")


def test_github_ambient_token_and_missing_permission(
        registry: LocalRegistry, sigstore_stack: Stack, push_image: PushImage) -> None:
    ref, image = push_image("ambient")
    env = {"GITHUB_ACTIONS": "true",
           "ACTIONS_ID_TOKEN_REQUEST_URL": sigstore_stack.token_request_url,
           "ACTIONS_ID_TOKEN_REQUEST_TOKEN": sigstore_stack.token_request_token}
    result = signer_cli(["sign", *stack_flags(sigstore_stack, registry), "--output", "json",
                         str(ref)], env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["certificateIdentity"] == sigstore_stack.default_identity
    assert sigstore_stack.token_request_token not in result.stderr + result.stdout
    denied = signer_cli(["sign", *stack_flags(sigstore_stack, registry), str(ref)],
                        env={"GITHUB_ACTIONS": "true"})
    assert denied.returncode == 1
    assert "permissions:\n      id-token: write" in denied.stderr
    assert image.digest


@pytest.mark.parametrize("service", ["fulcio", "rekor"])
def test_service_down_bounded_retries_nothing_pushed(
        registry: LocalRegistry, fresh_faults: Stack, push_image: PushImage,
        service: str) -> None:
    stack = fresh_faults
    ref, image = push_image(f"{service}-down")
    stack.faults(service).fail_next(50, 503)
    started = time.monotonic()
    result = signer_cli(["sign", *stack_flags(stack, registry), str(ref)],
                        env={"SIGSTORE_ID_TOKEN": stack.issue_token()})
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    lines = _error_lines(result.stderr)
    assert len(lines) == 1 and service.capitalize() in lines[0] and "503" in lines[0]
    assert elapsed < 30
    assert not _sig_tag_exists(ref, image.digest or "")


def test_fulcio_recovers_after_transient_failures(
        registry: LocalRegistry, fresh_faults: Stack, push_image: PushImage) -> None:
    stack = fresh_faults
    ref, image = push_image("fulcio-flaky")
    stack.faults("fulcio").fail_next(2, 503)
    result = signer_cli(["sign", *stack_flags(stack, registry), str(ref)],
                        env={"SIGSTORE_ID_TOKEN": stack.issue_token()})
    assert result.returncode == 0, result.stderr
    assert _sig_tag_exists(ref, image.digest or "")


def test_image_not_found_exit_11(registry: LocalRegistry, sigstore_stack: Stack) -> None:
    result = signer_cli(["sign", *stack_flags(sigstore_stack, registry),
                         f"{registry.host}/sign-tests/does-not-exist:v1"],
                        env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert result.returncode == 11
    assert len(_error_lines(result.stderr)) == 1


@pytest.fixture
def refusing_proxy(registry: LocalRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(registry.host) as proxy:
        yield proxy


def test_registry_refusing_push_names_rekor_entry(
        registry: LocalRegistry, sigstore_stack: Stack, push_image: PushImage,
        refusing_proxy: FaultProxy) -> None:
    ref, image = push_image("refused")
    refusing_proxy.faults.append(Fault(
        kind="status", method="PUT", path=r"/manifests/sha256-[0-9a-f]{64}\.sig$", status=403,
        body=b'{"errors":[{"code":"DENIED","message":"requested access to the resource is '
             b'denied"}]}', headers={"Content-Type": "application/json"}))
    proxied = f"{refusing_proxy.host}/{ref.repository}:{ref.tag}"
    flags = ["--fulcio-url", sigstore_stack.fulcio_url, "--rekor-url", sigstore_stack.rekor_url,
             "--trusted-root", str(sigstore_stack.trusted_root_path),
             "--insecure-registry", refusing_proxy.host]
    result = signer_cli(["sign", *flags, proxied],
                        env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert result.returncode != 0
    assert len(_error_lines(result.stderr)) == 1
    assert f"{sigstore_stack.rekor_url}/api/v1/log/entries/" in result.stderr
    assert not _sig_tag_exists(ref, image.digest or "")


def test_wrong_key_password_one_line(registry: LocalRegistry, push_image: PushImage,
                                     tmp_path: Path) -> None:
    ref, _image = push_image("badpw")
    key_path, _pub = write_cosign_key_pair(tmp_path, b"right")
    result = signer_cli(["sign", "--key", str(key_path), "--tlog-upload=false",
                         "--insecure-registry", registry.host, str(ref)],
                        env={"COSIGN_PASSWORD": "wrong"})
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith("Error: cannot decrypt key file")
    assert "wrong password" in result.stderr and "Traceback" not in result.stderr
    assert "wrong\n" not in result.stderr.replace("wrong password", "")


def test_fulcio_refusing_the_token_is_not_retried(registry: LocalRegistry, sigstore_stack: Stack,
                                                  push_image: PushImage) -> None:
    ref, image = push_image("untrusted-issuer")
    token = sigstore_stack.issue_token(iss="https://issuer.invalid")
    result = signer_cli(["sign", *stack_flags(sigstore_stack, registry), str(ref)],
                        env={"SIGSTORE_ID_TOKEN": token})
    assert result.returncode == 1
    lines = _error_lines(result.stderr)
    assert len(lines) == 1 and "Fulcio refused the certificate request (HTTP 4" in lines[0]
    assert "tried" not in lines[0]  # a 4xx is final
    assert token not in result.stderr
    assert not _sig_tag_exists(ref, image.digest or "")


def test_one_format_failing_publishes_neither(
        registry: LocalRegistry, fresh_faults: Stack, push_image: PushImage) -> None:
    """In ``both`` mode the .sig and the bundle are signed and logged concurrently; the
    timestamp authority failing (the bundle's side only) must stop the .sig too, as the
    Rekor v1 entry of the .sig has already been made by then."""
    stack = fresh_faults
    ref, image = push_image("tsa-down-both")
    stack.faults("tsa").fail_next(50, 503)
    result = signer_cli(["sign", "--signing-config", str(stack.signing_config_v02_path),
                         "--trusted-root", str(stack.trusted_root_path),
                         "--insecure-registry", registry.host, str(ref)],
                        env={"SIGSTORE_ID_TOKEN": stack.issue_token()})
    assert result.returncode == 1, result.stderr
    [line] = _error_lines(result.stderr)
    assert "503" in line
    assert not _sig_tag_exists(ref, image.digest or "")
    index_tag = "sha256-" + (image.digest or "").removeprefix("sha256:")
    listed = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                             f"docker://{ref.repository_name}:{index_tag}"],
                            capture_output=True, timeout=60, check=False)
    assert listed.returncode != 0  # no referrers index either
