"""A service that accepts connections and never answers (a black hole): the error
says it did not answer in time (it used to say "connection reset or cut"), after
a bounded time = read timeout x attempts. Short client timeouts keep this fast; the
product's defaults give about 45 s for the first registry call, after which the client
fails at once (measured, see README.md)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from signer.errors import Error
from signer.keys import PrivateKey
from signer.reference import parse_reference
from signer.registry.client import RegistryClient
from signer.services.rekor import RekorClient
from signer.testing.faultproxy import FaultProxy
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.hardening.conftest import KEY_PASSWORD, PushImage, signer_cli

#: accept times of the connections the current black hole took
ACCEPTED: list[float] = []


@pytest.fixture
def black_hole() -> Iterator[str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()
    ACCEPTED[:] = []

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
                ACCEPTED.append(time.monotonic())
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    listener.close()


def test_registry_black_hole_is_a_timeout(black_hole: str) -> None:
    started = time.monotonic()
    with RegistryClient(insecure=(black_hole,), timeout=(1.0, 1.0), retries=1) as client, \
            pytest.raises(Error) as raised:
        client.resolve_digest(parse_reference(f"{black_hole}/r:v1"))
    seconds = time.monotonic() - started
    assert "did not answer in time" in raised.value.message, raised.value.message
    assert seconds < 15


def test_registry_black_hole_is_given_up_once_per_client(black_hole: str) -> None:
    """After one ping timed out, later calls on the same client fail at once (the
    same error) instead of waiting out every timeout again."""
    with RegistryClient(insecure=(black_hole,), timeout=(1.0, 1.0), retries=1) as client:
        with pytest.raises(Error) as first:
            client.resolve_digest(parse_reference(f"{black_hole}/r:v1"))
        connections_after_first = len(ACCEPTED)
        for tag in ("v2", "v3"):
            with pytest.raises(Error) as again:
                client.get_manifest(parse_reference(f"{black_hole}/r:{tag}"))
            assert again.value.message == first.value.message
            assert type(again.value) is type(first.value)
    assert connections_after_first >= 1
    assert len(ACCEPTED) == connections_after_first


def test_rekor_black_hole_is_a_timeout(black_hole: str) -> None:
    rekor = RekorClient(f"http://{black_hole}", attempts=1, timeout=(1.0, 1.0))
    started = time.monotonic()
    try:
        with pytest.raises(Error) as raised:
            rekor.get_entry("ab" * 32)
    finally:
        rekor.close()
    assert "did not answer in time" in raised.value.message, raised.value.message
    assert time.monotonic() - started < 15


@pytest.mark.slow
def test_verify_lookup_with_rekor_failing_is_not_an_internal_error(
        sigstore_stack: Stack, rekor_proxy: FaultProxy, registry: LocalRegistry,
        push_image: PushImage, key_pair: tuple[Path, Path, PrivateKey]) -> None:
    """Regression (found by hardening): a signature without a Rekor bundle makes verify
    look the entry up; Rekor answering 503 leaked TransientServiceError ("internal
    error"). Now the signature just fails the transparency-log check (exit 12)."""
    key_path, pub_path, _ = key_pair
    image = str(push_image("lookup-503"))
    # the .sig alone: a bundle referrer would be verified instead, without a Rekor lookup
    signed = signer_cli(["sign", "--signature-format", "legacy", "--key", str(key_path),
                         "--tlog-upload=false", "--insecure-registry", registry.host, image],
                        env={"COSIGN_PASSWORD": KEY_PASSWORD})
    assert signed.returncode == 0, signed.stderr
    rekor_proxy.down("503")
    result = signer_cli(["verify", "--key", str(pub_path), "--rekor-url", rekor_proxy.url,
                         "--trusted-root", str(sigstore_stack.trusted_root_path),
                         "--insecure-registry", registry.host, image])
    assert result.returncode == 12, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert rekor_proxy.injected >= 1
