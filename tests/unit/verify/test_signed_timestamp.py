"""--use-signed-timestamps on a legacy signature: the RFC 3161 annotation is verified
over the raw signature with the trusted root's TSA, and its time is the observed time.
Material: sigstore-conformance's Rekor v2 happy-path bundle (Fulcio + TSA of its own
trusted root), recast as a ``.sig`` layer (the artifact as payload; claims are not
checked; a Rekor v2 entry has no SET, so the tlog is not required here)."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from signer.formats.legacy import (
    ANNOTATION_CERTIFICATE,
    ANNOTATION_SIGNATURE,
    ANNOTATION_TIMESTAMP,
    SIMPLE_SIGNING_MEDIA_TYPE,
    SignatureLayer,
)
from signer.trust import TrustedRoot
from signer.verify.policy import IdentityPolicy
from signer.verify.verifier import VerificationPolicy, verify_signatures
from tests.unit.verify.cases import LEGACY

CASE = LEGACY.parent / "bundles" / "sc-rekor2-happy-path"


@pytest.fixture(scope="module")
def material() -> tuple[SignatureLayer, TrustedRoot, VerificationPolicy]:
    bundle = json.loads((CASE / "bundle.json").read_text())
    material = bundle["verificationMaterial"]
    cert = x509.load_der_x509_certificate(base64.b64decode(material["certificate"]["rawBytes"]))
    timestamp = material["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"]
    layer = SignatureLayer((CASE / "artifact").read_bytes(), SIMPLE_SIGNING_MEDIA_TYPE, {
        ANNOTATION_SIGNATURE: bundle["messageSignature"]["signature"],
        ANNOTATION_CERTIFICATE: cert.public_bytes(serialization.Encoding.PEM).decode(),
        ANNOTATION_TIMESTAMP: json.dumps({"SignedRFC3161Timestamp": timestamp}),
    })
    expected = json.loads((CASE / "expected.json").read_text())
    policy = VerificationPolicy(
        identity=IdentityPolicy(identity=expected["identity"], issuer=expected["issuer"]),
        ignore_tlog=True, check_claims=False, use_signed_timestamps=True)
    return layer, TrustedRoot.from_file(CASE / "trusted_root.json"), policy


def test_timestamp_gives_the_observed_time(
        material: tuple[SignatureLayer, TrustedRoot, VerificationPolicy]) -> None:
    layer, trust, policy = material
    [result] = verify_signatures([layer], "sha256:" + "0" * 64, trust, policy)
    assert result.ok, result.reason
    # without the timestamp the expired certificate has no trusted time
    [without] = verify_signatures([layer], "sha256:" + "0" * 64, trust,
                                  policy.replace(use_signed_timestamps=False))
    assert without.failed_check == "certificate validity"


def test_missing_or_untrusted_timestamp_fails(
        material: tuple[SignatureLayer, TrustedRoot, VerificationPolicy]) -> None:
    layer, trust, policy = material
    stripped = dataclasses.replace(layer, annotations={
        k: v for k, v in layer.annotations.items() if k != ANNOTATION_TIMESTAMP})
    [missing] = verify_signatures([stripped], "sha256:" + "0" * 64, trust, policy)
    assert missing.failed_check == "timestamp"
    [untrusted] = verify_signatures([layer], "sha256:" + "0" * 64,
                                    trust.replace(timestamp_authorities=()), policy)
    assert untrusted.failed_check == "timestamp"
