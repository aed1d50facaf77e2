"""Hostile signature material for the isolation tests (issue 13, items 3 and 6): valid
signatures made through the public CLI against the local stack, and layers derived from
them that an attacker with push access to the ``.sig`` tag could store beside them."""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signer.fetch import fetch_signature_layers
from signer.formats.legacy import ANNOTATION_BUNDLE, ANNOTATION_CERTIFICATE, SignatureLayer
from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from tests.integration.verify.conftest import push_plain_image, push_signatures_to, run_cli

#: the named-curve OID of P-256 in a SubjectPublicKeyInfo, and an unassigned sibling
P256_OID = bytes.fromhex("2a8648ce3d030107")
UNKNOWN_CURVE_OID = bytes.fromhex("2a8648ce3d030108")


def sign_keyless(stack: Stack, registry: LocalRegistry, image: Reference) -> None:
    """``signer sign`` keyless through the stack's token, Fulcio and Rekor; the ``.sig``
    only (these tests tamper with its layers)."""
    signed = run_cli(["sign", "--signature-format", "legacy", "--fulcio-url", stack.fulcio_url,
                      "--rekor-url", stack.rekor_url,
                      "--trusted-root", str(stack.trusted_root_path), "--insecure-registry",
                      registry.host, str(image)], env={"SIGSTORE_ID_TOKEN": stack.issue_token()})
    assert signed.returncode == 0, signed.stderr


def sign_with_key(stack: Stack, registry: LocalRegistry, image: Reference,
                  key_dir: Path) -> Path:
    """``signer sign --key`` (a new key pair in ``key_dir``) with a Rekor entry in the
    stack (the ``.sig`` only); returns the public key file."""
    env = {"COSIGN_PASSWORD": "isolation"}
    if not (key_dir / "cosign.key").exists():
        made = run_cli(["generate-key-pair", "--dir", str(key_dir)], env)
        assert made.returncode == 0, made.stderr
    signed = run_cli(["sign", "--signature-format", "legacy", "--key",
                      str(key_dir / "cosign.key"), "--rekor-url",
                      stack.rekor_url, "--trusted-root", str(stack.trusted_root_path),
                      "--insecure-registry", registry.host, "--yes", str(image)], env)
    assert signed.returncode == 0, signed.stderr
    return key_dir / "cosign.pub"


def new_image(registry: LocalRegistry, client: RegistryClient, repository: str) -> Reference:
    """A fresh unsigned image (digest reference)."""
    return push_plain_image(registry, client, repository)


def stored_layers(client: RegistryClient, image: Reference) -> list[SignatureLayer]:
    """The image's ``.sig`` layers as the registry holds them."""
    assert image.digest is not None
    _, layers = fetch_signature_layers(client, image.repository_only(), image.digest)
    return layers


def store_layers(registry: LocalRegistry, client: RegistryClient, image: Reference,
                 layers: Sequence[SignatureLayer]) -> None:
    """Replace the image's ``.sig`` with ``layers`` (straight into the registry)."""
    assert image.digest is not None
    push_signatures_to(registry, client, image.repository, image.digest, layers)


def with_rekor_body_hash(layer: SignatureLayer, value: str) -> SignatureLayer:
    """``layer`` whose Rekor bundle body records ``value`` as the payload hash."""
    bundle = json.loads(layer.annotations[ANNOTATION_BUNDLE])
    body = json.loads(base64.b64decode(bundle["Payload"]["body"]))
    body["spec"]["data"]["hash"]["value"] = value
    bundle["Payload"]["body"] = base64.b64encode(json.dumps(body).encode()).decode()
    return SignatureLayer(layer.payload, layer.media_type,
                          {**layer.annotations, ANNOTATION_BUNDLE: json.dumps(bundle)})


def unknown_algorithm_certificate_pem() -> str:
    """A self-signed certificate whose key names a curve no library supports."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7)
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    assert der.count(P256_OID) == 1
    der = der.replace(P256_OID, UNKNOWN_CURVE_OID)
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


def with_certificate(layer: SignatureLayer, pem: str) -> SignatureLayer:
    """``layer`` carrying ``pem`` as its certificate annotation."""
    return SignatureLayer(layer.payload, layer.media_type,
                          {**layer.annotations, ANNOTATION_CERTIFICATE: pem})
