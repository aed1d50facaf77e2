"""Image signatures in the Sigstore bundle format (cosign v3), found as OCI referrers (L4).

cosign v3 stores an image signature as a Sigstore bundle v0.3 (DSSE around an
in-toto statement whose subject is the image digest) in a manifest whose
``subject`` is the image; registries without the referrers API list it in the
``sha256-<hex>`` tag index (docs/cosign-format.md §6.3–6.4). :func:`find_image_bundles`
discovers and parses them through :class:`signer.registry.client.RegistryClient`;
:func:`verify_image_bundles` verifies each with the same policy ``signer verify``
uses for ``.sig`` signatures and builds cosign's output element for it.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from signer.digest import parse_digest
from signer.errors import (
    DigestMismatchError,
    Error,
    ImageNotFoundError,
    InputError,
    RegistryError,
    SizeLimitError,
    VerificationError,
)
from signer.formats.bundle import Bundle, parse_bundle
from signer.formats.legacy import Descriptor
from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.trust import TrustedRoot
from signer.verify.bundle import (
    Artifact,
    BundleOptions,
    KeyPolicy,
    Policy,
    VerifiedBundle,
    verify_bundle,
)
from signer.verify.verifier import VerificationPolicy

__all__ = [
    "BUNDLE_MEDIA_TYPE_PREFIX",
    "COSIGN_SIGNATURE_PREDICATE",
    "BundleResult",
    "ImageBundle",
    "bundle_policy",
    "check_image_bundles",
    "check_subject_claims",
    "find_image_bundles",
    "image_bundle_from_blob",
    "verify_image_bundles",
]

BUNDLE_MEDIA_TYPE_PREFIX = "application/vnd.dev.sigstore.bundle"
#: the in-toto predicate type of cosign's image signature statement (cosign-format.md §6.1)
COSIGN_SIGNATURE_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
#: a bundle larger than this is not a signature (cosign's are a few KiB)
MAX_BUNDLE_BYTES = 4 * 1024 * 1024
#: at most this many referrers are fetched and parsed per image
MAX_BUNDLE_REFERRERS = 100


@dataclass(frozen=True)
class ImageBundle:
    """A Sigstore bundle attached to an image, and where it was found."""

    manifest_digest: str  # the referrer manifest
    layer_digest: str  # the bundle blob
    bundle: Bundle | None
    #: why a candidate referrer could not be read as a bundle (then ``bundle`` is None)
    defect: str | None = None


@dataclass(frozen=True)
class BundleResult:
    """The outcome of verifying one image bundle."""

    image_bundle: ImageBundle
    verified: VerifiedBundle | None = None
    error: Error | None = None

    @property
    def ok(self) -> bool:
        """True if the bundle passed every check."""
        return self.verified is not None

    @property
    def reason(self) -> str:
        """One line: why the bundle failed, or "verified"."""
        return self.error.message if self.error is not None else "verified"

    def output_object(self, docker_reference: str) -> dict[str, Any]:
        """cosign v3's output element for a verified bundle (docs/cosign-format.md §5.2)."""
        statement = (self.verified.statement if self.verified is not None else None) or {}
        subjects = statement.get("subject") or [{}]
        first = subjects[0] if isinstance(subjects[0], dict) else {}
        digest_map = first.get("digest")
        digests: dict[str, Any] = digest_map if isinstance(digest_map, dict) else {}
        algorithm, value = next(iter(sorted(digests.items())), ("", ""))
        annotations = first.get("annotations")
        return {
            "critical": {
                "identity": {"docker-reference": docker_reference},
                "image": {"docker-manifest-digest": f"{algorithm}:{value}" if algorithm else ""},
                "type": str(statement.get("predicateType", "")),
            },
            "optional": dict(sorted(annotations.items()))
            if isinstance(annotations, dict) else {},
        }


def _bundle_layer(manifest: Mapping[str, Any]) -> Mapping[str, Any] | None:
    layers = manifest.get("layers")
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        return None
    layer = layers[0]
    media_type = layer.get("mediaType")
    if not isinstance(media_type, str) or not media_type.startswith(BUNDLE_MEDIA_TYPE_PREFIX):
        return None
    if not isinstance(layer.get("digest"), str):
        return None
    return layer


def _is_candidate(descriptor: Descriptor) -> bool:
    # no artifactType filter (as cosign); skip only what cannot be a manifest
    return descriptor.media_type in ("application/vnd.oci.image.manifest.v1+json",
                                     "application/vnd.docker.distribution.manifest.v2+json")


def find_image_bundles(client: RegistryClient, ref: Reference, digest: str) -> list[ImageBundle]:
    """Sigstore bundles (v0.3 or later) attached to ``ref``'s image ``digest``.

    Uses the referrers API, or the ``sha256-<hex>`` tag index when the registry has
    none (the client decides). A referrer is a signature candidate if its manifest has
    exactly one layer with a Sigstore bundle media type; other referrers (SBOMs,
    stale index entries, manifests that are not JSON objects) are skipped silently, as
    cosign does. A candidate whose blob is missing, too big or not a bundle is kept
    as an :class:`ImageBundle` with a ``defect``, so that it fails as that one
    bundle; bundles older than v0.3 are skipped. Errors of the listing itself and
    network errors propagate.
    """
    parse_digest(digest)
    found: list[ImageBundle] = []
    for descriptor in client.referrers(ref, digest)[:MAX_BUNDLE_REFERRERS]:
        if not _is_candidate(descriptor):
            continue
        try:
            fetched = client.get_manifest(ref.with_digest(descriptor.digest))
        except (ImageNotFoundError, SizeLimitError, InputError, DigestMismatchError):
            continue  # a stale index entry, or something too big to be a signature
        try:
            manifest = fetched.json()
        except RegistryError:
            continue  # not a JSON object: not a signature
        subject = manifest.get("subject")
        if isinstance(subject, dict) and subject.get("digest") != digest:
            continue  # a tag index that lists something for another image
        layer = _bundle_layer(manifest)
        if layer is None:
            continue
        image_bundle = _read_bundle(client, ref, descriptor.digest, str(layer["digest"]),
                                    layer.get("size"))
        if image_bundle is not None:
            found.append(image_bundle)
    return found


def _read_bundle(client: RegistryClient, ref: Reference, manifest_digest: str,
                 layer_digest: str, size: Any) -> ImageBundle | None:
    """The bundle of one candidate referrer, or the candidate with its defect; None for
    a bundle older than v0.3 (not an image signature)."""
    if isinstance(size, int) and size > MAX_BUNDLE_BYTES:
        return ImageBundle(manifest_digest, layer_digest, None,
                           f"the bundle is {size} bytes, over the limit of {MAX_BUNDLE_BYTES}")
    try:
        blob = client.get_blob(ref, layer_digest, limit=MAX_BUNDLE_BYTES)
    except (SizeLimitError, InputError, ImageNotFoundError, DigestMismatchError) as err:
        return ImageBundle(manifest_digest, layer_digest, None,
                           f"the bundle blob cannot be read: {err.message}")
    return image_bundle_from_blob(manifest_digest, layer_digest, blob)


def image_bundle_from_blob(manifest_digest: str, layer_digest: str,
                           blob: bytes) -> ImageBundle | None:
    """The bundle in a candidate referrer's blob, or the candidate with the reason it is
    not one (``defect``); None for a bundle older than v0.3 (not an image signature)."""
    try:
        bundle = parse_bundle(blob)
    except Error as err:
        return ImageBundle(manifest_digest, layer_digest, None, err.message)
    if bundle.version < (0, 3):
        return None
    return ImageBundle(manifest_digest, layer_digest, bundle)


def bundle_policy(policy: VerificationPolicy) -> Policy:
    """The bundle policy for a ``signer verify`` policy (key, else keyless identity)."""
    if policy.key is not None:
        return KeyPolicy(policy.key)
    identity = policy.identity
    if identity is None:
        raise VerificationError("identity: no key and no certificate identity to verify with")
    return identity  # one IdentityPolicy for both formats


def check_subject_claims(result: VerifiedBundle, digest: str,
                         annotations: Mapping[str, str]) -> None:
    """cosign's IntotoSubjectClaimVerifier: a subject names the image and its annotations."""
    statement = result.statement or {}
    wanted = parse_digest(digest)
    for subject in statement.get("subject") or []:
        if not isinstance(subject, dict) or not isinstance(subject.get("digest"), dict):
            continue
        value = subject["digest"].get(wanted.algorithm)
        if not isinstance(value, str) or not hmac.compare_digest(
                value.lower().encode(), wanted.hex.encode()):  # bytes: any text compares
            continue
        found = subject.get("annotations") if isinstance(subject.get("annotations"), dict) else {}
        assert isinstance(found, dict)
        # exact strings: an absent key or a number/boolean never matches its text
        missing = {k: v for k, v in annotations.items()
                   if not isinstance(found.get(k), str) or found.get(k) != v}
        if missing:
            raise VerificationError(
                f"annotations: the statement subject lacks {dict(sorted(missing.items()))}")
        return
    raise VerificationError(f"digest: no in-toto subject names the image digest {digest}")


def verify_image_bundles(
    bundles: Sequence[ImageBundle],
    digest: str,
    trust: TrustedRoot,
    policy: VerificationPolicy,
) -> list[BundleResult]:
    """Verify each bundle for image ``digest``; any ``ok`` result verifies the image.

    The content must be DSSE (``bundle does not contain a DSSE envelope``
    otherwise); the statement must be cosign's image signature (predicate type
    :data:`COSIGN_SIGNATURE_PREDICATE`; another type is an attestation, not a
    signature) and name ``digest`` as a subject carrying the policy's ``-a``
    annotations. Failures are recorded per bundle, never raised: whatever a bundle
    contains, its failure stays with it.
    """
    options = BundleOptions(require_tlog=not policy.ignore_tlog,
                            require_sct=not policy.ignore_sct, require_dsse=True)
    artifact = Artifact.from_digest(parse_digest(digest))
    return [_verify_one(image_bundle, artifact, digest, trust, policy, options)
            for image_bundle in bundles]


def _verify_one(image_bundle: ImageBundle, artifact: Artifact, digest: str,
                trust: TrustedRoot, policy: VerificationPolicy,
                options: BundleOptions) -> BundleResult:
    if image_bundle.bundle is None:
        return BundleResult(image_bundle, error=InputError(
            f"malformed: {image_bundle.defect or 'not a Sigstore bundle'}"))
    try:
        verified = verify_bundle(image_bundle.bundle, artifact, trust, bundle_policy(policy),
                                 options)
        _check_signature_statement(verified)
        if policy.check_claims:
            check_subject_claims(verified, digest, policy.annotations)
    except Error as err:
        return BundleResult(image_bundle, error=err)
    except Exception as exc:  # hostile bytes: fail this bundle only
        return BundleResult(image_bundle, error=InputError(
            "malformed: the bundle is not in a form any check can read "
            f"({type(exc).__name__})"))
    return BundleResult(image_bundle, verified=verified)


def _check_signature_statement(result: VerifiedBundle) -> None:
    """Only cosign's signature statement signs an image; a verified SLSA provenance or
    SBOM from the same identity is an attestation (``verify-attestation``'s business)."""
    predicate_type = (result.statement or {}).get("predicateType")
    if predicate_type != COSIGN_SIGNATURE_PREDICATE:
        shown = predicate_type[:200] if isinstance(predicate_type, str) else repr(
            predicate_type)[:200]
        raise VerificationError(f"attestation, not a signature (predicateType {shown})",
                                hint="an image signature's statement has predicateType "
                                     f"{COSIGN_SIGNATURE_PREDICATE}")


def check_image_bundles(client: RegistryClient, ref: Reference, digest: str,
                        trust: TrustedRoot, policy: VerificationPolicy) -> list[BundleResult]:
    """Find and verify the bundles of one image: ``[]`` means "no new-format
    signatures here" (fall back to ``.sig``, as cosign v3 does); otherwise any
    ``ok`` result verifies the image and the others say why they failed."""
    return verify_image_bundles(find_image_bundles(client, ref, digest), digest, trust, policy)
