"""Issue 8.1: a service that is permanently down gives a clear one-line error (exit 1)
within a bounded time, through the real CLI.

Bounds (documented in the report, asserted here with head-room for a loaded machine):
registry down -> sign and verify fail in under DOWN_BOUND seconds; Fulcio down and
Rekor down -> sign fails in under DOWN_BOUND seconds. "503" answers every request with
503 + ``Retry-After: 1``; "refused" is a closed port.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from signer.formats.legacy import signature_tag
from signer.keys import PrivateKey
from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.testing.faultproxy import FaultProxy
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.hardening.conftest import KEY_PASSWORD, PushImage, signer_cli, via

#: Longest a command may take to report an unavailable service (seconds).
DOWN_BOUND = 30.0
MODES = ("503", "refused")


def _take_down(proxy: FaultProxy, mode: str) -> None:
    if mode == "503":
        proxy.down("503")
    else:
        proxy.stop()  # nothing listens on the port any more


def _assert_clear(result: object, seconds: float, service: str) -> None:
    import subprocess

    assert isinstance(result, subprocess.CompletedProcess)
    print(f"\n{service}: exit {result.returncode} in {seconds:.1f}s: "
          f"{result.stderr.strip().splitlines()[-2:]}")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    assert seconds < DOWN_BOUND


def _nothing_pushed(client: RegistryClient, image: Reference) -> None:
    digest = client.resolve_digest(image)
    assert client.head_manifest(image.with_tag(signature_tag(digest))) is None


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_registry_down(mode: str, registry_proxy: FaultProxy, push_image: PushImage,
                       key_pair: tuple[Path, Path, PrivateKey]) -> None:
    """sign and verify against a dead registry: one line naming the registry."""
    key_path, pub_path, _ = key_pair
    image = str(via(push_image("down"), registry_proxy.host))
    host = registry_proxy.host
    _take_down(registry_proxy, mode)
    started = time.monotonic()
    signed = signer_cli(["sign", "--key", str(key_path), "--tlog-upload=false",
                         "--insecure-registry", host, image],
                        env={"COSIGN_PASSWORD": KEY_PASSWORD})
    _assert_clear(signed, time.monotonic() - started, f"registry {mode} (sign)")
    assert host in signed.stderr
    started = time.monotonic()
    verified = signer_cli(["verify", "--key", str(pub_path), "--insecure-ignore-tlog",
                           "--insecure-registry", host, image])
    _assert_clear(verified, time.monotonic() - started, f"registry {mode} (verify)")


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_fulcio_down(mode: str, sigstore_stack: Stack, fulcio_proxy: FaultProxy,
                     registry: LocalRegistry, push_image: PushImage,
                     direct_client: RegistryClient) -> None:
    """keyless sign with Fulcio down: a clear Fulcio error, nothing pushed."""
    pushed = push_image("fulcio-down")
    image = str(pushed)
    fulcio_url = fulcio_proxy.url
    _take_down(fulcio_proxy, mode)
    started = time.monotonic()
    result = signer_cli(["sign", "--fulcio-url", fulcio_url,
                         "--rekor-url", sigstore_stack.rekor_url,
                         "--trusted-root", str(sigstore_stack.trusted_root_path),
                         "--insecure-registry", registry.host, image],
                        env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    _assert_clear(result, time.monotonic() - started, f"fulcio {mode}")
    assert "Fulcio" in result.stderr
    _nothing_pushed(direct_client, pushed)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_rekor_down(mode: str, sigstore_stack: Stack, rekor_proxy: FaultProxy,
                    registry: LocalRegistry, push_image: PushImage,
                    direct_client: RegistryClient,
                    key_pair: tuple[Path, Path, PrivateKey]) -> None:
    """sign with Rekor down: a clear Rekor error, nothing pushed."""
    key_path, _, _ = key_pair
    pushed = push_image("rekor-down")
    image = str(pushed)
    rekor_url = rekor_proxy.url
    _take_down(rekor_proxy, mode)
    started = time.monotonic()
    result = signer_cli(["sign", "--key", str(key_path), "--rekor-url", rekor_url,
                         "--trusted-root", str(sigstore_stack.trusted_root_path),
                         "--insecure-registry", registry.host, image],
                        env={"COSIGN_PASSWORD": KEY_PASSWORD})
    _assert_clear(result, time.monotonic() - started, f"rekor {mode}")
    assert "Rekor" in result.stderr
    _nothing_pushed(direct_client, pushed)
