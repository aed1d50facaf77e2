"""``signer attest`` and ``attest-blob``: attestations made by us, read by others.

``attest --provenance`` runs inside a job laid out by the runner emulator (its
``GITHUB_*`` variables and the stack's ``id-token: write`` endpoint, whose tokens carry
the run's claims): the bundle referrer it stores carries the predicate-type annotation;
sigstore-python verifies the bundle offline; the statement is an in-toto v1 statement
(in-toto-attestation) whose provenance names the emulated run field by field;
``signer verify-attestation`` finds it and ``signer verify`` does not take it for a
signature. ``--key`` with a predicate file, ``attest-blob`` and the usage errors too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sigstore.models import Bundle
from sigstore.models import TrustedRoot as SigstoreTrustedRoot
from sigstore.verify import Verifier, policy

from signer.formats.attestation import SLSA_PROVENANCE_V1
from signer.keys import write_cosign_key_pair
from signer.reference import parse_reference
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.runner import Job
from signer.testing.stack import Stack
from tests.integration.action.test_action_identity import token_claims
from tests.integration.attest.test_provenance_runner import (  # noqa: F401
    REPOSITORY,
    RUN,
    assert_provenance_of_run,
    job,
)
from tests.integration.sign.conftest import (  # noqa: F401
    PushImage,
    client,
    push_image,
    signer_cli,
    stack_flags,
)
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401
from tests.unit.attest.test_provenance import validate_v1_statement

pytestmark = pytest.mark.slow

GITHUB = "https://github.com"


def _sigstore_python_verifies(stack: Stack, bundle: bytes, identity: str) -> dict[str, Any]:
    """The statement, after sigstore-python verified the bundle offline."""
    verifier = Verifier(trusted_root=SigstoreTrustedRoot.from_file(str(stack.trusted_root_path)))
    payload_type, payload = verifier.verify_dsse(
        Bundle.from_json(bundle), policy.Identity(identity=identity,
                                                  issuer=stack.oidc_issuer_url))
    assert payload_type == "application/vnd.in-toto+json"
    validate_v1_statement(payload)
    statement: dict[str, Any] = json.loads(payload)
    return statement


def _in_job(runner_job: Job, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signer", *args], env=runner_job.env,
                          capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)


def test_provenance_attested_in_an_emulated_job(
        job: Job, tmp_path: Path, sigstore_stack: Stack,  # noqa: F811
        registry: LocalRegistry, push_image: PushImage,  # noqa: F811
        client: RegistryClient) -> None:  # noqa: F811
    stack = sigstore_stack
    ref, image = push_image("provenance")
    bundle_path = tmp_path / "provenance.sigstore.json"
    with token_claims(stack, RUN):
        made = _in_job(job, ["attest", "--provenance", *stack_flags(stack, registry),
                             "--bundle", str(bundle_path), "--output", "json", str(ref)])
    assert made.returncode == 0, made.stderr
    assert f"Attested {ref.repository_name}@{image.digest}" in made.stderr
    (result,) = json.loads(made.stdout)
    assert result["formats"] == ["bundle"] and result["digest"] == image.digest
    # the referrer, as actions/attest push-to-registry writes it
    manifest = client.get_manifest(parse_reference(result["referrer"])).json()
    assert manifest["annotations"]["dev.sigstore.bundle.predicateType"] == SLSA_PROVENANCE_V1
    assert manifest["annotations"]["dev.sigstore.bundle.content"] == "dsse-envelope"
    assert manifest["subject"]["digest"] == image.digest
    # an independent verifier, offline: the certificate names the job's workflow
    statement = _sigstore_python_verifies(stack, bundle_path.read_bytes(),
                                          f"{GITHUB}/{RUN['job_workflow_ref']}")
    assert statement["subject"] == [{"name": ref.repository_name,
                                      "digest": {"sha256": str(image.digest).split(":")[1]}}]
    assert statement["predicateType"] == SLSA_PROVENANCE_V1
    assert_provenance_of_run(statement["predicate"], job.env["GITHUB_SERVER_URL"])
    # found by verify-attestation with the build claims; never a signature for verify
    base = ["--trusted-root", str(stack.trusted_root_path),
            "--certificate-oidc-issuer", stack.oidc_issuer_url,
            "--source-repository", REPOSITORY, "--insecure-registry", registry.host]
    found = signer_cli(["verify-attestation", "--type", "slsaprovenance1", *base,
                        "--source-ref", RUN["ref"], str(ref)])
    assert found.returncode == 0, found.stderr
    assert len(found.stdout.splitlines()) == 1
    denied = signer_cli(["verify-attestation", "--type", "slsaprovenance1", *base,
                         "--deny-self-hosted-runners", str(ref)])
    assert denied.returncode == 12 and "runner environment" in denied.stderr
    not_a_signature = signer_cli(["verify", *base, str(ref)])
    assert not_a_signature.returncode == 12
    assert "attestation, not a signature" in not_a_signature.stderr


def test_a_predicate_file_attested_with_a_key(
        tmp_path: Path, sigstore_stack: Stack, registry: LocalRegistry,  # noqa: F811
        push_image: PushImage) -> None:  # noqa: F811
    ref, _image = push_image("sbom")
    write_cosign_key_pair(tmp_path, b"pw")
    predicate = tmp_path / "sbom.json"
    predicate.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "app"}))
    made = signer_cli(["attest", "--key", str(tmp_path / "cosign.key"), "--type", "spdxjson",
                       "--predicate", str(predicate), *stack_flags(sigstore_stack, registry),
                       str(ref)], env={"COSIGN_PASSWORD": "pw"})
    assert made.returncode == 0, made.stderr
    common = ["--key", str(tmp_path / "cosign.pub"), "--trusted-root",
              str(sigstore_stack.trusted_root_path), "--insecure-registry", registry.host]
    found = signer_cli(["verify-attestation", "--type", "spdx", *common, str(ref)])
    assert found.returncode == 0, found.stderr
    other = signer_cli(["verify-attestation", "--type", "cyclonedx", *common, str(ref)])
    assert other.returncode == 12 and "type: the predicate type is" in other.stderr


def test_attest_blob_is_read_by_sigstore_python_and_verify_blob(
        tmp_path: Path, sigstore_stack: Stack, registry: LocalRegistry) -> None:  # noqa: F811
    artifact = tmp_path / "app.tar.gz"
    artifact.write_bytes(b"release artifact\n")
    predicate = tmp_path / "vuln.json"
    predicate.write_text(json.dumps({"scanner": {"uri": "pkg:x/scanner"}}))
    out = tmp_path / "app.intoto.sigstore.json"
    made = signer_cli(["attest-blob", "--type", "vuln", "--predicate", str(predicate),
                       "--bundle", str(out), *stack_flags(sigstore_stack, registry)[:6],
                       str(artifact)], env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert made.returncode == 0, made.stderr
    statement = _sigstore_python_verifies(sigstore_stack, out.read_bytes(),
                                          sigstore_stack.default_identity)
    assert statement["subject"][0]["name"] == "app.tar.gz"
    assert statement["predicateType"] == "https://cosign.sigstore.dev/attestation/vuln/v1"
    flags = ["--bundle", str(out), "--trusted-root", str(sigstore_stack.trusted_root_path),
             "--certificate-identity", sigstore_stack.default_identity,
             "--certificate-oidc-issuer", sigstore_stack.oidc_issuer_url]
    assert signer_cli(["verify-blob", *flags, str(artifact)]).returncode == 0
    artifact.write_bytes(b"another artifact\n")
    assert signer_cli(["verify-blob", *flags, str(artifact)]).returncode != 0


@pytest.mark.parametrize("config", ["signing_config_rekor_v1_path", "signing_config_v02_path"])
def test_attestations_through_each_signing_config(
        config: str, tmp_path: Path, sigstore_stack: Stack,  # noqa: F811
        registry: LocalRegistry, push_image: PushImage) -> None:  # noqa: F811
    """Rekor v1 with a timestamp authority, and Rekor v2 (hashedrekord over the PAE,
    timestamped): sigstore-python verifies the attestation bundle offline either way, and
    verify-attestation verifies an image's."""
    artifact = tmp_path / "artifact.bin"
    artifact.write_bytes(b"built by a release job\n")
    out = tmp_path / "artifact.intoto.sigstore.json"
    made = signer_cli(["attest-blob", "--type", "slsaprovenance1", "--predicate",
                       _write(tmp_path / "p.json", {"buildDefinition": {}}), "--bundle", str(out),
                       "--signing-config", str(getattr(sigstore_stack, config)),
                       "--trusted-root", str(sigstore_stack.trusted_root_path), str(artifact)],
                      env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert made.returncode == 0, made.stderr
    bundle = json.loads(out.read_bytes())
    assert bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
    statement = _sigstore_python_verifies(sigstore_stack, out.read_bytes(),
                                          sigstore_stack.default_identity)
    assert statement["predicateType"] == SLSA_PROVENANCE_V1
    ref, _image = push_image("configs")
    trust = ["--trusted-root", str(sigstore_stack.trusted_root_path)]
    attested = signer_cli(["attest", "--type", "spdxjson", "--predicate",
                           _write(tmp_path / "sbom.json", {"spdxVersion": "SPDX-2.3"}),
                           "--signing-config", str(getattr(sigstore_stack, config)), *trust,
                           "--insecure-registry", registry.host, str(ref)],
                          env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert attested.returncode == 0, attested.stderr
    found = signer_cli(["verify-attestation", "--type", "spdxjson", *trust,
                        "--certificate-identity", sigstore_stack.default_identity,
                        "--certificate-oidc-issuer", sigstore_stack.oidc_issuer_url,
                        "--insecure-registry", registry.host, str(ref)])
    assert found.returncode == 0, found.stderr


def _write(path: Path, document: object) -> str:
    path.write_text(json.dumps(document))
    return str(path)


@pytest.mark.parametrize(("flags", "message"), [
    (["--provenance", "--predicate", "p.json"], "do not give --predicate too"),
    (["--type", "spdxjson"], "give --predicate FILE"),
    (["--provenance", "--type", "spdxjson"], "--provenance makes"),
    (["--type", "bogus", "--predicate", "p.json"], "invalid predicate type"),
])
def test_usage_errors(flags: list[str], message: str) -> None:
    result = signer_cli(["attest", *flags, "example.com/app:1"])
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_provenance_outside_a_job_names_what_is_missing(
        tmp_path: Path, sigstore_stack: Stack, registry: LocalRegistry,  # noqa: F811
        push_image: PushImage) -> None:  # noqa: F811
    ref, _image = push_image("outside")
    write_cosign_key_pair(tmp_path, b"pw")
    result = signer_cli(["attest", "--provenance", "--key", str(tmp_path / "cosign.key"),
                         *stack_flags(sigstore_stack, registry), str(ref)],
                        env={"COSIGN_PASSWORD": "pw"})
    assert result.returncode == 1, result.stderr
    assert "not in a GitHub Actions job" in result.stderr and "GITHUB_REF" in result.stderr


def test_cosign_v2_att_layers_are_written_and_read_back(
        tmp_path: Path, sigstore_stack: Stack, registry: LocalRegistry,  # noqa: F811
        push_image: PushImage, client: RegistryClient) -> None:  # noqa: F811
    """--signature-format both: the bundle referrer and a layer of the .att image, each
    of which verify-attestation verifies on its own; legacy: the .att alone."""
    stack = sigstore_stack
    predicate = _write(tmp_path / "vex.json", {"@context": "https://openvex.dev/ns/v0.2.0"})
    token = {"SIGSTORE_ID_TOKEN": stack.issue_token()}
    check = ["verify-attestation", "--type", "openvex", "--trusted-root",
             str(stack.trusted_root_path), "--certificate-identity", stack.default_identity,
             "--certificate-oidc-issuer", stack.oidc_issuer_url,
             "--insecure-registry", registry.host]
    both, _image = push_image("att-both")
    made = signer_cli(["attest", "--type", "openvex", "--predicate", predicate,
                       "--signature-format", "both", "--output", "json",
                       *stack_flags(stack, registry), str(both)], env=token)
    assert made.returncode == 0, made.stderr
    (result,) = json.loads(made.stdout)
    assert result["formats"] == ["legacy", "bundle"]
    att = parse_reference(result["signatureRef"])
    assert att.tag == f"sha256-{result['digest'].split(':')[1]}.att"
    manifest = client.get_manifest(att).json()
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.dsse.envelope.v1+json"
    annotations = layer["annotations"]
    assert annotations["predicateType"] == "https://openvex.dev/ns"
    assert annotations["dev.cosignproject.cosign/signature"] == ""
    assert "-----BEGIN CERTIFICATE-----" in annotations["dev.sigstore.cosign/certificate"]
    rekor = json.loads(annotations["dev.sigstore.cosign/bundle"])
    assert rekor["SignedEntryTimestamp"] and rekor["Payload"]["logIndex"] >= 0
    envelope = json.loads(client.get_blob(att, layer["digest"]))
    assert list(envelope) == ["payloadType", "payload", "signatures"]
    found = signer_cli([*check, str(both)])
    assert found.returncode == 0, found.stderr
    assert len(found.stdout.splitlines()) == 2  # the referrer and the .att layer
    legacy, _image = push_image("att-legacy")
    made = signer_cli(["attest", "--type", "openvex", "--predicate", predicate,
                       "--signature-format", "legacy", *stack_flags(stack, registry),
                       str(legacy)], env={"SIGSTORE_ID_TOKEN": stack.issue_token()})
    assert made.returncode == 0, made.stderr
    only_att = signer_cli([*check, str(legacy)])
    assert only_att.returncode == 0, only_att.stderr
    assert len(only_att.stdout.splitlines()) == 1
    wrong = signer_cli([*check[:-6], "--certificate-identity", "https://example.com/other",
                        *check[-4:], str(legacy)])
    assert wrong.returncode == 12 and "attestation 0 (.att layer" in wrong.stderr
    write_cosign_key_pair(tmp_path, b"pw")
    unlogged = signer_cli(["attest", "--type", "openvex", "--predicate", predicate,
                           "--signature-format", "legacy", "--key", str(tmp_path / "cosign.key"),
                           "--tlog-upload=false", *stack_flags(stack, registry), str(legacy)],
                          env={"COSIGN_PASSWORD": "pw"})
    assert unlogged.returncode == 2
    assert ".att attestation needs a transparency-log entry" in unlogged.stderr
