"""Find and verify the in-toto attestations of images (layer L4), as
``cosign verify-attestation`` does for cosign v3's bundle referrers.

An attestation is a Sigstore bundle referrer of the image (found as
:func:`signer.referrers.find_image_bundles` finds signatures: the referrers API or
the ``sha256-<hex>`` tag index) holding a DSSE envelope around an in-toto statement.
Each is judged alone, with the checks of ``signer verify`` (:func:`verify_bundle`:
log entries, timestamps, certificate chain, SCT, the identity policy with its build
claims) and three of its own, each failure naming its check:

- **digest**: a statement subject names the image's digest (checked by
  :func:`verify_bundle` against the digest; cosign's subject claim check then
  requires the ``-a`` annotations on that subject);
- **signature, not an attestation**: cosign's image-signature statement
  (``https://sigstore.dev/cosign/sign/v1``) is never counted as an attestation, as an
  attestation never counts as a signature in ``signer verify``;
- **type**: the statement's ``predicateType`` is the one asked for.

Any bundle passing every check verifies the image; the others' failures are kept.

Library use::

    with RegistryClient() as client:
        results = verify_attestations(client, ["ghcr.io/o/r:tag"], options, SLSA_V1)
        results[0].verified, results[0].output_lines(), results[0].failure_lines()
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from signer.digest import parse_digest
from signer.errors import (
    Error,
    InputError,
    NoMatchingSignaturesError,
    NoSignaturesError,
    VerificationError,
)
from signer.fetch import (
    VerifyOptions,
    fetch_signature_layers,
    for_each_image,
    internal_error,
    resolve_image_digest,
    signature_repository_reference,
)
from signer.formats.legacy import SignatureLayer, signature_tag
from signer.formats.legacy_attestation import attestation_layer_bundle
from signer.reference import Reference, parse_reference
from signer.referrers import (
    COSIGN_SIGNATURE_PREDICATE,
    BundleResult,
    ImageBundle,
    bundle_policy,
    check_subject_claims,
    find_image_bundles,
)
from signer.registry.client import RegistryClient
from signer.trust import TrustedRoot
from signer.verify.bundle import Artifact, BundleOptions, VerifiedBundle, verify_bundle
from signer.verify.verifier import VerificationPolicy

__all__ = [
    "AttestationResult",
    "ImageAttestations",
    "judge_attestations",
    "verify_attestations",
    "verify_image_attestations",
]


@dataclass(frozen=True)
class AttestationResult(BundleResult):
    """The outcome for one attestation of the image: a bundle referrer, or a layer of
    cosign v2's ``.att`` image read as a bundle (``legacy``)."""

    legacy: bool = False

    @property
    def predicate_type(self) -> str | None:
        """The verified statement's predicate type (None unless verified)."""
        statement = self.verified.statement if self.verified is not None else None
        value = (statement or {}).get("predicateType")
        return value if isinstance(value, str) else None

    def envelope_json(self) -> str:
        """cosign's output line for a verified attestation: the DSSE envelope as JSON
        (``payload``, ``payloadType``, ``signatures`` with ``sig`` and ``keyid`` when
        set; byte values in standard base64)."""
        bundle = self.image_bundle.bundle
        envelope = bundle.dsse_envelope if bundle is not None else None
        if self.verified is None or envelope is None:
            raise ValueError("only a verified DSSE attestation has an output line")
        signatures = []
        for signature in envelope.signatures:
            item: dict[str, Any] = {"sig": _b64(signature.sig)}
            if signature.keyid:
                item["keyid"] = signature.keyid
            signatures.append(item)
        return json.dumps({"payload": _b64(envelope.payload),
                           "payloadType": envelope.payload_type,
                           "signatures": signatures}, separators=(",", ":"))


def _b64(data: bytes) -> str:
    return base64.standard_b64encode(data).decode("ascii")


@dataclass
class ImageAttestations:
    """The outcome for one image: its digest and per-bundle results, or an error."""

    reference: Reference
    predicate_type: str
    digest: str | None = None
    #: where the attestations were looked for (the image's repository, or the override)
    repository: Reference | None = None
    results: list[AttestationResult] = field(default_factory=list)
    error: Error | None = None
    seconds: float = 0.0
    #: errors in gathering one of the two sources (referrers, ``.att``) that did not
    #: decide the outcome
    fetch_problems: list[str] = field(default_factory=list)

    @property
    def passing(self) -> list[AttestationResult]:
        """The attestations that passed every check."""
        return [r for r in self.results if r.ok]

    @property
    def verified(self) -> bool:
        """True if at least one attestation of the requested type passed every check."""
        return self.error is None and bool(self.passing)

    @property
    def exit_code(self) -> int:
        """cosign's exit code: 0 verified, 10 no attestations, 11 tag not found, 12 none
        matched, 1 other failures."""
        return 0 if self.verified else (self.error.exit_code if self.error else 12)

    def passing_references(self) -> list[str]:
        """Where each passing attestation is stored: ``REPOSITORY@<referrer digest>``, or
        ``REPOSITORY:sha256-<hex>.att`` for cosign v2's layers."""
        repository = (self.repository or self.reference).repository_name
        found = [f"{repository}:{signature_tag(self.digest or '', 'att')}" if r.legacy
                 else f"{repository}@{r.image_bundle.manifest_digest}" for r in self.passing]
        return list(dict.fromkeys(found))

    def output_lines(self) -> list[str]:
        """One JSON line per verified attestation (cosign's stdout)."""
        return [r.envelope_json() for r in self.passing]

    def failure_lines(self) -> list[str]:
        """One line per attestation that failed: which check and why."""
        return [f"{_label(i, r)}: {r.reason}" for i, r in enumerate(self.results)
                if not r.ok] + self.fetch_problems


def _label(index: int, result: AttestationResult) -> str:
    if result.legacy:
        return f"attestation {index} (.att layer {result.image_bundle.layer_digest[:19]}…)"
    return f"bundle {index} (referrer {result.image_bundle.manifest_digest[:19]}…)"


def legacy_attestation_bundles(layers: Sequence[SignatureLayer]) -> list[ImageBundle]:
    """The layers of a ``.att`` image as bundles; a layer that is none keeps its defect
    (it fails alone)."""
    found = []
    for layer in layers:
        try:
            found.append(ImageBundle("", layer.digest, attestation_layer_bundle(layer)))
        except Error as err:
            found.append(ImageBundle("", layer.digest if layer.defect is None else "",
                                     None, err.message))
    return found


def judge_attestations(bundles: Sequence[ImageBundle], digest: str, trust: TrustedRoot,
                       policy: VerificationPolicy, predicate_type: str, *,
                       legacy: bool = False) -> list[AttestationResult]:
    """Judge each bundle as an attestation of ``predicate_type`` for image ``digest``
    (no I/O); ``legacy``: they are ``.att`` layers. Failures stay with their bundle,
    whatever its bytes."""
    options = BundleOptions(require_tlog=not policy.ignore_tlog,
                            require_sct=not policy.ignore_sct, require_dsse=True, now=policy.now)
    artifact = Artifact.from_digest(parse_digest(digest))
    return [_judge_one(b, artifact, digest, trust, policy, options, predicate_type, legacy)
            for b in bundles]


def _judge_one(image_bundle: ImageBundle, artifact: Artifact, digest: str,
               trust: TrustedRoot, policy: VerificationPolicy, options: BundleOptions,
               predicate_type: str, legacy: bool) -> AttestationResult:
    bundle = image_bundle.bundle
    if bundle is None:
        return AttestationResult(image_bundle, error=InputError(
            f"malformed: {image_bundle.defect or 'not a Sigstore bundle'}"), legacy=legacy)
    try:
        verified = verify_bundle(bundle, artifact, trust, bundle_policy(policy), options)
        _check_predicate_type(verified, predicate_type)
        if policy.check_claims:
            check_subject_claims(verified, digest, policy.annotations)
    except Error as err:
        return AttestationResult(image_bundle, error=err, legacy=legacy)
    except Exception as exc:  # hostile bytes: fail this bundle only
        return AttestationResult(image_bundle, error=InputError(
            f"malformed: the bundle is not in a form any check can read ({type(exc).__name__})"),
            legacy=legacy)
    return AttestationResult(image_bundle, verified=verified, legacy=legacy)


def _shown(value: Any) -> str:
    """Outside text for a message: JSON-quoted (control and non-ASCII characters
    escaped), at most 200 characters."""
    return json.dumps(value if isinstance(value, str) else repr(value))[:200]


def _check_predicate_type(verified: VerifiedBundle, wanted: str) -> None:
    found = (verified.statement or {}).get("predicateType")
    if found == COSIGN_SIGNATURE_PREDICATE:
        raise VerificationError(
            f"signature, not an attestation (predicateType {COSIGN_SIGNATURE_PREDICATE})",
            hint="an image signature is checked by 'signer verify'")
    if found != wanted:
        raise VerificationError(f"type: the predicate type is {_shown(found)}, not {wanted}",
                                hint="choose the type with --type NAME|URI")


def verify_image_attestations(client: RegistryClient, reference: Reference | str,
                              options: VerifyOptions,
                              predicate_type: str) -> ImageAttestations:
    """Find and judge one image's attestations; errors are captured, never raised.

    ``result.error`` is ImageNotFoundError (exit 11), NoSignaturesError (10: the image
    has no bundle referrers), NoMatchingSignaturesError (12: none passed) or another
    :class:`signer.errors.Error` (1).
    """
    started = time.perf_counter()
    try:
        image = parse_reference(reference) if isinstance(reference, str) else reference
    except Error as err:
        return ImageAttestations(Reference("", str(reference)), predicate_type, error=err)
    result = ImageAttestations(image, predicate_type)
    try:
        digest = result.digest = resolve_image_digest(client, image)
        repository = result.repository = signature_repository_reference(
            image, options.signature_repository)
        problems: list[Error] = []
        for legacy in (False, True):
            try:
                bundles = (_legacy_bundles(client, repository, digest, options) if legacy
                           else find_image_bundles(client, repository, digest))
            except Error as err:
                problems.append(err)
                result.fetch_problems.append(
                    f"{'.att' if legacy else 'bundle referrers'}: {err.message}")
                continue
            result.results += judge_attestations(bundles, digest, options.trust,
                                                 options.policy, predicate_type, legacy=legacy)
        if not result.passing:
            result.error = _why_none_passed(image, digest, result.results, problems)
    except Error as err:
        result.error = err
    except Exception as exc:  # one image's failure must not end the others
        result.error = internal_error(image, exc)
    result.seconds = time.perf_counter() - started
    return result


def _why_none_passed(image: Reference, digest: str, results: Sequence[AttestationResult],
                     problems: Sequence[Error]) -> Error:
    if problems:
        return problems[0]
    if not results:
        return NoSignaturesError(
            f"no attestations found for {digest}",
            hint="the image has neither Sigstore bundle referrers nor a "
                 f"{signature_tag(digest, 'att')} image")
    return NoMatchingSignaturesError(f"no matching attestations for {image.name}: "
                                     + "; ".join(r.reason for r in results))


def _legacy_bundles(client: RegistryClient, repository: Reference, digest: str,
                    options: VerifyOptions) -> list[ImageBundle]:
    """cosign v2's ``.att`` layers of the image read as bundles; none without one."""
    try:
        _, layers = fetch_signature_layers(client, repository, digest, options.max_layers,
                                           suffix="att")
    except NoSignaturesError:
        return []
    return legacy_attestation_bundles(layers)


def verify_attestations(client: RegistryClient, references: Sequence[Reference | str],
                        options: VerifyOptions,
                        predicate_type: str) -> list[ImageAttestations]:
    """:func:`verify_image_attestations` for several images concurrently; in order."""
    return for_each_image(
        references, lambda r: verify_image_attestations(client, r, options, predicate_type),
        options.max_workers)
