"""Verify the signatures of one image (layer L2, pure): cosign's per-signature order.

:func:`verify_signatures` runs every check of :mod:`signer.verify.checks` on each
signature layer and returns one :class:`Verified` per layer, passing or naming the
check that failed. Any one passing signature verifies the image. Nothing here does
I/O: the material comes from :mod:`signer.fetch` or from files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cryptography import x509

from signer.errors import InputError
from signer.formats.legacy import (
    RekorBundle,
    SignatureLayer,
    SimpleSigningClaims,
    parse_simple_signing_payload,
)
from signer.keys import PublicKey
from signer.reference import Reference
from signer.trust import TrustedRoot
from signer.verify import checks
from signer.verify.certs import (
    GITHUB_EXTENSIONS,
    certificate_subject,
    github_extensions,
    oidc_issuer,
)
from signer.verify.checks import CheckFailed
from signer.verify.policy import IdentityPolicy, SignedIdentityPolicy


@dataclass(frozen=True)
class VerificationPolicy:
    """What a signature must satisfy (built once per command, shared by threads).

    Exactly one of ``key`` (key-based) or ``identity`` (keyless) is normally set.
    """

    key: PublicKey | None = None
    identity: IdentityPolicy | None = None
    ignore_tlog: bool = False
    ignore_sct: bool = False
    annotations: Mapping[str, str] = field(default_factory=dict)
    signed_identity: SignedIdentityPolicy = field(default_factory=SignedIdentityPolicy)
    check_claims: bool = True
    #: cosign's --use-signed-timestamps: require and verify the RFC 3161 annotation
    use_signed_timestamps: bool = False
    #: the clock used when no transparency-log time exists (tests pin it)
    now: datetime | None = None

    def replace(self, **changes: Any) -> VerificationPolicy:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Verified:
    """The outcome for one signature layer."""

    index: int
    layer: SignatureLayer
    failure: CheckFailed | None = None
    certificate: x509.Certificate | None = None
    claims: SimpleSigningClaims | None = None
    rekor_bundle: RekorBundle | None = None
    bundle_verified: bool = False

    @property
    def ok(self) -> bool:
        """True if every check passed."""
        return self.failure is None

    @property
    def failed_check(self) -> str | None:
        """The name of the failed check (see ``checks.CHECK_NAMES``), if any."""
        return self.failure.check if self.failure is not None else None

    @property
    def reason(self) -> str:
        """One line: why this signature failed (or "verified")."""
        return self.failure.message if self.failure is not None else "verified"

    def output_object(self) -> dict[str, Any]:
        """The element cosign prints on stdout for this signature (docs/cosign-format.md §5.2)."""
        claims = self.claims or _claims(self.layer.payload, required=False) or (
            SimpleSigningClaims(None, None, None, None, {}))
        optional: dict[str, Any] | None = (
            _sorted(dict(claims.optional)) if claims.optional is not None else None)
        extra: dict[str, Any] = {}
        if self.certificate is not None:
            extra.update(certificate_output_fields(self.certificate))
        if self.rekor_bundle is not None:
            extra["Bundle"] = self.rekor_bundle.to_object()
        timestamp = self.layer.annotations.get("dev.sigstore.cosign/rfc3161timestamp")
        if timestamp:
            with contextlib.suppress(ValueError, RecursionError):
                extra["RFC3161Timestamp"] = json.loads(timestamp)
        if extra:
            optional = dict(sorted({**(optional or {}), **extra}.items()))
        return {
            "critical": {
                "identity": {"docker-reference": claims.docker_reference or ""},
                "image": {"docker-manifest-digest": claims.manifest_digest or ""},
                "type": claims.type or "",
            },
            "optional": optional,
        }


def _sorted(value: Any) -> Any:
    """Go marshals maps with sorted keys, recursively."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def certificate_output_fields(cert: x509.Certificate) -> dict[str, str]:
    """``Subject``, ``Issuer``, the issuer OID and GitHub extensions, as cosign prints."""
    fields: dict[str, str] = {}
    subject = certificate_subject(cert)
    if subject is not None:
        fields["Subject"] = subject
    issuer = oidc_issuer(cert)
    if issuer is not None:
        fields["Issuer"] = issuer
        fields["1.3.6.1.4.1.57264.1.1"] = issuer
    for name, value in github_extensions(cert).items():
        fields[name] = value
        fields[GITHUB_EXTENSIONS[name].dotted_string] = value
    return fields


def _now(policy: VerificationPolicy) -> datetime:
    return policy.now if policy.now is not None else datetime.now(timezone.utc)


def verify_layer(
    index: int,
    layer: SignatureLayer,
    digest: str,
    trust: TrustedRoot,
    policy: VerificationPolicy,
    image: Reference | None = None,
) -> Verified:
    """Run every check on one signature layer, in cosign's order.

    Whatever the layer's bytes contain, the outcome stays with this layer: a check that
    fails, malformed material, or an exception no check anticipated (reported as
    malformed, never as passing) is this signature's failure, and the caller goes on
    with the next one.
    """
    if layer.defect is not None:
        return Verified(index, layer, CheckFailed(checks.CHECK_MALFORMED, layer.defect))
    state: dict[str, Any] = {}
    try:
        _run_checks(layer, digest, trust, policy, image, state)
    except CheckFailed as failure:
        return Verified(index, layer, failure, **state)
    except InputError as err:  # malformed annotations or payload
        return Verified(index, layer, CheckFailed("signature", err.message, hint=err.hint),
                        **state)
    except Exception as exc:  # hostile bytes; see the docstring
        return Verified(index, layer, checks.malformed(exc))
    return Verified(index, layer, None, **state)


def _run_checks(
    layer: SignatureLayer,
    digest: str,
    trust: TrustedRoot,
    policy: VerificationPolicy,
    image: Reference | None,
    state: dict[str, Any],
) -> None:
    signature = checks.layer_signature(layer)
    certificate = checks.load_certificate(layer.certificate_pem) if (
        layer.certificate_pem or policy.key is None) else None
    state["certificate"] = certificate
    observed: list[datetime] = []

    # 1. signed timestamp (cosign checks it only when asked to)
    if policy.use_signed_timestamps:
        observed.append(checks.check_signed_timestamp(layer.rfc3161_timestamp, signature,
                                                      trust))

    # 2. transparency log: body consistency, then the SET
    if not policy.ignore_tlog:
        bundle = checks.check_tlog_required(checks.layer_rekor_bundle(layer))
        state["rekor_bundle"] = bundle
        checks.check_rekor_body(bundle, signature, layer.payload, certificate, policy.key)
        observed.append(checks.check_set(bundle, trust, _now(policy)))
        state["bundle_verified"] = True

    # 3. the verifier: a given key, or the certificate (chain, identity, SCT)
    path: list[x509.Certificate] = []
    if policy.key is not None:
        key = policy.key
    else:
        assert certificate is not None
        path = checks.check_certificate_chain(certificate, layer.chain_pem, trust,
                                              observed or [_now(policy)])
        checks.check_identity(certificate, policy.identity or IdentityPolicy())
        if not policy.ignore_sct:
            checks.check_sct(certificate, path, trust)
        key = checks.certificate_key(certificate)

    # 4. the signature over the stored payload bytes
    checks.check_signature(key, signature, layer.payload, any_hash=policy.key is not None)

    # 5. claims
    claims = _claims(layer.payload, required=policy.check_claims
                     or policy.signed_identity.kind != "any")
    state["claims"] = claims
    if policy.check_claims and claims is not None:
        checks.check_claims(claims, digest, policy.annotations)

    # 6. certificate validity at the log time (now when there is none)
    if certificate is not None:
        checks.check_certificate_validity(certificate, path, observed or [_now(policy)])

    # 7. signed identity (containers/image semantics; "any" by default)
    if claims is not None:
        checks.check_signed_identity(claims, policy.signed_identity, image)


def _claims(payload: bytes, required: bool) -> SimpleSigningClaims | None:
    """The parsed payload; a payload that is not JSON fails the claims check only when
    claims (or the signed identity) are checked."""
    try:
        return parse_simple_signing_payload(payload)
    except InputError as err:
        if required:
            raise CheckFailed(checks.CHECK_CLAIMS, err.message, hint=err.hint) from None
        return None


def verify_signatures(
    material: Sequence[SignatureLayer],
    digest: str,
    trust: TrustedRoot,
    policy: VerificationPolicy,
    image: Reference | None = None,
) -> list[Verified]:
    """Verify every signature layer of an image; one :class:`Verified` per layer.

    ``digest`` is the image manifest digest (``sha256:<hex>``) the claims must name;
    ``image`` is the reference as the user gave it (for signed-identity policies).
    """
    return [verify_layer(i, layer, digest, trust, policy, image)
            for i, layer in enumerate(material)]


def passing(results: Sequence[Verified]) -> list[Verified]:
    """The results whose signature passed every check."""
    return [r for r in results if r.ok]
