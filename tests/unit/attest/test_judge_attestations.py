"""The attestation checks over saved material, no registry: each refusal names its
check, and a change to the signed predicate is caught by the DSSE signature itself
(not only by the log entry, as on the integration path)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signer.attestations import judge_attestations
from signer.formats.attestation import SLSA_PROVENANCE_V1, SPDX, Subject, attestation_statement
from signer.formats.bundle import IN_TOTO_PAYLOAD_TYPE, pae, parse_bundle
from signer.formats.bundle_write import bundle_json, dsse_envelope, image_statement
from signer.keys import sign_payload
from signer.referrers import ImageBundle
from signer.trust import load_default
from signer.verify.verifier import VerificationPolicy

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
KEY = ec.generate_private_key(ec.SECP256R1())
POLICY = VerificationPolicy(key=KEY.public_key(), ignore_tlog=True,
                            now=datetime(2026, 1, 1, tzinfo=timezone.utc))


def _bundle(statement: bytes, tamper: bool = False) -> ImageBundle:
    envelope = dsse_envelope(statement, sign_payload(KEY, pae(IN_TOTO_PAYLOAD_TYPE, statement)))
    if tamper:
        document = json.loads(statement)
        document["predicate"]["buildDefinition"]["externalParameters"]["workflow"]["ref"] = (
            "refs/heads/evil")
        envelope["payload"] = base64.b64encode(json.dumps(document).encode()).decode()
    spki = KEY.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    data = bundle_json(certificate_der=None, public_key_spki_der=spki, tlog_entries=[],
                       timestamps=[], dsse=envelope)
    return ImageBundle("sha256:" + "c" * 64, "sha256:" + "d" * 64, parse_bundle(data))


def _provenance(digest: str = DIGEST) -> bytes:
    predicate = {"buildDefinition": {"externalParameters": {"workflow": {"ref": "refs/tags/v1"}}}}
    return attestation_statement([Subject("registry.example/app", digest)], SLSA_PROVENANCE_V1,
                                 predicate)


def _judge(bundle: ImageBundle, predicate_type: str = SLSA_PROVENANCE_V1) -> str:
    (result,) = judge_attestations([bundle], DIGEST, load_default(), POLICY, predicate_type)
    return result.reason


def test_an_attestation_of_the_type_for_the_image_passes() -> None:
    (result,) = judge_attestations([_bundle(_provenance())], DIGEST, load_default(), POLICY,
                                   SLSA_PROVENANCE_V1)
    assert result.ok and result.predicate_type == SLSA_PROVENANCE_V1
    envelope = json.loads(result.envelope_json())
    assert json.loads(base64.b64decode(envelope["payload"])) == json.loads(_provenance())


@pytest.mark.parametrize(("bundle", "predicate_type", "check"), [
    (_bundle(_provenance()), SPDX, "type: the predicate type is"),
    (_bundle(_provenance(OTHER)), SLSA_PROVENANCE_V1, f"digest: the artifact digest {DIGEST}"),
    (_bundle(_provenance(), tamper=True), SLSA_PROVENANCE_V1,
     "signature: the DSSE envelope signature does not verify"),
    (_bundle(image_statement(DIGEST)), "https://sigstore.dev/cosign/sign/v1",
     "signature, not an attestation"),
    (ImageBundle("sha256:" + "c" * 64, "", None, "the bundle blob cannot be read"),
     SLSA_PROVENANCE_V1, "malformed: the bundle blob cannot be read"),
])
def test_refusals_name_the_check(bundle: ImageBundle, predicate_type: str, check: str) -> None:
    assert _judge(bundle, predicate_type).startswith(check)


def test_another_key_is_refused() -> None:
    stranger = VerificationPolicy(key=ec.generate_private_key(ec.SECP256R1()).public_key(),
                                  ignore_tlog=True, now=POLICY.now)
    (result,) = judge_attestations([_bundle(_provenance())], DIGEST, load_default(), stranger,
                                   SLSA_PROVENANCE_V1)
    assert not result.ok and "signature" in result.reason
