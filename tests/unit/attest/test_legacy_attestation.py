"""cosign v2 ``.att`` layers read as v0.1 bundles: what is carried over, and layers
that are no attestation refused with the reason."""

from __future__ import annotations

import base64
import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signer.errors import InputError
from signer.formats.legacy import (
    ANNOTATION_BUNDLE,
    ANNOTATION_CERTIFICATE,
    DSSE_MEDIA_TYPE,
    RekorBundle,
    SignatureLayer,
)
from signer.formats.legacy_attestation import attestation_layer_bundle

ENVELOPE = {"payloadType": "application/vnd.in-toto+json",
            "payload": base64.b64encode(b'{"_type":"x"}').decode(),
            "signatures": [{"keyid": "", "sig": base64.b64encode(b"sig").decode()}]}
BODY = base64.b64encode(json.dumps({"kind": "intoto", "apiVersion": "0.0.2",
                                    "spec": {}}).encode()).decode()
REKOR = RekorBundle(b"set-bytes", BODY, 1700000000, 42, "ab" * 32)


def _certificate() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(minutes=10)).sign(key, hashes.SHA256()))


def _layer(annotations: dict[str, str], payload: bytes | None = None,
           media_type: str = DSSE_MEDIA_TYPE) -> SignatureLayer:
    return SignatureLayer(json.dumps(ENVELOPE).encode() if payload is None else payload,
                          media_type, annotations)


def test_a_keyless_layer_becomes_a_v01_bundle_with_its_certificate_and_set() -> None:
    leaf = _certificate()
    pem = leaf.public_bytes(serialization.Encoding.PEM).decode()
    bundle = attestation_layer_bundle(_layer({ANNOTATION_CERTIFICATE: pem,
                                              ANNOTATION_BUNDLE: REKOR.to_json().decode()}))
    assert bundle.version == (0, 1)
    assert bundle.certificate == leaf
    assert bundle.dsse_envelope is not None
    assert bundle.dsse_envelope.payload == b'{"_type":"x"}'
    assert bundle.dsse_envelope.signatures[0].sig == b"sig"
    (entry,) = bundle.tlog_entries
    assert (entry.kind, entry.version) == ("intoto", "0.0.2")
    assert (entry.log_index, entry.integrated_time) == (42, 1700000000)
    assert entry.log_id == bytes.fromhex("ab" * 32)
    assert entry.signed_entry_timestamp == b"set-bytes"
    assert entry.inclusion_proof is None
    assert entry.body_b64 == BODY


def test_a_key_signed_layer_without_a_log_entry() -> None:
    bundle = attestation_layer_bundle(_layer({}))
    assert bundle.certificate is None
    assert bundle.public_key_hint == ""
    assert bundle.tlog_entries == ()


@pytest.mark.parametrize(("layer", "reason"), [
    (_layer({}, media_type="application/vnd.dev.cosign.simplesigning.v1+json"),
     "is not application/vnd.dsse.envelope.v1\\+json"),
    (_layer({}, payload=b"not json"), "not a JSON DSSE envelope"),
    (_layer({}, payload=b"[1]"), "not a JSON DSSE envelope"),
    (_layer({ANNOTATION_CERTIFICATE: "-----BEGIN CERTIFICATE-----\nAAAA\n"}),
     "not a PEM certificate"),
    (_layer({ANNOTATION_BUNDLE: RekorBundle(b"s", BODY, 1, 1, "zz").to_json().decode()}),
     "logID is not hex"),
    (_layer({ANNOTATION_BUNDLE: "{}"}), "malformed Rekor bundle annotation"),
    (_layer({}, payload=json.dumps({"payloadType": 1}).encode()), "dsseEnvelope|payload"),
    (SignatureLayer.unreadable("layer sha256:… is too big"), "too big"),
])
def test_layers_that_are_no_attestation_are_refused(layer: SignatureLayer,
                                                    reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        attestation_layer_bundle(layer)
