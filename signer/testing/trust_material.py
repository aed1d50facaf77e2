"""Trust material of the local stack in the public-good schemas.

- ``trusted_root(...)``: a ``TrustedRoot`` (media type
  ``application/vnd.dev.sigstore.trustedroot+json;version=0.1``) naming the local Rekor
  key, CT log key and Fulcio chain;
- ``signing_config(...)``: a ``SigningConfig`` v0.2 naming the local services;
- ``client_trust_config(...)``: both together, as Sigstore clients take them
  (``application/vnd.dev.sigstore.clienttrustconfig.v0.1+json``).
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from signer.testing.keystore import key_id, spki_der

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
CLIENT_TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
OPERATOR = "signer-local"


def rfc3339(when: datetime.datetime) -> str:
    """UTC timestamp as protobuf JSON writes it."""
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class StackEndpoints:
    """Everything that goes into the trust material."""

    fulcio_url: str
    rekor_url: str
    ct_url: str
    oidc_url: str
    fulcio_chain: list[x509.Certificate]  # intermediate(s) then root
    rekor_key: PublicKeyTypes
    ct_key: PublicKeyTypes
    valid_from: datetime.datetime


def _log_instance(base_url: str, key: PublicKeyTypes, start: str) -> dict[str, Any]:
    return {
        "baseUrl": base_url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": _b64(spki_der(key)),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": {"start": start},
        },
        "logId": {"keyId": _b64(key_id(key))},
    }


def trusted_root(endpoints: StackEndpoints) -> dict[str, Any]:
    """The stack's ``trusted_root.json`` content."""
    start = rfc3339(endpoints.valid_from)
    root_cert = endpoints.fulcio_chain[-1]
    org = root_cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    common = root_cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return {
        "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
        "tlogs": [_log_instance(endpoints.rekor_url, endpoints.rekor_key, start)],
        "certificateAuthorities": [
            {
                "subject": {
                    "organization": str(org[0].value) if org else "",
                    "commonName": str(common[0].value) if common else "",
                },
                "uri": endpoints.fulcio_url,
                "certChain": {
                    "certificates": [
                        {"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))}
                        for c in endpoints.fulcio_chain
                    ]
                },
                "validFor": {"start": start},
            }
        ],
        "ctlogs": [_log_instance(endpoints.ct_url, endpoints.ct_key, start)],
        "timestampAuthorities": [],
    }


def _service(url: str, start: str) -> dict[str, Any]:
    return {"url": url, "majorApiVersion": 1, "validFor": {"start": start}, "operator": OPERATOR}


def signing_config(endpoints: StackEndpoints) -> dict[str, Any]:
    """The stack's SigningConfig v0.2."""
    start = rfc3339(endpoints.valid_from)
    return {
        "mediaType": SIGNING_CONFIG_MEDIA_TYPE,
        "caUrls": [_service(endpoints.fulcio_url, start)],
        "oidcUrls": [_service(endpoints.oidc_url, start)],
        "rekorTlogUrls": [_service(endpoints.rekor_url, start)],
        "tsaUrls": [],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"},
    }


def client_trust_config(endpoints: StackEndpoints) -> dict[str, Any]:
    """TrustedRoot + SigningConfig as a ClientTrustConfig."""
    return {
        "mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE,
        "trustedRoot": trusted_root(endpoints),
        "signingConfig": signing_config(endpoints),
    }
