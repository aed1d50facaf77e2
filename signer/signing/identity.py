"""Who signs: a keyless identity (Fulcio certificate) or a key (layer L4).

For keyless signing the certificate Fulcio returns is checked before anything is
published: its key is ours, it chains to a Fulcio CA of the trusted root, its
embedded SCT is signed by a trusted CT log, its issuer extension names the
token's issuer, and its name is the token's where Fulcio's mapping is certain (a GitHub
Actions workflow, an e-mail).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from signer.errors import SigningError, VerificationError
from signer.keys import PrivateKey, generate_ephemeral_key, public_key_der, public_key_pem
from signer.oidc import EMAIL_ISSUERS, IdentityToken
from signer.services.fulcio import FulcioClient, SigningCertificate
from signer.trust import TrustedRoot


@dataclass(frozen=True)
class SignerIdentity:
    """A private key and, for keyless signing, its checked Fulcio certificate."""

    key: PrivateKey = field(repr=False)
    certificate: SigningCertificate | None = None
    identity: str | None = None  # certificate SAN
    issuer: str | None = None  # OIDC issuer (Fulcio extension 1.8 / 1.1)
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    #: the claims of the OIDC token the certificate was issued for (keyless); build
    #: provenance names the run from them
    token_claims: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def verifier_pem(self) -> bytes:
        """What Rekor records as the verifier: the leaf PEM, else the public key PEM."""
        if self.certificate is not None:
            return self.certificate.leaf_pem
        return public_key_pem(self.key.public_key())


def key_identity(key: PrivateKey) -> SignerIdentity:
    """A key-based signer (``--key``)."""
    return SignerIdentity(key)


def check_signing_certificate(certificate: SigningCertificate, key: PrivateKey,
                              token: IdentityToken, trust: TrustedRoot,
                              at: datetime | None = None) -> tuple[str, str]:
    """Check a freshly issued certificate; return its (SAN identity, issuer)."""
    from signer.verify.certs import oidc_issuer, subject_alternative_names
    from signer.verify.chain import issuer_of, verify_certificate_chain
    from signer.verify.sct import verify_embedded_sct

    leaf = certificate.leaf
    if public_key_der(leaf.public_key()) != public_key_der(key.public_key()):
        raise SigningError("Fulcio issued a certificate for a different key")
    when = at or datetime.now(timezone.utc)
    try:
        path = verify_certificate_chain(leaf, trust, when, carried=certificate.chain)
        if certificate.detached_sct is not None and not _has_embedded_sct(certificate):
            from signer.signing.detached_sct import verify_detached_sct

            verify_detached_sct(certificate.detached_sct, leaf, trust)
        else:
            verify_embedded_sct(leaf, issuer_of(leaf, path), trust)
    except VerificationError as error:
        raise SigningError(f"the certificate from Fulcio failed the {error.message}",
                           hint="check --fulcio-url and --trusted-root belong together") from None
    names = subject_alternative_names(leaf)
    issuer = oidc_issuer(leaf)
    if not names:
        raise SigningError("the certificate from Fulcio has no subject alternative name")
    if issuer != token.issuer:
        raise SigningError(f"the certificate from Fulcio names issuer {issuer!r}, "
                           f"not the token's {token.issuer!r}")
    expected = token_identity(token, names)
    if expected is not None and not any(_same_identity(name, expected) for name in names):
        raise SigningError(f"the certificate from Fulcio names {names[0]!r}, not the token's "
                           f"{expected!r}", hint="check --fulcio-url: a CA that names someone "
                           "else must not be signed with")
    return names[0], issuer


def token_identity(token: IdentityToken, names: list[str]) -> str | None:
    """What Fulcio must put in the certificate for ``token``, where that is certain:
    a GitHub Actions token's workflow (``.../job_workflow_ref``), the e-mail of an
    e-mail issuer's token (or of a token with a verified e-mail when the certificate
    holds an e-mail name). None when Fulcio's mapping for the issuer is not known here."""
    workflow = token.claims.get("job_workflow_ref")
    if isinstance(workflow, str) and workflow:
        return "/" + workflow
    email = token.claims.get("email")
    if not isinstance(email, str) or not email:
        return None
    if token.issuer in EMAIL_ISSUERS or (token.claims.get("email_verified") is True
                                         and any("://" not in n and "@" in n for n in names)):
        return email
    return None


def _same_identity(name: str, expected: str) -> bool:
    if expected.startswith("/"):  # a workflow: the server URL, then the job_workflow_ref
        return name.startswith("https://") and name.endswith(expected)
    return name.lower() == expected.lower()


def _has_embedded_sct(certificate: SigningCertificate) -> bool:
    from signer.verify.certs import has_embedded_scts

    return has_embedded_scts(certificate.leaf)


def keyless_identity(token: IdentityToken, fulcio: FulcioClient,
                     trust: TrustedRoot) -> SignerIdentity:
    """Ephemeral P-256 key -> Fulcio certificate -> checks. The key never leaves memory."""
    started = time.perf_counter()
    key: ec.EllipticCurvePrivateKey = generate_ephemeral_key()
    keygen = time.perf_counter()
    certificate = fulcio.request_certificate(key, token)
    issued = time.perf_counter()
    identity, issuer = check_signing_certificate(certificate, key, token, trust)
    checked = time.perf_counter()
    return SignerIdentity(key, certificate, identity, issuer, timings={
        "fulcio": issued - keygen, "crypto": (keygen - started) + (checked - issued)},
        token_claims=token.claims)
