"""Issue 8.2: nothing that was in the registry is lost.

* 8 concurrent ``signer sign`` processes on one image that already has a signature
  leave 9 signatures, every blob present;
* a sign that fails part-way (the registry refuses the manifest PUT) leaves the
  existing signature manifest byte-identical;
* a sign SIGKILLed at each of its registry requests (parked by the fault proxy before
  or after the registry acted) leaves the ``.sig`` manifest either unchanged or with
  old + new signature complete -- never a manifest that points at missing blobs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signer.formats.legacy import parse_signature_manifest, signature_tag
from signer.keys import PrivateKey
from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.sign import SignOptions, sign_images
from signer.testing.faultproxy import FaultPlan, FaultProxy
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.hardening.conftest import PushImage, signer_cli, via

pytestmark = pytest.mark.slow


def _sig_ref(client: RegistryClient, image: Reference) -> Reference:
    return image.repository_only().with_tag(signature_tag(client.resolve_digest(image)))


def _state(client: RegistryClient, sig_ref: Reference) -> tuple[bytes, list[str]] | None:
    """The .sig manifest bytes and its layer digests; asserts every blob it names exists."""
    descriptor = client.head_manifest(sig_ref)
    if descriptor is None:
        return None
    manifest = client.get_manifest(sig_ref)
    parsed = parse_signature_manifest(manifest.data)
    config = json.loads(manifest.data)["config"]["digest"]
    for digest in [config, *(layer.digest for layer in parsed.layers)]:
        assert client.blob_exists(sig_ref, digest), f"{sig_ref} points at missing {digest}"
        client.get_blob(sig_ref, digest)
    return manifest.data, [layer.digest + layer.annotations.get(
        "dev.cosignproject.cosign/signature", "") for layer in parsed.layers]


def _pkcs8_key(path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return path


def test_eight_concurrent_signers_keep_nine_signatures(
        registry: LocalRegistry, sigstore_stack: Stack, push_image: PushImage,
        direct_client: RegistryClient, key_pair: tuple[Path, Path, PrivateKey]) -> None:
    image = push_image("race8")
    _, _, key = key_pair
    trust_flags = ["--rekor-url", sigstore_stack.rekor_url,
                   "--trusted-root", str(sigstore_stack.trusted_root_path),
                   "--fulcio-url", sigstore_stack.fulcio_url]
    from signer.trust import TrustedRoot

    sign_images(direct_client, [image], SignOptions(
        key=key, rekor_url=sigstore_stack.rekor_url,
        trusted_root=TrustedRoot.from_file(sigstore_stack.trusted_root_path)))
    sig_ref = _sig_ref(direct_client, image)
    before = _state(direct_client, sig_ref)
    assert before is not None and len(before[1]) == 1
    env = {k: v for k, v in os.environ.items() if k not in ("COSIGN_REPOSITORY",
                                                            "COSIGN_PASSWORD")}
    env["SIGSTORE_ID_TOKEN"] = sigstore_stack.issue_token()
    command = [sys.executable, "-m", "signer", "sign", *trust_flags,
               "--insecure-registry", registry.host, "--output", "json", str(image)]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  stdin=subprocess.DEVNULL) for _ in range(8)]
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
    after = _state(direct_client, sig_ref)
    assert after is not None
    assert len(after[1]) == 9 and len(set(after[1])) == 9
    assert after[1][0] == before[1][0]  # the first signature is still first, unchanged


def test_failed_sign_keeps_existing_signature(
        registry_proxy: FaultProxy, push_image: PushImage, direct_client: RegistryClient,
        key_pair: tuple[Path, Path, PrivateKey], tmp_path: Path) -> None:
    image = push_image("failed")
    _, _, key = key_pair
    sign_images(direct_client, [image], SignOptions(key=key, tlog_upload=False))
    sig_ref = _sig_ref(direct_client, image)
    before = _state(direct_client, sig_ref)
    registry_proxy.set_plan(FaultPlan(rate=1.0, kinds=("503",), path="/manifests/sha256-",
                                      methods=frozenset({"PUT"})))
    other_key = _pkcs8_key(tmp_path / "other.pem")
    result = signer_cli(["sign", "--key", str(other_key), "--tlog-upload=false",
                         "--insecure-registry", registry_proxy.host,
                         str(via(image, registry_proxy.host))])
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert registry_proxy.injected >= 1
    assert _state(direct_client, sig_ref) == before


def _sign_command(key: Path, host: str, image: Reference) -> list[str]:
    return [sys.executable, "-m", "signer", "sign", "--key", str(key), "--tlog-upload=false",
            "--insecure-registry", host, str(via(image, host))]


def test_sign_killed_at_every_registry_request(
        registry: LocalRegistry, push_image: PushImage, direct_client: RegistryClient,
        key_pair: tuple[Path, Path, PrivateKey], tmp_path: Path) -> None:
    _, _, first_key = key_pair
    key = _pkcs8_key(tmp_path / "signer.pem")
    env = {k: v for k, v in os.environ.items() if k not in ("COSIGN_PASSWORD",)}
    # Dry run: how many registry requests does one sign make?
    probe = push_image("kill-probe")
    sign_images(direct_client, [probe], SignOptions(key=first_key, tlog_upload=False))
    with FaultProxy(registry.host, name="registry") as proxy:
        done = subprocess.run(_sign_command(key, proxy.host, probe), env=env, timeout=120,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
        steps = [(e.method, e.path) for e in sorted(proxy.exchanges, key=lambda e: e.number)]
    assert any(method == "PUT" and "/manifests/" in path for method, path in steps)
    outcomes: dict[str, int] = {"unchanged": 0, "complete": 0}
    for number in range(1, len(steps) + 1):
        for after_forward in (False, True):
            image = push_image("kill")
            sign_images(direct_client, [image], SignOptions(key=first_key, tlog_upload=False))
            sig_ref = _sig_ref(direct_client, image)
            before = _state(direct_client, sig_ref)
            assert before is not None
            with FaultProxy(registry.host, name="registry") as proxy:
                held = proxy.hold(number=number, after_forward=after_forward)
                process = subprocess.Popen(_sign_command(key, proxy.host, image), env=env,
                                           stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL,
                                           stdin=subprocess.DEVNULL)
                try:
                    assert held.wait(60), f"request {number} never came"
                finally:
                    process.send_signal(signal.SIGKILL)
                    process.wait(timeout=30)
            after = _state(direct_client, sig_ref)
            assert after is not None, f"killed at {steps[number - 1]}: signatures vanished"
            if after == before:
                outcomes["unchanged"] += 1
            else:
                assert after[1][:1] == before[1] and len(after[1]) == 2, (
                    f"killed at {steps[number - 1]} (after_forward={after_forward})")
                outcomes["complete"] += 1
    print(f"\nkill points: {len(steps)} requests x 2 = {sum(outcomes.values())}, {outcomes}")
    assert outcomes["unchanged"] > 0 and outcomes["complete"] > 0


@pytest.mark.parametrize("after_forward", [False, True])
def test_sign_killed_at_the_rekor_upload_leaves_the_registry_unchanged(
        sigstore_stack: Stack, registry: LocalRegistry, push_image: PushImage,
        direct_client: RegistryClient, key_pair: tuple[Path, Path, PrivateKey],
        tmp_path: Path, after_forward: bool) -> None:
    """Killed while Rekor holds the upload (before or after the entry is made): the
    .sig is untouched (nothing is pushed before Rekor answered); a new sign works."""
    _, _, first_key = key_pair
    image = push_image("kill-rekor")
    sign_images(direct_client, [image], SignOptions(key=first_key, tlog_upload=False))
    sig_ref = _sig_ref(direct_client, image)
    before = _state(direct_client, sig_ref)
    key = _pkcs8_key(tmp_path / "signer.pem")
    command = [sys.executable, "-m", "signer", "sign", "--key", str(key),
               "--trusted-root", str(sigstore_stack.trusted_root_path),
               "--insecure-registry", registry.host, str(image)]
    env = {k: v for k, v in os.environ.items() if k not in ("COSIGN_PASSWORD",)}
    with FaultProxy(sigstore_stack.rekor_url, name="rekor") as rekor:
        held = rekor.hold(method="POST", path="/api/v1/log/entries$",
                          after_forward=after_forward)
        process = subprocess.Popen([*command, "--rekor-url", rekor.url], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   stdin=subprocess.DEVNULL)
        try:
            assert held.wait(60), "the Rekor upload never came"
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
    assert held.exchange_number is not None
    assert _state(direct_client, sig_ref) == before
    again = subprocess.run([*command, "--rekor-url", sigstore_stack.rekor_url], env=env,
                           capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
    assert again.returncode == 0, again.stderr
    after = _state(direct_client, sig_ref)
    assert after is not None and after[1][:1] == before[1] and len(after[1]) == 2
