"""``signer sign`` writes the cosign v3 Sigstore bundle as an OCI referrer.

Byte fidelity: the referrer manifest, the referrers tag index and the signed statement
are read back raw (skopeo, the registry) and compared with docs/cosign-format.md §6
written out here by hand. Independent reader: sigstore-python verifies the bundle
offline against the stack's trusted root (Rekor v1; Rekor v2 with a timestamp).
``signer verify`` passes the image through the referrer alone, the ``.sig`` alone and
both; eight racing signers all end up in the index and in the ``.sig``."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sigstore.models import Bundle
from sigstore.models import TrustedRoot as SigstoreTrustedRoot
from sigstore.verify import Verifier, policy

from signer.cli.main import main
from signer.keys import write_cosign_key_pair
from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.integration.sign.conftest import PushImage, signer_cli, skopeo_raw, stack_flags

pytestmark = pytest.mark.slow

BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


def _sign(stack: Stack, registry: LocalRegistry, ref: Reference, *flags: str,
          config: Path | None = None) -> dict[str, Any]:
    service_flags = (["--signing-config", str(config), "--trusted-root",
                      str(stack.trusted_root_path), "--insecure-registry", registry.host]
                     if config else stack_flags(stack, registry))
    result = signer_cli(["sign", *service_flags, "--output", "json", *flags, str(ref)],
                        env={"SIGSTORE_ID_TOKEN": stack.issue_token()})
    assert result.returncode == 0, result.stderr
    output: dict[str, Any] = json.loads(result.stdout)[0]
    return output


def _referrers_index(client: RegistryClient, ref: Reference, digest: str) -> bytes:
    return client.get_manifest(ref.with_tag(digest.replace(":", "-"))).data


def _verify_with_sigstore_python(stack: Stack, bundle: bytes, digest: str) -> bytes:
    verifier = Verifier(trusted_root=SigstoreTrustedRoot.from_file(
        str(stack.trusted_root_path)))
    identity = policy.Identity(identity=stack.default_identity, issuer=stack.oidc_issuer_url)
    payload_type, payload = verifier.verify_dsse(Bundle.from_json(bundle), identity)
    assert payload_type == "application/vnd.in-toto+json"
    statement = json.loads(payload)
    assert statement["subject"][0]["digest"] == {"sha256": digest.split(":")[1]}
    return payload


def test_the_referrer_index_and_statement_are_cosign_v3s_bytes(
        registry: LocalRegistry, sigstore_stack: Stack, push_image: PushImage,
        client: RegistryClient) -> None:
    ref, image = push_image("fidelity")
    out = _sign(sigstore_stack, registry, ref, "-a", "team=core", "-a", "env=prod")
    digest = out["digest"]
    assert out["formats"] == ["legacy", "bundle"]
    referrer = out["referrer"]
    manifest_raw = skopeo_raw(referrer)
    manifest = json.loads(manifest_raw)
    bundle_layer = manifest["layers"][0]
    created = manifest["annotations"]["org.opencontainers.image.created"]
    expected = (
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
        '"config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,'
        f'"digest":"{EMPTY_DIGEST}","artifactType":"{BUNDLE_TYPE}"}},'
        f'"layers":[{{"mediaType":"{BUNDLE_TYPE}","size":{bundle_layer["size"]},'
        f'"digest":"{bundle_layer["digest"]}"}}],'
        '"annotations":{"dev.sigstore.bundle.content":"dsse-envelope",'
        '"dev.sigstore.bundle.predicateType":"https://sigstore.dev/cosign/sign/v1",'
        f'"org.opencontainers.image.created":"{created}"}},'
        f'"subject":{{"mediaType":"{image.media_type}","size":{len(image.manifest or b"")},'
        f'"digest":"{digest}"}},'
        f'"artifactType":"{BUNDLE_TYPE}"}}')
    assert manifest_raw.decode() == expected
    assert len(created) == 20 and created.endswith("Z")
    assert referrer.endswith("@sha256:" + hashlib.sha256(manifest_raw).hexdigest())
    assert client.get_blob(ref, EMPTY_DIGEST) == b"{}"
    index_raw = _referrers_index(client, ref, digest)
    assert index_raw.decode() == (
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",'
        '"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",'
        f'"size":{len(manifest_raw)},"digest":"sha256:{hashlib.sha256(manifest_raw).hexdigest()}",'
        f'"artifactType":"{BUNDLE_TYPE}"}}]}}')
    bundle_raw = client.get_blob(ref, bundle_layer["digest"])
    assert hashlib.sha256(bundle_raw).hexdigest() == bundle_layer["digest"].split(":")[1]
    bundle = json.loads(bundle_raw)
    assert bundle["mediaType"] == BUNDLE_TYPE
    assert list(bundle["verificationMaterial"]) == ["certificate", "tlogEntries"]
    envelope = bundle["dsseEnvelope"]
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert list(envelope["signatures"][0]) == ["sig"]  # keyid omitted when empty
    statement_raw = base64.b64decode(envelope["payload"])
    assert statement_raw.decode() == (
        '{"_type":"https://in-toto.io/Statement/v1",'
        f'"subject":[{{"digest":{{"sha256":"{digest.split(":")[1]}"}},'
        '"annotations":{"env":"prod","team":"core"}}],'
        '"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}')
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    assert entry["kindVersion"] == {"kind": "dsse", "version": "0.0.1"}
    assert _verify_with_sigstore_python(sigstore_stack, bundle_raw, digest) == statement_raw


def test_rekor_v2_with_a_timestamp_through_the_signing_config(
        registry: LocalRegistry, sigstore_stack: Stack, push_image: PushImage,
        client: RegistryClient, tmp_path: Path) -> None:
    ref, _image = push_image("rekor-v2")
    out = _sign(sigstore_stack, registry, ref, "--bundle", str(tmp_path / "b.sigstore.json"),
                config=sigstore_stack.signing_config_v02_path)
    bundle_raw = (tmp_path / "b.sigstore.json").read_bytes()
    stored = json.loads(skopeo_raw(out["referrer"]))["layers"][0]["digest"]
    assert client.get_blob(ref, stored) == bundle_raw  # the file is the stored bundle
    bundle = json.loads(bundle_raw)
    [entry] = bundle["verificationMaterial"]["tlogEntries"]
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
    stamps = bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
    assert len(stamps) == 1
    assert "legacy" in out["formats"] and out["rekorLogIndex"] is not None  # .sig: Rekor v1
    _verify_with_sigstore_python(sigstore_stack, bundle_raw, out["digest"])


def test_rekor_v1_with_a_timestamp(registry: LocalRegistry, sigstore_stack: Stack,
                                   push_image: PushImage, tmp_path: Path) -> None:
    ref, _image = push_image("rekor-v1-tsa")
    out = _sign(sigstore_stack, registry, ref, "--signature-format", "bundle",
                "--bundle", str(tmp_path / "b.json"),
                config=sigstore_stack.signing_config_rekor_v1_path)
    assert out["formats"] == ["bundle"]
    bundle_raw = (tmp_path / "b.json").read_bytes()
    material = json.loads(bundle_raw)["verificationMaterial"]
    assert material["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"]
    assert len(material["timestampVerificationData"]["rfc3161Timestamps"]) == 1
    _verify_with_sigstore_python(sigstore_stack, bundle_raw, out["digest"])


@pytest.mark.parametrize("signature_format", ["bundle", "legacy", "both"])
def test_signer_verify_passes_through_each_format(
        registry: LocalRegistry, sigstore_stack: Stack, push_image: PushImage,
        client: RegistryClient, signature_format: str) -> None:
    ref, _image = push_image(f"verify-{signature_format}")
    out = _sign(sigstore_stack, registry, ref, "--signature-format", signature_format)
    digest = out["digest"]
    sig_tag = digest.replace(":", "-") + ".sig"
    has_sig = client.head_manifest(ref.with_tag(sig_tag)) is not None
    has_index = client.head_manifest(ref.with_tag(digest.replace(":", "-"))) is not None
    assert (has_sig, has_index) == {"bundle": (False, True), "legacy": (True, False),
                                    "both": (True, True)}[signature_format]
    code = main(["verify", "--trusted-root", str(sigstore_stack.trusted_root_path),
                 "--certificate-identity", sigstore_stack.default_identity,
                 "--certificate-oidc-issuer", sigstore_stack.oidc_issuer_url,
                 "--insecure-registry", registry.host, f"{ref.repository_name}@{digest}"])
    assert code == 0


def test_new_bundle_format_false_is_legacy(registry: LocalRegistry, sigstore_stack: Stack,
                                           push_image: PushImage) -> None:
    ref, _image = push_image("new-bundle-format")
    out = _sign(sigstore_stack, registry, ref, "--new-bundle-format=false")
    assert out["formats"] == ["legacy"] and out["referrer"] is None


def test_eight_racing_signers_lose_nothing(registry: LocalRegistry, sigstore_stack: Stack,
                                           push_image: PushImage, client: RegistryClient,
                                           tmp_path: Path) -> None:
    ref, _image = push_image("race8")
    write_cosign_key_pair(tmp_path, b"pw")
    env = {k: v for k, v in os.environ.items()
           if k not in ("COSIGN_REPOSITORY", "SIGSTORE_ID_TOKEN")}
    env["COSIGN_PASSWORD"] = "pw"
    command = [sys.executable, "-m", "signer", "sign", "--key", str(tmp_path / "cosign.key"),
               "--rekor-url", sigstore_stack.rekor_url,
               "--trusted-root", str(sigstore_stack.trusted_root_path),
               "--insecure-registry", registry.host, "--output", "json", str(ref)]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
                 for _ in range(8)]
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        outputs.append(json.loads(stdout)[0])
    digest = outputs[0]["digest"]
    index = json.loads(_referrers_index(client, ref, digest))
    listed = [entry["digest"] for entry in index["manifests"]]
    assert sorted(listed) == listed
    assert set(listed) == {out["referrer"].split("@")[1] for out in outputs}
    assert len(listed) == 8
    sig = json.loads(skopeo_raw(f"{ref.repository_name}:{outputs[0]['signatureTag']}"))
    assert len(sig["layers"]) == 8
    code = main(["verify", "--key", str(tmp_path / "cosign.pub"),
                 "--trusted-root", str(sigstore_stack.trusted_root_path),
                 "--insecure-registry", registry.host, f"{ref.repository_name}@{digest}"])
    assert code == 0
