"""Issue 13 item 1: certificates carried by a signature never add trust.

The trusted root names two certificate authorities of one root R: ``[I_old, R]``,
retired yesterday, and ``[I_new, R]``, current. A leaf issued *now* by the retired
``I_old`` (the victim's identity, a real Rekor entry and SCT from the local stack)
must be refused whatever the signature carries: the ``dev.sigstore.cosign/chain``
annotation of a ``.sig`` layer, or the ``x509CertificateChain`` of a v0.1 bundle.
A bundle whose chain holds a self-signed (root) certificate is refused for that
reason, even when it relies on its signed entry timestamp alone; only a complete,
correctly linked path ending in a trusted root (as sigstore-js 1.x wrote) is tolerated,
and it adds no trust either.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from signer.fetch import fetch_signature_layers
from signer.formats.legacy import (
    ANNOTATION_BUNDLE,
    ANNOTATION_CERTIFICATE,
    ANNOTATION_CHAIN,
    ANNOTATION_SIGNATURE,
    SignatureLayer,
)
from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.testing.ca import CertificateAuthority
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from signer.testing.trust_material import AuthorityWindow
from tests.corpus import CONFORMANCE
from tests.hardening.crafted import crafted_layer
from tests.integration.verify.conftest import push_plain_image, push_signatures_to, run_cli
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

pytestmark = pytest.mark.slow

BUNDLE_V01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"


@dataclass
class RetiredSignature:
    """An image signed now by the retired intermediate, and the two trusted roots."""

    image: Reference
    layer: SignatureLayer
    retired: CertificateAuthority
    victim_root: Path  # [I_old, R] ended yesterday, [I_new, R] current
    old_root: Path  # only [I_old, R], open: the signature is otherwise genuine
    stack: Stack
    registry: LocalRegistry
    client: RegistryClient
    folder: Path


@pytest.fixture(scope="module")
def retired(sigstore_stack: Stack, registry: LocalRegistry,  # noqa: F811
            registry_client: RegistryClient,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[RetiredSignature]:
    stack = sigstore_stack
    folder = tmp_path_factory.mktemp("retired-ca")
    old = stack.ca.sibling("signer-local-intermediate-retired")
    start = stack.endpoints().valid_from
    yesterday = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    victim_root = stack.write_trusted_root(folder / "victim_trusted_root.json", [
        AuthorityWindow(old.chain, start, yesterday), AuthorityWindow(stack.ca.chain, start)])
    old_root = stack.write_trusted_root(folder / "old_trusted_root.json",
                                        [AuthorityWindow(old.chain, start)])
    image = push_plain_image(registry, registry_client, "retired-ca/app")
    with stack.issuing_from(old):
        signed = run_cli(["sign", "--fulcio-url", stack.fulcio_url, "--rekor-url",
                          stack.rekor_url, "--trusted-root", str(old_root),
                          "--insecure-registry", registry.host, "--yes", str(image)],
                         {"SIGSTORE_ID_TOKEN": stack.issue_token()})
    assert signed.returncode == 0, signed.stderr
    assert image.digest
    _, [layer] = fetch_signature_layers(registry_client, image.repository_only(), image.digest)
    yield RetiredSignature(image, layer, old, victim_root, old_root, stack, registry,
                           registry_client, folder)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _verify(case: RetiredSignature, root: Path, layer: SignatureLayer) -> tuple[int, str]:
    assert case.image.digest
    push_signatures_to(case.registry, case.client, case.image.repository, case.image.digest,
                       [layer])
    result = run_cli(["verify", "--trusted-root", str(root),
                      "--certificate-identity", case.stack.default_identity,
                      "--certificate-oidc-issuer", case.stack.oidc_issuer_url,
                      str(case.image)])
    return result.returncode, result.stderr


def _with_chain(layer: SignatureLayer, chain: str | None) -> SignatureLayer:
    annotations = {k: v for k, v in layer.annotations.items() if k != ANNOTATION_CHAIN}
    if chain is not None:
        annotations[ANNOTATION_CHAIN] = chain
    return dataclasses.replace(layer, annotations=annotations)


def test_the_signature_is_genuine_while_the_old_ca_is_trusted(retired: RetiredSignature
                                                              ) -> None:
    """Control: the same layer verifies under a root where I_old is still current."""
    chain = retired.layer.annotations[ANNOTATION_CHAIN]
    assert chain == _pem(retired.retired.intermediate) + _pem(retired.retired.root)
    code, err = _verify(retired, retired.old_root, retired.layer)
    assert code == 0, err


def test_retired_intermediate_refused_without_a_chain_annotation(retired: RetiredSignature
                                                                 ) -> None:
    code, err = _verify(retired, retired.victim_root, _with_chain(retired.layer, None))
    assert code == 12, err
    assert "certificate chain" in err


@pytest.mark.parametrize("carried", ["intermediate and root", "intermediate only"])
def test_chain_annotation_does_not_bring_back_a_retired_intermediate(
        retired: RetiredSignature, carried: str) -> None:
    """The attack: the layer's chain annotation carries I_old (and R)."""
    old = retired.retired
    chain = _pem(old.intermediate) + (_pem(old.root) if carried == "intermediate and root"
                                      else "")
    code, err = _verify(retired, retired.victim_root, _with_chain(retired.layer, chain))
    assert code == 12, err
    assert "certificate chain" in err


def test_backdated_leaf_of_a_retired_intermediate_is_refused(
        retired: RetiredSignature) -> None:
    """Whoever holds the retired I_old's key chooses the leaf's notBefore: a leaf dated
    just before the retirement, logged in Rekor after it, must not pass. The CA's
    ``validFor`` is checked at the signature's signed time (the Rekor integrated time),
    not only at the notBefore the certificate claims for itself."""
    stack = retired.stack
    now = datetime.datetime.now(datetime.timezone.utc)
    retired_at = now - datetime.timedelta(seconds=60)
    root = stack.write_trusted_root(retired.folder / "retired_a_minute_ago.json", [
        AuthorityWindow(retired.retired.chain, stack.endpoints().valid_from, retired_at),
        AuthorityWindow(stack.ca.chain, stack.endpoints().valid_from)])
    image = push_plain_image(retired.registry, retired.client, "retired-ca/backdated")
    assert image.digest
    crafted = crafted_layer(stack, f"{retired.registry.host}/{image.repository}",
                            image.digest, ca=retired.retired,
                            issued_at=retired_at - datetime.timedelta(seconds=30))
    push_signatures_to(retired.registry, retired.client, image.repository, image.digest,
                       [crafted.layer])
    result = run_cli(["verify", "--trusted-root", str(root),
                      "--certificate-identity", stack.default_identity,
                      "--certificate-oidc-issuer", stack.oidc_issuer_url, str(image)])
    assert result.returncode == 12, result.stderr
    assert "certificate chain" in result.stderr
    # control: the same layer under the root where I_old is still current
    assert run_cli(["verify", "--trusted-root", str(retired.old_root),
                    "--certificate-identity", stack.default_identity,
                    "--certificate-oidc-issuer", stack.oidc_issuer_url,
                    str(image)]).returncode == 0


# -- the same signature as a v0.1 Sigstore bundle (verify-blob) ---------------------------

def _der_b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _v01_bundle(layer: SignatureLayer, chain: Sequence[x509.Certificate]) -> dict[str, object]:
    """The layer's signature, certificate and Rekor entry (SET only) as a v0.1 bundle."""
    rekor = json.loads(layer.annotations[ANNOTATION_BUNDLE])
    leaf = x509.load_pem_x509_certificate(layer.annotations[ANNOTATION_CERTIFICATE].encode())
    body = json.loads(base64.b64decode(rekor["Payload"]["body"]))
    return {
        "mediaType": BUNDLE_V01,
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": [
                {"rawBytes": _der_b64(c)} for c in [leaf, *chain]]},
            "tlogEntries": [{
                "logIndex": str(rekor["Payload"]["logIndex"]),
                "logId": {"keyId": base64.b64encode(
                    bytes.fromhex(rekor["Payload"]["logID"])).decode()},
                "kindVersion": {"kind": body["kind"], "version": body["apiVersion"]},
                "integratedTime": str(rekor["Payload"]["integratedTime"]),
                "inclusionPromise": {"signedEntryTimestamp": rekor["SignedEntryTimestamp"]},
                "canonicalizedBody": rekor["Payload"]["body"],
            }],
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": base64.b64encode(
                hashlib.sha256(layer.payload).digest()).decode()},
            "signature": layer.annotations[ANNOTATION_SIGNATURE],
        },
    }


def _verify_blob(case: RetiredSignature, root: Path, bundle: dict[str, object],
                 name: str) -> tuple[int, str]:
    bundle_path = case.folder / f"{name}.sigstore.json"
    bundle_path.write_text(json.dumps(bundle))
    artifact = case.folder / "payload.json"
    artifact.write_bytes(case.layer.payload)
    result = run_cli(["verify-blob", "--bundle", str(bundle_path), "--trusted-root", str(root),
                      "--certificate-identity", case.stack.default_identity,
                      "--certificate-oidc-issuer", case.stack.oidc_issuer_url, str(artifact)])
    return result.returncode, result.stderr


def test_bundle_of_the_retired_leaf_alone_is_genuine(retired: RetiredSignature) -> None:
    """Control: leaf only, under the root where I_old is current: verified."""
    code, err = _verify_blob(retired, retired.old_root, _v01_bundle(retired.layer, []),
                             "leaf-only")
    assert code == 0, err


def test_bundle_chain_does_not_bring_back_a_retired_intermediate(retired: RetiredSignature
                                                                 ) -> None:
    bundle = _v01_bundle(retired.layer, [retired.retired.intermediate])
    code, err = _verify_blob(retired, retired.victim_root, bundle, "with-intermediate")
    assert code != 0, err
    assert "certificate chain" in err


def _foreign_root() -> x509.Certificate:
    """A self-signed CA certificate that no trusted root names."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "foreign-root")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


@pytest.mark.parametrize("root_name", ["old", "victim"])
@pytest.mark.parametrize("shape", ["root before intermediate", "root only",
                                   "foreign root after intermediate"])
def test_bundle_whose_chain_holds_a_root_certificate_is_refused(
        retired: RetiredSignature, root_name: str, shape: str) -> None:
    """A SET-only v0.1 bundle with a root in its chain: refused because of the root
    (the shape of sigstore-conformance ``bundle-with-root-cert_fail``)."""
    root = retired.old_root if root_name == "old" else retired.victim_root
    old = retired.retired
    chain = {"root before intermediate": [old.root, old.intermediate],
             "root only": [old.root],
             "foreign root after intermediate": [old.intermediate, _foreign_root()]}[shape]
    code, err = _verify_blob(retired, root, _v01_bundle(retired.layer, chain),
                             f"root-{root_name}-{shape.replace(' ', '-')}")
    assert code != 0, err
    assert "self-signed" in err


def test_complete_path_to_a_trusted_root_is_tolerated_but_adds_no_trust(
        retired: RetiredSignature) -> None:
    """[leaf, I_old, R] as sigstore-js 1.x wrote chains (corpus
    sgo-sigstorejs-1.3.0-provenance passes): accepted while I_old is trusted, refused
    for the chain once I_old is retired."""
    old = retired.retired
    bundle = _v01_bundle(retired.layer, [old.intermediate, old.root])
    code, err = _verify_blob(retired, retired.old_root, bundle, "full-path-old")
    assert code == 0, err
    code, err = _verify_blob(retired, retired.victim_root, bundle, "full-path-victim")
    assert code != 0, err
    assert "certificate chain" in err


def test_conformance_bundle_with_root_cert_refused_without_its_inclusion_proof(
        tmp_path: Path) -> None:
    """sigstore-conformance ``bundle-with-root-cert_fail``, relying on its SET alone."""
    case = CONFORMANCE / "bundles" / "sc-bundle-with-root-cert_fail"
    bundle = json.loads((case / "bundle.json").read_text())
    for entry in bundle["verificationMaterial"]["tlogEntries"]:
        entry.pop("inclusionProof")
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    result = run_cli(["verify-blob", "--bundle", str(path), "--trusted-root",
                      str(CONFORMANCE / "trust" / "public-good-trusted_root.json"),
                      "--certificate-identity", "a@tny.town",
                      "--certificate-oidc-issuer-regexp", ".*", str(case / "artifact")])
    assert result.returncode != 0, result.stderr
    assert "self-signed" in result.stderr
