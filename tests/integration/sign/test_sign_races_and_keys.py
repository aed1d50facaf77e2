"""Concurrent signers keep every signature; key-based signing and dedupe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from signer.formats.legacy import ANNOTATION_BUNDLE, ANNOTATION_SIGNATURE
from signer.keys import write_cosign_key_pair
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.integration.sign.conftest import PushImage, signer_cli, skopeo_raw, stack_flags

pytestmark = pytest.mark.slow


def test_five_concurrent_signers_leave_five_signatures(
        registry: LocalRegistry, sigstore_stack: Stack, push_image: PushImage) -> None:
    ref, image = push_image("race")
    env = {k: v for k, v in os.environ.items() if k not in ("COSIGN_REPOSITORY",)}
    env["SIGSTORE_ID_TOKEN"] = sigstore_stack.issue_token()
    command = [sys.executable, "-m", "signer", "sign", *stack_flags(sigstore_stack, registry),
               "--output", "json", str(ref)]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(5)]
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stderr
        outputs.append(json.loads(stdout)[0])
    tag = outputs[0]["signatureTag"]
    manifest = json.loads(skopeo_raw(f"{ref.repository_name}:{tag}"))
    layers = manifest["layers"]
    assert len(layers) == 5
    logged = {json.loads(layer["annotations"][ANNOTATION_BUNDLE])["Payload"]["logIndex"]
              for layer in layers}
    assert logged == {output["rekorLogIndex"] for output in outputs}
    assert len({layer["annotations"][ANNOTATION_SIGNATURE] for layer in layers}) == 5
    assert image.digest == outputs[0]["digest"]


def test_key_based_without_tlog_is_not_added_twice(
        registry: LocalRegistry, push_image: PushImage, tmp_path: Path) -> None:
    ref, image = push_image("keyed")
    key_path, _pub = write_cosign_key_pair(tmp_path, b"pw")
    flags = ["sign", "--key", str(key_path), "--tlog-upload=false",
             "--insecure-registry", registry.host, "--output", "json", str(ref)]
    first = signer_cli(flags, env={"COSIGN_PASSWORD": "pw"})
    assert first.returncode == 0, first.stderr
    (out1,) = json.loads(first.stdout)
    assert out1["added"] is True and out1["rekorLogIndex"] is None
    second = signer_cli(flags, env={"COSIGN_PASSWORD": "pw"})
    assert second.returncode == 0, second.stderr
    (out2,) = json.loads(second.stdout)
    assert out2["added"] is False
    assert "Already signed" in second.stderr
    manifest = json.loads(skopeo_raw(f"{ref.repository_name}:{out1['signatureTag']}"))
    assert len(manifest["layers"]) == 1
    assert list(manifest["layers"][0]["annotations"]) == [ANNOTATION_SIGNATURE]
    assert image.digest == out1["digest"]


def test_key_based_with_rekor_and_pkcs8_key(registry: LocalRegistry, sigstore_stack: Stack,
                                            push_image: PushImage, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ref, _image = push_image("keyed-rekor")
    key = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "key.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    result = signer_cli(["sign", "--key", str(pem), *stack_flags(sigstore_stack, registry),
                         "--output", "json", str(ref)])
    assert result.returncode == 0, result.stderr
    (output,) = json.loads(result.stdout)
    assert isinstance(output["rekorLogIndex"], int)
    assert output["certificateIdentity"] is None
    manifest = json.loads(skopeo_raw(f"{ref.repository_name}:{output['signatureTag']}"))
    (layer,) = manifest["layers"]
    assert sorted(layer["annotations"]) == [ANNOTATION_SIGNATURE, ANNOTATION_BUNDLE]


def test_tlog_upload_false_needs_a_key(registry: LocalRegistry, push_image: PushImage) -> None:
    ref, _image = push_image("nokey")
    result = signer_cli(["sign", "--tlog-upload=false", "--insecure-registry", registry.host,
                         str(ref)])
    assert result.returncode == 2
    assert "only allowed with --key" in result.stderr


def test_recursive_signs_index_and_platforms(registry: LocalRegistry, sigstore_stack: Stack,
                                             push_image: PushImage) -> None:
    from signer.testing.images import DEFAULT_PLATFORMS

    ref, image = push_image("multi", platforms=DEFAULT_PLATFORMS)
    result = signer_cli(["sign", "--recursive", *stack_flags(sigstore_stack, registry),
                         "--output", "json", str(ref)],
                        env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)
    assert {o["digest"] for o in outputs} == set(image.manifests)
    assert sorted(o["platform"] or "" for o in outputs) == ["", "linux/amd64", "linux/arm64"]
    for output in outputs:
        layers = json.loads(skopeo_raw(f"{ref.repository_name}:{output['signatureTag']}"))
        assert len(layers["layers"]) == 1


def test_signature_repository_from_env(registry: LocalRegistry, sigstore_stack: Stack,
                                       push_image: PushImage) -> None:
    ref, image = push_image("elsewhere")
    other = f"{registry.host}/sign-tests/signatures-store"
    result = signer_cli(["sign", *stack_flags(sigstore_stack, registry), "--output", "json",
                         str(ref)], env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token(),
                                         "COSIGN_REPOSITORY": other})
    assert result.returncode == 0, result.stderr
    (output,) = json.loads(result.stdout)
    assert output["signatureRef"] == f"{other}:{output['signatureTag']}"
    manifest = json.loads(skopeo_raw(output["signatureRef"]))
    assert len(manifest["layers"]) == 1
    missing = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                              f"docker://{ref.repository_name}:{output['signatureTag']}"],
                             capture_output=True, timeout=60, check=False)
    assert missing.returncode != 0
    assert image.digest == output["digest"]


def test_generated_key_pair_signs_and_verifies(registry: LocalRegistry, sigstore_stack: Stack,
                                               push_image: PushImage, tmp_path: Path) -> None:
    ref, _image = push_image("keypair")
    env = {"COSIGN_PASSWORD": "pw"}
    made = signer_cli(["generate-key-pair", "--dir", str(tmp_path)], env=env)
    assert made.returncode == 0, made.stderr
    signed = signer_cli(["sign", "--key", str(tmp_path / "cosign.key"),
                         *stack_flags(sigstore_stack, registry), str(ref)], env=env)
    assert signed.returncode == 0, signed.stderr
    verified = signer_cli(["verify", "--key", str(tmp_path / "cosign.pub"),
                           "--trusted-root", str(sigstore_stack.trusted_root_path),
                           "--insecure-registry", registry.host, str(ref)])
    assert verified.returncode == 0, verified.stderr
    (tmp_path / "other").mkdir()
    other_key, _ = write_cosign_key_pair(tmp_path / "other", b"pw")
    wrong = signer_cli(["verify", "--key", str(tmp_path / "other" / "cosign.pub"),
                        "--trusted-root", str(sigstore_stack.trusted_root_path),
                        "--insecure-registry", registry.host, str(ref)])
    assert wrong.returncode == 12
    assert other_key.exists()
