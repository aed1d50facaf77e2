"""cosign v2's ``sha256-<hex>.att`` attestations as Sigstore bundles (layer L2, pure).

``cosign attest`` (before v3's bundles) stores each attestation as a layer of the
``.att`` image: the blob is the DSSE envelope JSON (media type
``application/vnd.dsse.envelope.v1+json``); the layer's annotations carry what a
bundle's verification material holds -- the Fulcio certificate
(``dev.sigstore.cosign/certificate``; absent for a key) and the Rekor entry with its
SET (``dev.sigstore.cosign/bundle``: body, integrated time, log index and ID). Read
that way, a layer *is* a v0.1 bundle (SET, no inclusion proof), so
:func:`attestation_layer_bundle` rewrites it as one and every check of
:func:`signer.verify.bundle.verify_bundle` applies unchanged: the log entry body
(``intoto`` 0.0.2 as cosign writes it, or ``dsse`` 0.0.1) against the envelope, the
SET, the certificate chain, SCT and identity, the DSSE signature.
"""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives import serialization

from signer.certificates import MalformedCertificateError, parse_pem_certificate
from signer.errors import InputError
from signer.formats.bundle import Bundle, parse_bundle
from signer.formats.legacy import DSSE_MEDIA_TYPE, SignatureLayer

#: the bundle version whose shape a ``.att`` layer has (a SET, no inclusion proof)
BUNDLE_V01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"


def _b64(data: bytes) -> str:
    return base64.standard_b64encode(data).decode("ascii")


def attestation_layer_bundle(layer: SignatureLayer) -> Bundle:
    """The v0.1 bundle a cosign ``.att`` layer amounts to (InputError if it is none)."""
    if layer.defect is not None:
        raise InputError(layer.defect)
    if layer.media_type != DSSE_MEDIA_TYPE:
        raise InputError(f"layer media type {json.dumps(layer.media_type)[:100]} is not "
                         f"{DSSE_MEDIA_TYPE}")
    try:
        envelope = json.loads(layer.payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InputError("the layer is not a JSON DSSE envelope") from None
    if not isinstance(envelope, dict):
        raise InputError("the layer is not a JSON DSSE envelope")
    material: dict[str, object] = {}
    if layer.certificate_pem:
        try:
            leaf = parse_pem_certificate(layer.certificate_pem)
        except MalformedCertificateError:
            raise InputError("the certificate annotation is not a PEM certificate") from None
        material["x509CertificateChain"] = {"certificates": [
            {"rawBytes": _b64(leaf.public_bytes(serialization.Encoding.DER))}]}
    else:
        material["publicKey"] = {"hint": ""}
    rekor = layer.rekor_bundle
    entries = []
    if rekor is not None:
        body = rekor.decoded_body()
        try:
            log_id = bytes.fromhex(rekor.log_id)
        except ValueError:
            raise InputError("the Rekor bundle annotation's logID is not hex") from None
        entries.append({
            "logIndex": str(rekor.log_index),
            "logId": {"keyId": _b64(log_id)},
            "kindVersion": {"kind": body.get("kind"), "version": body.get("apiVersion")},
            "integratedTime": str(rekor.integrated_time),
            "inclusionPromise": {"signedEntryTimestamp": _b64(rekor.signed_entry_timestamp)},
            "canonicalizedBody": rekor.body,
        })
    material["tlogEntries"] = entries
    return parse_bundle({"mediaType": BUNDLE_V01, "verificationMaterial": material,
                         "dsseEnvelope": envelope})
