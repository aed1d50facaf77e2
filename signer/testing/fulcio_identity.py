"""Fulcio's identity mapping: token claims -> challenge claim, SAN and extensions.

Mirrors public-good Fulcio's ``github-workflow`` ci-provider template (OIDs
1.3.6.1.4.1.57264.1.1-1.6 as raw bytes, 1.8-1.22 as DER UTF8String) and its
``email`` issuer type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cryptography import x509

from signer.testing.ca import LeafProfile
from signer.testing.ctlog import der_length

FULCIO_ARC = "1.3.6.1.4.1.57264.1"
GITHUB_URL = "https://github.com/"

IssuerType = Literal["github-workflow", "email"]


class IdentityError(Exception):
    """The token's claims cannot be mapped to a certificate."""


@dataclass(frozen=True)
class IssuerConfig:
    """One entry of Fulcio's issuer allow-list."""

    url: str
    issuer_type: IssuerType
    client_id: str = "sigstore"

    @property
    def challenge_claim(self) -> str:
        """The claim whose value the proof of possession signs."""
        return "email" if self.issuer_type == "email" else "sub"

    def to_configuration(self) -> dict[str, Any]:
        """This issuer as ``GET /api/v2/configuration`` lists it."""
        return {
            "issuerUrl": self.url,
            "audience": self.client_id,
            "challengeClaim": self.challenge_claim,
            "issuerType": "email" if self.issuer_type == "email" else "ci-provider",
            "spiffeTrustDomain": "",
            "subjectDomain": "",
            "skipEmailVerification": False,
        }


def utf8_string(value: str) -> bytes:
    """DER UTF8String (tag 0x0C)."""
    raw = value.encode("utf-8")
    return b"\x0c" + der_length(len(raw)) + raw


def _claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if value is None:
        raise IdentityError(f"token is missing the {name!r} claim")
    if not isinstance(value, str):
        value = str(value)
    return value


def challenge_value(config: IssuerConfig, claims: dict[str, Any]) -> str:
    """The principal name that the proof of possession must sign."""
    return _claim(claims, config.challenge_claim)


def leaf_profile(config: IssuerConfig, claims: dict[str, Any]) -> LeafProfile:
    """SAN and Fulcio extensions for the verified claims of ``config``'s issuer."""
    issuer = _claim(claims, "iss")
    if config.issuer_type == "email":
        if claims.get("email_verified") is not True:
            raise IdentityError("email_verified claim was false")
        email = _claim(claims, "email")
        if "@" not in email:
            raise IdentityError("email claim is not an e-mail address")
        return LeafProfile(
            san=x509.RFC822Name(email),
            extensions=(
                (f"{FULCIO_ARC}.1", issuer.encode()),
                (f"{FULCIO_ARC}.8", utf8_string(issuer)),
            ),
        )
    return _github_profile(issuer, claims)


def _github_profile(issuer: str, claims: dict[str, Any]) -> LeafProfile:
    c = {name: _claim(claims, name) for name in (
        "event_name", "sha", "workflow", "repository", "ref", "job_workflow_ref",
        "job_workflow_sha", "runner_environment", "repository_id", "repository_owner",
        "repository_owner_id", "workflow_ref", "workflow_sha", "run_id", "run_attempt",
        "repository_visibility",
    )}  # fmt: skip
    raw = {
        1: issuer,
        2: c["event_name"],
        3: c["sha"],
        4: c["workflow"],
        5: c["repository"],
        6: c["ref"],
    }
    der = {
        8: issuer,
        9: GITHUB_URL + c["job_workflow_ref"],
        10: c["job_workflow_sha"],
        11: c["runner_environment"],
        12: GITHUB_URL + c["repository"],
        13: c["sha"],
        14: c["ref"],
        15: c["repository_id"],
        16: GITHUB_URL + c["repository_owner"],
        17: c["repository_owner_id"],
        18: GITHUB_URL + c["workflow_ref"],
        19: c["workflow_sha"],
        20: c["event_name"],
        21: (
            f"{GITHUB_URL}{c['repository']}/actions/runs/{c['run_id']}/attempts/{c['run_attempt']}"
        ),
        22: c["repository_visibility"],
    }
    extensions: list[tuple[str, bytes]] = [
        (f"{FULCIO_ARC}.{n}", value.encode("utf-8")) for n, value in raw.items() if value
    ]
    extensions += [(f"{FULCIO_ARC}.{n}", utf8_string(v)) for n, v in der.items() if v]
    return LeafProfile(
        san=x509.UniformResourceIdentifier(GITHUB_URL + c["job_workflow_ref"]),
        extensions=tuple(extensions),
    )
