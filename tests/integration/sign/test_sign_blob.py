"""``signer sign-blob --bundle`` writes a messageSignature bundle v0.3 that
sigstore-python verifies offline against the stack's trusted root (Rekor v1; Rekor v2
with a timestamp) and that ``signer verify-blob`` accepts; with ``--key`` the bundle
names the key by its hint. The conformance adapter's ``sign-bundle`` goes through it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest
from sigstore.models import Bundle
from sigstore.models import TrustedRoot as SigstoreTrustedRoot
from sigstore.verify import Verifier, policy

from signer.cli.main import main
from signer.keys import write_cosign_key_pair
from signer.testing.stack import Stack
from tests.integration.bundle import sigstore_conformance_cli as adapter
from tests.integration.sign.conftest import signer_cli

pytestmark = pytest.mark.slow

CONTENT = b"a release artifact signed by signer sign-blob\n"


def _verify_blob(stack: Stack, bundle: Path, artifact: Path, *policy_flags: str) -> int:
    flags = list(policy_flags) or ["--certificate-identity", stack.default_identity,
                                   "--certificate-oidc-issuer", stack.oidc_issuer_url]
    return main(["verify-blob", "--bundle", str(bundle), "--trusted-root",
                 str(stack.trusted_root_path), *flags, str(artifact)])


@pytest.mark.parametrize("config_name, kind", [
    ("signing_config_rekor_v1_path", ("hashedrekord", "0.0.1")),
    ("signing_config_v02_path", ("hashedrekord", "0.0.2")),
])
def test_keyless_blob_bundles_verify_in_sigstore_python_and_signer(
        sigstore_stack: Stack, tmp_path: Path, config_name: str, kind: tuple[str, str]) -> None:
    artifact = tmp_path / "artifact.bin"
    artifact.write_bytes(CONTENT)
    out = tmp_path / "artifact.bin.sigstore.json"
    done = signer_cli(["sign-blob", "--bundle", str(out), "--signing-config",
                       str(getattr(sigstore_stack, config_name)), "--trusted-root",
                       str(sigstore_stack.trusted_root_path), str(artifact)],
                      env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_bytes())
    assert document["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert document["messageSignature"]["messageDigest"]["digest"]
    entry = document["verificationMaterial"]["tlogEntries"][0]
    assert (entry["kindVersion"]["kind"], entry["kindVersion"]["version"]) == kind
    assert document["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
    verifier = Verifier(trusted_root=SigstoreTrustedRoot.from_file(
        str(sigstore_stack.trusted_root_path)))
    verifier.verify_artifact(CONTENT, Bundle.from_json(out.read_bytes()), policy.Identity(
        identity=sigstore_stack.default_identity, issuer=sigstore_stack.oidc_issuer_url))
    assert _verify_blob(sigstore_stack, out, artifact) == 0
    (tmp_path / "other").write_bytes(b"other")
    assert _verify_blob(sigstore_stack, out, tmp_path / "other") != 0


def test_key_blob_bundle_has_the_key_hint(sigstore_stack: Stack, tmp_path: Path) -> None:
    write_cosign_key_pair(tmp_path, b"pw")
    artifact = tmp_path / "artifact.bin"
    artifact.write_bytes(CONTENT)
    out = tmp_path / "key.sigstore.json"
    done = signer_cli(["sign-blob", "--key", str(tmp_path / "cosign.key"), "--rekor-url",
                       sigstore_stack.rekor_url, "--trusted-root",
                       str(sigstore_stack.trusted_root_path), "--bundle", str(out),
                       str(artifact)], env={"COSIGN_PASSWORD": "pw"})
    assert done.returncode == 0, done.stderr
    material = json.loads(out.read_bytes())["verificationMaterial"]
    assert set(material["publicKey"]) == {"hint"} and "certificate" not in material
    assert _verify_blob(sigstore_stack, out, artifact,
                        "--key", str(tmp_path / "cosign.pub")) == 0


def test_the_conformance_adapter_signs_bundles(sigstore_stack: Stack, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    artifact = tmp_path / "a.txt"
    artifact.write_bytes(CONTENT)
    monkeypatch.delenv("SIGSTORE_ID_TOKEN", raising=False)
    code = adapter.main(["sign-bundle", "--identity-token", sigstore_stack.issue_token(),
                         "--bundle", str(tmp_path / "a.sigstore.json"),
                         "--trusted-root", str(sigstore_stack.trusted_root_path),
                         "--signing-config", str(sigstore_stack.signing_config_v02_path),
                         str(artifact)])
    assert code == 0
    assert adapter.main(["verify-bundle", "--bundle", str(tmp_path / "a.sigstore.json"),
                         "--certificate-identity", sigstore_stack.default_identity,
                         "--certificate-oidc-issuer", sigstore_stack.oidc_issuer_url,
                         "--trusted-root", str(sigstore_stack.trusted_root_path),
                         "sha256:" + hashlib.sha256(CONTENT).hexdigest()]) == 0
    assert adapter.main(["sign-bundle", "--staging", "--identity-token", "t",
                         "--bundle", "b", str(artifact)]) == 1
    assert "SIGSTORE_ID_TOKEN" not in os.environ  # the adapter leaves no token behind



@pytest.mark.parametrize("config_name", ["signing_config_rekor_v1_path",
                                         "signing_config_v02_path"])
def test_the_conformance_adapter_signs_in_toto_statements_as_dsse(
        sigstore_stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], config_name: str) -> None:
    """``sign-bundle --in-toto``: the statement file is the DSSE payload byte for byte
    (indented, key order kept), and sigstore-python verifies the bundle offline."""
    monkeypatch.delenv("SIGSTORE_ID_TOKEN", raising=False)
    artifact = tmp_path / "a.txt"
    artifact.write_bytes(CONTENT)
    statement = json.dumps({
        "predicateType": "https://slsa.dev/provenance/v1",
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "a.txt", "digest": {"sha256": hashlib.sha256(CONTENT).hexdigest()}}],
        "predicate": {"buildDefinition": {"buildType": "https://example.com/build/v1"}},
    }, indent=2).encode()
    (tmp_path / "statement.json").write_bytes(statement)
    bundle_path = tmp_path / "statement.sigstore.json"
    code = adapter.main(["sign-bundle", "--in-toto",
                         "--identity-token", sigstore_stack.issue_token(),
                         "--bundle", str(bundle_path),
                         "--trusted-root", str(sigstore_stack.trusted_root_path),
                         "--signing-config", str(getattr(sigstore_stack, config_name)),
                         str(tmp_path / "statement.json")])
    assert code == 0, capsys.readouterr().err
    document = json.loads(bundle_path.read_bytes())
    envelope = document["dsseEnvelope"]
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert base64.b64decode(envelope["payload"]) == statement
    verifier = Verifier(trusted_root=SigstoreTrustedRoot.from_file(
        str(sigstore_stack.trusted_root_path)))
    payload_type, payload = verifier.verify_dsse(
        Bundle.from_json(bundle_path.read_bytes()), policy.Identity(
            identity=sigstore_stack.default_identity, issuer=sigstore_stack.oidc_issuer_url))
    assert (payload_type, payload) == ("application/vnd.in-toto+json", statement)
    assert adapter.main(["verify-bundle", "--bundle", str(bundle_path),
                         "--certificate-identity", sigstore_stack.default_identity,
                         "--certificate-oidc-issuer", sigstore_stack.oidc_issuer_url,
                         "--trusted-root", str(sigstore_stack.trusted_root_path),
                         str(artifact)]) == 0
    assert "SIGSTORE_ID_TOKEN" not in os.environ


def test_a_statement_without_a_sha256_subject_is_refused(
        sigstore_stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"_type": "https://in-toto.io/Statement/v1",
                               "subject": [{"name": "x", "digest": {"sha1": "ab" * 20}}],
                               "predicateType": "https://example.com/p", "predicate": {}}))
    done = signer_cli(["attest-blob", "--statement", str(bad), "--bundle",
                       str(tmp_path / "out.json"), "--trusted-root",
                       str(sigstore_stack.trusted_root_path)],
                      env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert done.returncode != 0
    assert "has no subject with a sha256 digest" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out.json").exists()
    both = signer_cli(["attest-blob", "--statement", str(bad), "--type", "custom",
                       "--bundle", str(tmp_path / "out.json"), str(bad)])
    assert both.returncode != 0 and "--statement is the whole attestation" in both.stderr
