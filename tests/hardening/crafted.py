"""Hand-made keyless signatures against the local Sigstore stack (attack tests).

:func:`crafted_layer` issues a leaf from the stack's real CA (with the victim's
identity, a real SCT, and whatever extra extensions a test asks for), signs a payload
with its key and records the signature in the stack's real Rekor: a signature layer
that differs from what ``signer sign`` makes only where the test says so.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signer.formats.legacy import (
    SIMPLE_SIGNING_MEDIA_TYPE,
    SignatureLayer,
    build_simple_signing_payload,
    signature_annotations,
)
from signer.services.rekor import RekorClient, hashedrekord_proposal
from signer.testing.ca import CertificateAuthority, LeafProfile
from signer.testing.ctlog import CtLog
from signer.testing.fulcio_identity import leaf_profile
from signer.testing.stack import Stack


@dataclass(frozen=True)
class Crafted:
    """A crafted signature layer and the leaf it carries."""

    layer: SignatureLayer
    leaf: x509.Certificate


def victim_profile(stack: Stack) -> LeafProfile:
    """The leaf profile Fulcio gives the stack's default GitHub token (victim's SAN)."""
    import jwt

    from signer.testing.fulcio_identity import IssuerConfig

    claims = jwt.decode(stack.issue_token(), options={"verify_signature": False})
    return leaf_profile(IssuerConfig(stack.oidc_issuer_url, "github-workflow"), claims)


def crafted_layer(
    stack: Stack,
    repository: str,
    digest: str,
    *,
    profile: LeafProfile | None = None,
    extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    payload: bytes | None = None,
    ca: CertificateAuthority | None = None,
    issued_at: datetime.datetime | None = None,
    ct_log: CtLog | None = None,
) -> Crafted:
    """A keyless signature of ``digest`` by a leaf of the stack's CA (or ``ca``, with
    notBefore ``issued_at``, its SCT from ``ct_log``), logged in Rekor now."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = ca or stack.ca
    leaf = issuer.issue(key.public_key(), profile or victim_profile(stack), ct_log or stack.ct_log,
                        now=issued_at, extra_extensions=extra_extensions)
    body = payload if payload is not None else build_simple_signing_payload(
        repository, digest, None)
    signature = key.sign(body, ec.ECDSA(hashes.SHA256()))
    leaf_pem = leaf.public_bytes(serialization.Encoding.PEM)
    rekor = RekorClient(stack.rekor_url)
    try:
        entry = rekor.create_entry(hashedrekord_proposal(
            signature, leaf_pem, hashlib.sha256(body).hexdigest()))
    finally:
        rekor.close()
    chain_pem = "".join(issuer.chain_pem()).encode()
    annotations = signature_annotations(signature, certificate_pem=leaf_pem,
                                        chain_pem=chain_pem, rekor_bundle=entry.rekor_bundle())
    return Crafted(SignatureLayer(body, SIMPLE_SIGNING_MEDIA_TYPE, annotations), leaf)
