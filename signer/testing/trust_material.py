"""Trust material of the local stack in the public-good schemas.

- ``trusted_root(...)``: a ``TrustedRoot`` (media type
  ``application/vnd.dev.sigstore.trustedroot+json;version=0.1``) naming the local Rekor
  v1 key (ECDSA, log ID = SHA-256 of its SPKI), Rekor v2 key (Ed25519, log ID = its
  C2SP key ID), CT log key, Fulcio chain and timestamp authority chain;
- ``signing_config(...)``: a ``SigningConfig`` v0.2 naming the local services: Fulcio,
  the OIDC issuer, the TSA and the Rekor logs asked for (v1, v2 or both; a client
  takes the highest API version it supports per operator);
- ``client_trust_config(...)``: both together, as Sigstore clients take them
  (``application/vnd.dev.sigstore.clienttrustconfig.v0.1+json``).
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
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
    rekor_v2_url: str = ""
    rekor_v2_key: ed25519.Ed25519PublicKey | None = None
    rekor_v2_log_id: bytes = b""  # C2SP key ID (its origin is the URL without scheme)
    tsa_url: str = ""  # the POST URL (…/api/v1/timestamp)
    tsa_chain: tuple[x509.Certificate, ...] = ()  # leaf then root


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


def _rekor_v2_instance(endpoints: StackEndpoints, start: str) -> dict[str, Any]:
    assert endpoints.rekor_v2_key is not None
    return {
        "baseUrl": endpoints.rekor_v2_url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": _b64(spki_der(endpoints.rekor_v2_key)),
            "keyDetails": "PKIX_ED25519",
            "validFor": {"start": start},
        },
        "logId": {"keyId": _b64(endpoints.rekor_v2_log_id)},
    }


@dataclass(frozen=True)
class AuthorityWindow:
    """One certificate authority of a trusted root: its chain and ``validFor`` window."""

    chain: Sequence[x509.Certificate]  # intermediate(s) then root
    start: datetime.datetime
    end: datetime.datetime | None = None


def _authority(uri: str, chain: Sequence[x509.Certificate], start: str,
               end: str | None = None) -> dict[str, Any]:
    """A ``CertificateAuthority`` entry; the subject is the chain's last certificate's."""
    root_cert = chain[-1]
    org = root_cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    common = root_cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return {
        "subject": {
            "organization": str(org[0].value) if org else "",
            "commonName": str(common[0].value) if common else "",
        },
        "uri": uri,
        "certChain": {
            "certificates": [
                {"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))} for c in chain
            ]
        },
        "validFor": {"start": start, **({"end": end} if end is not None else {})},
    }


def trusted_root(
    endpoints: StackEndpoints, authorities: Sequence[AuthorityWindow] | None = None
) -> dict[str, Any]:
    """The stack's ``trusted_root.json`` content.

    ``authorities`` replaces the one Fulcio CA (the stack's chain, open-ended) with
    several, each with its own window (tests: retired and current intermediates).
    """
    start = rfc3339(endpoints.valid_from)
    windows = authorities or [AuthorityWindow(endpoints.fulcio_chain, endpoints.valid_from)]
    tlogs = [_log_instance(endpoints.rekor_url, endpoints.rekor_key, start)]
    if endpoints.rekor_v2_key is not None:
        tlogs.append(_rekor_v2_instance(endpoints, start))
    return {
        "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
        "tlogs": tlogs,
        "certificateAuthorities": [
            _authority(endpoints.fulcio_url, w.chain, rfc3339(w.start),
                       rfc3339(w.end) if w.end is not None else None)
            for w in windows
        ],
        "ctlogs": [_log_instance(endpoints.ct_url, endpoints.ct_key, start)],
        "timestampAuthorities": [
            _authority(endpoints.tsa_url, list(endpoints.tsa_chain), start)
        ] if endpoints.tsa_chain else [],
    }


def _service(url: str, start: str, version: int = 1) -> dict[str, Any]:
    return {"url": url, "majorApiVersion": version, "validFor": {"start": start},
            "operator": OPERATOR}


def signing_config(endpoints: StackEndpoints, *, rekor_versions: tuple[int, ...] = (1,),
                   with_tsa: bool = False) -> dict[str, Any]:
    """The stack's SigningConfig v0.2 naming the Rekor logs of ``rekor_versions`` and,
    with ``with_tsa``, the timestamp authority."""
    start = rfc3339(endpoints.valid_from)
    logs = {1: endpoints.rekor_url, 2: endpoints.rekor_v2_url}
    return {
        "mediaType": SIGNING_CONFIG_MEDIA_TYPE,
        "caUrls": [_service(endpoints.fulcio_url, start)],
        "oidcUrls": [_service(endpoints.oidc_url, start)],
        "rekorTlogUrls": [_service(logs[v], start, v) for v in rekor_versions],
        "tsaUrls": [_service(endpoints.tsa_url, start)] if with_tsa else [],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"},
    }


def client_trust_config(endpoints: StackEndpoints, *, rekor_versions: tuple[int, ...] = (1,),
                        with_tsa: bool = False) -> dict[str, Any]:
    """TrustedRoot + SigningConfig as a ClientTrustConfig."""
    return {
        "mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE,
        "trustedRoot": trusted_root(endpoints),
        "signingConfig": signing_config(endpoints, rekor_versions=rekor_versions,
                                        with_tsa=with_tsa),
    }
