"""Key-based round trip: ``signer generate-key-pair``, ``signer sign --key`` (Rekor entry
in the local stack), ``signer verify --key`` with the stack's trusted root; the Rekor
bundle's SET and body are checked offline, and another key or log key is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.integration.verify.conftest import push_plain_image, run_cli
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401
from tests.unit.verify.cases import LEGACY

pytestmark = pytest.mark.slow


def test_key_based_sign_then_verify(sigstore_stack: Stack, registry: LocalRegistry,  # noqa: F811
                                    registry_client: RegistryClient, tmp_path: Path) -> None:
    env = {"COSIGN_PASSWORD": "round-trip"}
    made = run_cli(["generate-key-pair", "--dir", str(tmp_path)], env)
    assert made.returncode == 0, made.stderr
    image = push_plain_image(registry, registry_client, "roundtrip-key/app")
    # the .sig alone: its verification output and messages are what this test checks
    signed = run_cli(["sign", "--signature-format", "legacy", "--key",
                      str(tmp_path / "cosign.key"), "--rekor-url",
                      sigstore_stack.rekor_url, "--trusted-root",
                      str(sigstore_stack.trusted_root_path), "--insecure-registry",
                      registry.host, "-a", "team=verify", "--yes", str(image)], env)
    assert signed.returncode == 0, signed.stderr
    base = ["verify", "--trusted-root", str(sigstore_stack.trusted_root_path), "--offline"]
    result = run_cli([*base, "--key", str(tmp_path / "cosign.pub"), "-a", "team=verify",
                      str(image)])
    assert result.returncode == 0, result.stderr
    [element] = json.loads(result.stdout)
    assert element["optional"]["team"] == "verify"
    assert element["optional"]["Bundle"]["Payload"]["logID"]
    assert "verified offline" in result.stderr

    other_key = LEGACY / "srs-busybox-key-no-tlog-valid" / "public-key.pem"
    wrong = run_cli([*base, "--key", str(other_key), str(image)])
    assert wrong.returncode == 12
    assert "rekor body: the log entry's public key differs" in wrong.stderr

    public_good = run_cli(["verify", "--key", str(tmp_path / "cosign.pub"), str(image)])
    assert public_good.returncode == 12  # the stack's log is not in the public-good root
    assert "transparency log: rekor log public key not found" in public_good.stderr
