"""``signer verify-attestation`` against attestations written by an independent signer.

sigstore-python (test-only) signs in-toto statements -- SLSA v1 provenance built from
the token's claims, an SPDX document -- against the local Sigstore stack; each bundle
is attached to an image in the real registry as actions/attest's ``push-to-registry``
attaches it (a referrer manifest with the ``dev.sigstore.bundle.predicateType``
annotation, found through the referrers tag schema on this registry). The command must
find and verify them, and refuse -- exit 12, the failed check named -- the wrong type,
a subject naming another image, the wrong repository, workflow or ref, a self-hosted
runner when denied, and a tampered predicate. ``signer verify`` and
``verify-attestation`` never take one for the other.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sigstore.dsse import Statement
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

from signer.formats.attestation import SLSA_PROVENANCE_V1, SPDX, Subject, attestation_statement
from signer.formats.legacy import (
    ANNOTATION_BUNDLE,
    ANNOTATION_CERTIFICATE,
    ANNOTATION_CHAIN,
    ANNOTATION_SIGNATURE,
    DSSE_MEDIA_TYPE,
    OCI_MANIFEST,
    RekorBundle,
    SignatureLayer,
    build_signature_manifest,
    signature_tag,
)
from signer.formats.provenance import WorkflowRun, slsa_provenance
from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.integration.bundle.test_referrers import _attach
from tests.integration.verify.conftest import (  # noqa: F401
    CliResult,
    push_plain_image,
    registry_client,
    run_cli,
)
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

pytestmark = pytest.mark.slow

REPOSITORY = "octo-org/octo-repo"
WORKFLOW = f"{REPOSITORY}/.github/workflows/release.yml"
COSIGN_SIGN = "https://sigstore.dev/cosign/sign/v1"


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _sign(stack: Stack, statement: bytes, **claims: str) -> bytes:
    """A DSSE bundle over ``statement`` made by sigstore-python with a runner token."""
    config = ClientTrustConfig.from_json(stack.client_trust_config_path.read_text())
    context = SigningContext.from_trust_config(config)
    with context.signer(IdentityToken(stack.issue_token(**claims))) as signer:
        return signer.sign_dsse(Statement(statement)).to_json().encode()


def _provenance(stack: Stack, image: Reference, subject_digest: str | None = None,
                **claims: str) -> tuple[bytes, bytes]:
    """(statement, bundle): SLSA provenance of the run the token describes."""
    run = WorkflowRun.from_token_claims(_claims(stack.issue_token(**claims)))
    statement = attestation_statement(
        [Subject(image.repository_name, subject_digest or str(image.digest))],
        SLSA_PROVENANCE_V1, slsa_provenance(run))
    return statement, _sign(stack, statement, **claims)


def _signature_statement(image: Reference) -> bytes:
    """cosign v3's image-signature statement for ``image``."""
    return json.dumps({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": image.repository_name,
                     "digest": {"sha256": str(image.digest).split(":")[1]}}],
        "predicateType": COSIGN_SIGN, "predicate": {}}).encode()


def _tampered(bundle: bytes) -> bytes:
    """The bundle with its statement's predicate changed (the signature left as it was)."""
    document = json.loads(bundle)
    envelope = document["dsseEnvelope"]
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["buildDefinition"]["externalParameters"]["workflow"]["ref"] = (
        "refs/heads/evil")
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    return json.dumps(document).encode()


def _att_layer(bundle: bytes, predicate_type: str) -> SignatureLayer:
    """A bundle rewritten as cosign v2's ``.att`` layer: the envelope as the blob, the
    certificate and the Rekor entry with its SET as annotations."""
    document = json.loads(bundle)
    material = document["verificationMaterial"]
    raw = material.get("certificate") or material["x509CertificateChain"]["certificates"][0]
    leaf = x509.load_der_x509_certificate(base64.b64decode(raw["rawBytes"]))
    (entry,) = [e for e in material["tlogEntries"] if "inclusionPromise" in e]
    rekor = RekorBundle(base64.b64decode(entry["inclusionPromise"]["signedEntryTimestamp"]),
                        entry["canonicalizedBody"], int(entry["integratedTime"]),
                        int(entry["logIndex"]),
                        base64.b64decode(entry["logId"]["keyId"]).hex())
    return SignatureLayer(
        json.dumps(document["dsseEnvelope"]).encode(), DSSE_MEDIA_TYPE,
        {ANNOTATION_SIGNATURE: "", "predicateType": predicate_type,
         ANNOTATION_CERTIFICATE: leaf.public_bytes(serialization.Encoding.PEM).decode(),
         ANNOTATION_CHAIN: "", ANNOTATION_BUNDLE: rekor.to_json().decode()})


def _push_att(client: RegistryClient, image: Reference, layers: list[SignatureLayer]) -> None:
    manifest, config = build_signature_manifest(layers)
    client.upload_blob(image, config)
    for layer in layers:
        client.upload_blob(image, layer.payload)
    client.put_manifest(image.with_tag(signature_tag(str(image.digest), "att")), manifest,
                        OCI_MANIFEST)


@pytest.fixture(scope="module")
def images(sigstore_stack: Stack, registry: LocalRegistry,  # noqa: F811
           registry_client: RegistryClient) -> dict[str, Reference]:  # noqa: F811
    stack, client = sigstore_stack, registry_client
    made = {name: push_plain_image(registry, client, f"attest/{name}") for name in (
        "app", "other", "wrong-subject", "self-hosted", "tampered", "signed-only", "none",
        "legacy-att")}

    def attach(name: str, bundle: bytes, predicate_type: str) -> None:
        image = made[name]
        _attach(client, image, str(image.digest), bundle, predicate_type=predicate_type)

    app = made["app"]
    attach("app", _provenance(stack, app)[1], SLSA_PROVENANCE_V1)
    spdx = attestation_statement([Subject(app.repository_name, str(app.digest))], SPDX,
                                 {"spdxVersion": "SPDX-2.3", "name": "app"})
    attach("app", _sign(stack, spdx), SPDX)
    attach("app", _sign(stack, _signature_statement(app)), COSIGN_SIGN)
    attach("signed-only", _sign(stack, _signature_statement(made["signed-only"])), COSIGN_SIGN)
    attach("wrong-subject", _provenance(stack, made["wrong-subject"],
                                        subject_digest=str(made["other"].digest))[1],
           SLSA_PROVENANCE_V1)
    attach("self-hosted", _provenance(stack, made["self-hosted"],
                                      runner_environment="self-hosted")[1], SLSA_PROVENANCE_V1)
    attach("tampered", _tampered(_provenance(stack, made["tampered"])[1]), SLSA_PROVENANCE_V1)
    legacy = made["legacy-att"]
    good = _provenance(stack, legacy)[1]
    _push_att(client, legacy, [_att_layer(_tampered(good), SLSA_PROVENANCE_V1),
                               _att_layer(good, SLSA_PROVENANCE_V1)])
    return made


def _verify(stack: Stack, image: Reference, *flags: str,
            command: str = "verify-attestation") -> CliResult:
    return run_cli([command, "--trusted-root", str(stack.trusted_root_path),
                    "--certificate-oidc-issuer", stack.oidc_issuer_url, *flags, str(image)])


def _statements(result: CliResult) -> list[dict[str, Any]]:
    found = []
    for line in result.stdout.splitlines():
        envelope = json.loads(line)
        assert set(envelope) == {"payload", "payloadType", "signatures"}
        assert envelope["payloadType"] == "application/vnd.in-toto+json"
        found.append(json.loads(base64.b64decode(envelope["payload"])))
    return found


def test_provenance_attested_by_sigstore_python_is_found_and_verified(
        images: dict[str, Reference], sigstore_stack: Stack) -> None:  # noqa: F811
    app = images["app"]
    result = _verify(sigstore_stack, app, "--type", "slsaprovenance1",
                     "--source-repository", REPOSITORY, "--source-ref", "refs/heads/main",
                     "--signer-workflow", WORKFLOW, "--deny-self-hosted-runners")
    assert result.returncode == 0, result.stderr
    (statement,) = _statements(result)
    assert statement["predicateType"] == SLSA_PROVENANCE_V1
    assert statement["subject"][0]["digest"] == {"sha256": str(app.digest).split(":")[1]}
    workflow = statement["predicate"]["buildDefinition"]["externalParameters"]["workflow"]
    assert workflow == {"ref": "refs/heads/main", "repository": f"https://github.com/{REPOSITORY}",
                        "path": ".github/workflows/release.yml"}
    assert f"Verification for {app.name} --" in result.stderr
    # the SPDX attestation and the signature did not count, each saying why
    assert "type: the predicate type is \"https://spdx.dev/Document\"" in result.stderr
    assert "signature, not an attestation" in result.stderr


def test_by_tag_and_by_uri_and_the_other_type(images: dict[str, Reference],
                                             sigstore_stack: Stack) -> None:  # noqa: F811
    tag = images["app"].repository_only().with_tag("v1")
    by_uri = _verify(sigstore_stack, tag, "--type", SPDX, "--source-repository", REPOSITORY)
    assert by_uri.returncode == 0, by_uri.stderr
    assert [s["predicateType"] for s in _statements(by_uri)] == [SPDX]


def test_another_type_is_refused_naming_the_type_check(images: dict[str, Reference],
                                                       sigstore_stack: Stack) -> None:  # noqa: F811
    result = _verify(sigstore_stack, images["app"], "--type", "cyclonedx",
                     "--source-repository", REPOSITORY)
    assert result.returncode == 12, result.stderr
    assert result.stdout == ""
    assert "no matching attestations of type https://cyclonedx.org/bom" in result.stderr
    assert "type: the predicate type is \"https://slsa.dev/provenance/v1\", not " \
           "https://cyclonedx.org/bom" in result.stderr


@pytest.mark.parametrize(("flags", "check"), [
    (["--source-repository", "octo-org/fork"], "source repository"),
    (["--source-repository", REPOSITORY, "--source-ref", "refs/tags/v9"], "source ref"),
    (["--signer-workflow", f"{REPOSITORY}/.github/workflows/other.yml"], "signer workflow"),
    (["--certificate-identity", "https://github.com/octo-org/fork/.github/workflows/x.yml"
      "@refs/heads/main"], "identity"),
])
def test_the_wrong_repository_workflow_or_ref_is_refused(
        images: dict[str, Reference], sigstore_stack: Stack,  # noqa: F811
        flags: list[str], check: str) -> None:
    result = _verify(sigstore_stack, images["app"], "--type", "slsaprovenance1", *flags)
    assert result.returncode == 12, result.stderr
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if "bundle 0" in line
             or "bundle 1" in line or "bundle 2" in line]
    assert len(lines) == 3 and all(check in line for line in lines), result.stderr


def test_a_subject_naming_another_image_is_refused(images: dict[str, Reference],
                                                   sigstore_stack: Stack) -> None:  # noqa: F811
    result = _verify(sigstore_stack, images["wrong-subject"], "--type", "slsaprovenance1",
                     "--source-repository", REPOSITORY)
    assert result.returncode == 12, result.stderr
    assert f"digest: the artifact digest {images['wrong-subject'].digest} is not a subject" \
        in result.stderr


def test_a_self_hosted_runner_is_refused_when_denied(images: dict[str, Reference],
                                                     sigstore_stack: Stack) -> None:  # noqa: F811
    image = images["self-hosted"]
    allowed = _verify(sigstore_stack, image, "--type", "slsaprovenance1",
                      "--source-repository", REPOSITORY)
    assert allowed.returncode == 0, allowed.stderr
    (statement,) = _statements(allowed)
    github = statement["predicate"]["buildDefinition"]["internalParameters"]["github"]
    assert github["runner_environment"] == "self-hosted"
    denied = _verify(sigstore_stack, image, "--type", "slsaprovenance1",
                     "--source-repository", REPOSITORY, "--deny-self-hosted-runners")
    assert denied.returncode == 12, denied.stderr
    assert "runner environment" in denied.stderr


def test_a_tampered_predicate_is_refused(images: dict[str, Reference],
                                         sigstore_stack: Stack) -> None:  # noqa: F811
    result = _verify(sigstore_stack, images["tampered"], "--type", "slsaprovenance1",
                     "--source-repository", REPOSITORY)
    assert result.returncode == 12, result.stderr
    # the first check to see the change is the log entry's hash of the envelope payload
    assert "log entry: the transparency log entry's payload hash does not match the bundle" \
        in result.stderr


def test_signatures_and_attestations_are_never_confused(images: dict[str, Reference],
                                                       sigstore_stack: Stack) -> None:  # noqa: F811
    flags = ["--source-repository", REPOSITORY]
    # an image with only a signature has no attestation, whatever type is asked for
    for kind in ("slsaprovenance1", COSIGN_SIGN):
        result = _verify(sigstore_stack, images["signed-only"], "--type", kind, *flags)
        assert result.returncode == 12, result.stderr
        assert "signature, not an attestation" in result.stderr
    assert _verify(sigstore_stack, images["signed-only"], *flags,
                   command="verify").returncode == 0
    # an image with only an attestation has no signature
    result = _verify(sigstore_stack, images["self-hosted"], *flags, command="verify")
    assert result.returncode == 12, result.stderr
    assert "attestation, not a signature" in result.stderr
    # on an image with both, verify prints the signature alone
    both = _verify(sigstore_stack, images["app"], *flags, command="verify")
    assert both.returncode == 0, both.stderr
    (element,) = json.loads(both.stdout)
    assert element["critical"]["type"] == COSIGN_SIGN
    assert both.stderr.count("attestation, not a signature") == 2


def test_cosign_v2_att_layers_are_read_as_bundles(images: dict[str, Reference],
                                                   sigstore_stack: Stack) -> None:  # noqa: F811
    image = images["legacy-att"]
    result = _verify(sigstore_stack, image, "--type", "slsaprovenance1",
                     "--source-repository", REPOSITORY, "--deny-self-hosted-runners")
    assert result.returncode == 0, result.stderr
    (statement,) = _statements(result)
    assert statement["subject"][0]["digest"] == {"sha256": str(image.digest).split(":")[1]}
    assert "attestation 0 (.att layer" in result.stderr
    assert "log entry: the transparency log entry's payload hash does not match" \
        in result.stderr
    refused = _verify(sigstore_stack, image, "--type", "slsaprovenance1",
                      "--source-repository", "octo-org/fork")
    assert refused.returncode == 12
    assert "attestation 1 (.att layer" in refused.stderr
    assert "identity: expected source repository 'https://github.com/octo-org/fork'" \
        in refused.stderr


def test_no_attestations_and_no_image(images: dict[str, Reference],
                                      sigstore_stack: Stack) -> None:  # noqa: F811
    none = _verify(sigstore_stack, images["none"], "--source-repository", REPOSITORY)
    assert none.returncode == 10, none.stderr
    assert "no attestations found" in none.stderr
    missing = _verify(sigstore_stack, images["none"].repository_only().with_tag("absent"),
                      "--source-repository", REPOSITORY)
    assert missing.returncode == 11, missing.stderr


def test_usage_errors(sigstore_stack: Stack) -> None:  # noqa: F811
    bad_type = _verify(sigstore_stack, Reference("example.com", "a/b", tag="v1"),
                       "--type", "slsa", "--source-repository", REPOSITORY)
    assert bad_type.returncode == 2
    assert "invalid predicate type 'slsa'" in bad_type.stderr
    no_identity = run_cli(["verify-attestation", "example.com/a/b:v1"])
    assert no_identity.returncode == 2
    assert "--certificate-identity" in no_identity.stderr
