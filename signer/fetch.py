"""Gather the signatures of images from a registry and verify them (layer L4).

The only place that joins registry I/O with the pure verifier. For each image:
resolve the reference (a digest reference is used as is, without fetching the image
manifest, as cosign does; a tag is resolved with a HEAD request), fetch the
``sha256-<hex>.sig`` manifest (from ``--signature-repository`` / ``COSIGN_REPOSITORY``
if set), fetch every layer blob (bounded count and size, digest-checked), look up in
Rekor the entry of a signature without a bundle annotation (only with
``VerifyOptions.rekor_url``), then run :func:`signer.verify.verifier.verify_signatures`.
With ``VerifyOptions.bundle_format`` (the default) the image's Sigstore bundle
referrers are verified too (:mod:`signer.referrers`). Beyond cosign v3, which uses
the bundles alone when there are any: every signature in either format is judged,
any one passing verifies the image, and the others' failures are reported -- a
wrong-identity referrer or an attestation cannot hide a valid ``.sig``, and a
malformed signature fails alone. Several images are verified concurrently over one
shared :class:`~signer.registry.client.RegistryClient`, each on its own.

Library entry points (used by the CLI and the GitHub Action)::

    options = VerifyOptions(trust, policy)          # trust: signer.trust.load_default()
    with RegistryClient() as client:
        results = verify_images(client, ["ghcr.io/o/r:tag"], options)
        one = verify_image(client, "ghcr.io/o/r@sha256:...", options)
        one.verified, one.digest, one.passing_signatures, one.error, one.exit_code
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from signer.errors import (
    DigestMismatchError,
    Error,
    ImageNotFoundError,
    InputError,
    NoMatchingSignaturesError,
    NoSignaturesError,
    SizeLimitError,
)
from signer.formats.legacy import (
    MAX_PAYLOAD_BYTES,
    Descriptor,
    SignatureLayer,
    parse_signature_layer_descriptors,
    signature_layer,
    signature_tag,
)
from signer.reference import Reference, parse_reference
from signer.registry.client import RegistryClient
from signer.trust import TrustedRoot
from signer.verify.verifier import VerificationPolicy, Verified, verify_signatures

if TYPE_CHECKING:
    from cryptography import x509

    from signer.referrers import BundleResult, ImageBundle

T = TypeVar("T")

#: cosign's limit on signature layers per ``.sig`` manifest
DEFAULT_MAX_LAYERS = 1000
#: images verified at once (their registry round trips overlap)
DEFAULT_MAX_WORKERS = 32


@dataclass(frozen=True)
class VerifyOptions:
    """Everything :func:`verify_image` needs besides the client and the reference."""

    trust: TrustedRoot
    policy: VerificationPolicy
    signature_repository: str | None = None
    max_layers: int = DEFAULT_MAX_LAYERS
    max_workers: int = DEFAULT_MAX_WORKERS
    #: cosign v3's ``--new-bundle-format``: judge each image's Sigstore bundle
    #: referrers beside its ``.sig`` signatures; False: only the ``.sig`` signatures
    bundle_format: bool = True
    #: Rekor to ask for the entry of a signature without a bundle annotation (cosign's
    #: online lookup); None: never (``--offline``)
    rekor_url: str | None = None
    ca_bundle: str | None = None


@dataclass(frozen=True)
class PassingSignature:
    """A signature that passed every check, in either format: what a caller reports.

    ``format`` is "legacy" (a layer of the ``.sig`` image) or "bundle" (a Sigstore
    bundle referrer); ``label`` names it as the failure lines do; ``reference`` is where
    it is stored (the ``.sig`` tag, or ``REPOSITORY@<referrer manifest digest>``). The
    Rekor entry (``log_index``, ``log_id``) is the one verified with it, None when the
    transparency log was not checked; ``output`` is cosign's stdout element for it.
    """

    reference: str | None
    certificate: x509.Certificate | None
    log_index: int | None
    log_id: bytes | None
    format: str = "legacy"
    label: str = ""
    output: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImageVerification:
    """The outcome for one image: its digest, per-signature results, or an error.

    Every signature of the image in either format is judged: the ``.sig`` layers
    (``results``) and, with ``VerifyOptions.bundle_format``, the Sigstore bundle
    referrers (``bundle_results``). Any one passing verifies the image; the others'
    failures are in :meth:`failure_lines`. ``fetch_problems`` are errors in gathering
    one format (say, a malformed referrers index) that did not decide the outcome.
    """

    reference: Reference
    digest: str | None = None
    signature_reference: Reference | None = None
    #: the repository the signatures were looked up in (the image's, or the override)
    signature_repository: Reference | None = None
    results: list[Verified] = field(default_factory=list)
    error: Error | None = None
    seconds: float = 0.0
    bundle_results: list[BundleResult] = field(default_factory=list)
    fetch_problems: list[str] = field(default_factory=list)

    @property
    def passing(self) -> list[Verified]:
        """Legacy signatures that passed every check."""
        return [r for r in self.results if r.ok]

    @property
    def passing_bundles(self) -> list[BundleResult]:
        """Bundles that passed every check."""
        return [b for b in self.bundle_results if b.ok]

    @property
    def passing_signatures(self) -> list[PassingSignature]:
        """Every passing signature of both formats: the ``.sig`` layers first, then the
        bundle referrers; empty unless :attr:`verified`."""
        if not self.verified:
            return []
        found = []
        for layer in self.passing:
            rekor = layer.rekor_bundle
            found.append(PassingSignature(
                self.signature_reference.name if self.signature_reference else None,
                layer.certificate, rekor.log_index if rekor is not None else None,
                bytes.fromhex(rekor.log_id) if rekor is not None else None,
                "legacy", _layer_label(layer), layer.output_object()))
        repository = self.signature_repository or self.reference.repository_only()
        for index, result in enumerate(self.bundle_results):
            verified = result.verified
            if verified is None:
                continue
            entry = next(iter(verified.tlog_entries), None)
            found.append(PassingSignature(
                f"{repository.repository_name}@{result.image_bundle.manifest_digest}",
                verified.certificate, entry.log_index if entry is not None else None,
                entry.log_id if entry is not None else None,
                "bundle", _bundle_label(index, result),
                result.output_object(self.reference.name)))
        return found

    @property
    def verified(self) -> bool:
        """True if at least one signature (or bundle) passed every check."""
        return self.error is None and bool(self.passing or self.passing_bundles)

    @property
    def tlog_verified(self) -> bool:
        """True if a passing signature's transparency-log entry was verified (cosign's
        "verified offline" line; always printed on the bundle path)."""
        return bool(self.passing_bundles) or any(r.bundle_verified for r in self.passing)

    def output_objects(self) -> list[dict[str, Any]]:
        """cosign's stdout JSON elements for the passing signatures (``.sig`` first)."""
        return [signature.output for signature in self.passing_signatures]

    @property
    def exit_code(self) -> int:
        """cosign's exit code for this image (0 when verified)."""
        return 0 if self.verified else (self.error.exit_code if self.error else 12)

    def first_passing(self) -> PassingSignature | None:
        """The first of :attr:`passing_signatures` (a ``.sig`` layer if one passed, else
        a bundle referrer); None when nothing passed."""
        return next(iter(self.passing_signatures), None)

    def failure_lines(self) -> list[str]:
        """One line per signature that failed (which check and why), then each problem
        in gathering the signatures."""
        lines = [f"{_layer_label(r)}: {r.reason}" for r in self.results if not r.ok]
        lines += [f"{_bundle_label(i, b)}: {b.reason}"
                  for i, b in enumerate(self.bundle_results) if not b.ok]
        return lines + self.fetch_problems


def _layer_label(result: Verified) -> str:
    if result.layer.defect is not None:
        return f"signature {result.index}"
    return f"signature {result.index} (layer {result.layer.digest[:19]}…)"


def _bundle_label(index: int, result: BundleResult) -> str:
    return f"bundle {index} (referrer {result.image_bundle.manifest_digest[:19]}…)"


def signature_repository_reference(image: Reference, override: str | None) -> Reference:
    """The repository holding the signatures: the image's, or the override's."""
    if not override:
        return image.repository_only()
    try:
        target = parse_reference(override)
    except InputError as err:
        raise InputError(f"invalid signature repository {override!r}: {err.message}",
                         hint="use REGISTRY/REPOSITORY (no tag or digest)") from None
    if target.tag or target.digest:
        raise InputError(f"signature repository {override!r} must not have a tag or digest")
    return target


def resolve_image_digest(client: RegistryClient, image: Reference) -> str:
    """The digest to verify: the reference's own, or the tag resolved by the registry."""
    if image.digest:
        return image.digest
    try:
        return client.resolve_digest(image)
    except ImageNotFoundError:
        raise ImageNotFoundError(f"image tag not found: {image.name}",
                                 hint="check the repository and tag") from None


def fetch_signature_layers(
    client: RegistryClient, signatures: Reference, digest: str,
    max_layers: int = DEFAULT_MAX_LAYERS, suffix: str = "sig",
) -> tuple[Reference, list[SignatureLayer]]:
    """Fetch ``sha256-<hex>.sig`` (``.att`` with ``suffix="att"``: cosign v2's
    attestations) in ``signatures``'s repository and every layer blob.

    One layer per signature, in manifest order. A layer that cannot be read (malformed
    descriptor, blob over the size limit, missing or not matching its digest) is kept
    in its place as :meth:`SignatureLayer.unreadable`, so that it fails alone; a
    malformed manifest, too many layers and network errors fail the whole fetch.
    """
    sig_ref = signatures.with_tag(signature_tag(digest, suffix))
    try:
        manifest = client.get_manifest(sig_ref)
    except ImageNotFoundError:
        raise NoSignaturesError(f"no signatures found for {digest}",
                                hint=f"nothing is stored under {sig_ref.name}") from None
    layers = read_signature_layers(
        manifest.data, lambda digest: client.get_blob(sig_ref, digest, limit=MAX_PAYLOAD_BYTES),
        max_layers)
    if not layers:
        raise NoSignaturesError(f"no signatures found for {digest}",
                                hint=f"{sig_ref.name} has no layers")
    return sig_ref, layers


def read_signature_layers(manifest: bytes, get_blob: Callable[[str], bytes],
                          max_layers: int = DEFAULT_MAX_LAYERS) -> list[SignatureLayer]:
    """The signature layers of a ``.sig`` manifest, blobs from ``get_blob(digest)``.

    One layer per descriptor, in manifest order. A layer that cannot be read (malformed
    descriptor, blob over the size limit, missing or not matching its digest) is kept
    in its place as :meth:`SignatureLayer.unreadable`, so that it fails alone. Over
    saved material ``get_blob`` is a lookup; network errors it raises propagate.
    """
    layers = []
    blobs: dict[str, bytes] = {}  # layers often share a payload (same image, several signers)
    for descriptor in parse_signature_layer_descriptors(manifest, max_layers=max_layers):
        if isinstance(descriptor, InputError):
            layers.append(SignatureLayer.unreadable(
                descriptor.message.removeprefix("malformed signature manifest: ")))
            continue
        layers.append(_read_layer(descriptor, get_blob, blobs))
    return layers


def _read_layer(descriptor: Descriptor, get_blob: Callable[[str], bytes],
                blobs: dict[str, bytes]) -> SignatureLayer:
    if descriptor.size > MAX_PAYLOAD_BYTES:
        return SignatureLayer.unreadable(
            f"layer {descriptor.digest[:19]}… is {descriptor.size} bytes, over the limit of "
            f"{MAX_PAYLOAD_BYTES}")
    blob = blobs.get(descriptor.digest)
    if blob is None:
        try:
            blob = get_blob(descriptor.digest)
            layer = signature_layer(descriptor, blob)
        except (ImageNotFoundError, SizeLimitError, DigestMismatchError) as err:
            return SignatureLayer.unreadable(f"layer {descriptor.digest[:19]}…: {err.message}")
        blobs[descriptor.digest] = blob
        return layer
    return signature_layer(descriptor, blob)


def _expected_entry_uuid(layer: SignatureLayer, signature: bytes, verifier_pem: bytes) -> str:
    """The UUID Rekor gives the hashedrekord entry of this signature (leaf hash of the
    canonical body it would store)."""
    from signer.services.rekor import hashedrekord_proposal
    from signer.verify import tlog

    body = tlog.canonical_json(hashedrekord_proposal(
        signature, verifier_pem, hashlib.sha256(layer.payload).hexdigest()))
    return tlog.leaf_hash(body).hex()


def _verifier_pem(layer: SignatureLayer, policy: VerificationPolicy) -> bytes | None:
    from cryptography.hazmat.primitives import serialization

    from signer.certificates import MalformedCertificateError, parse_pem_certificate
    from signer.keys import public_key_pem

    if layer.certificate_pem:
        try:
            cert = parse_pem_certificate(layer.certificate_pem)
        except MalformedCertificateError:
            return None
        return cert.public_bytes(serialization.Encoding.PEM)  # Rekor's canonical PEM
    return public_key_pem(policy.key) if policy.key is not None else None


def _checked_entry(entry: Any, uuid: str, trust: TrustedRoot) -> bool:
    """The entry's inclusion proof must lead to a checkpoint signed by the trusted log."""
    from signer.verify import tlog

    proof = entry.inclusion_proof
    log = trust.tlog_by_id(bytes.fromhex(entry.log_id)) if len(entry.log_id) == 64 else None
    if proof is None or log is None:
        return False
    leaf = tlog.leaf_hash(entry.decoded_body())
    if leaf.hex() != uuid:
        return False
    try:
        root = bytes.fromhex(proof.root_hash)
        tlog.verify_inclusion(leaf, proof.log_index, proof.tree_size,
                              [bytes.fromhex(h) for h in proof.hashes], root)
        checkpoint = tlog.verify_checkpoint(proof.checkpoint, log.key, key_id=log.log_id)
    except (Error, ValueError):
        return False
    return bool(checkpoint.root_hash == root and checkpoint.tree_size == proof.tree_size)


def attach_online_entries(layers: Sequence[SignatureLayer], options: VerifyOptions
                          ) -> list[SignatureLayer]:
    """cosign's online lookup: for each layer without a Rekor bundle annotation, fetch its
    hashedrekord entry from ``options.rekor_url`` by UUID; if the entry's inclusion proof
    leads to a checkpoint signed by a trusted log, attach the entry as the bundle
    annotation cosign would have stored (the verifier then checks body and SET).
    Layers whose entry is not found (or does not check out) are left as they are."""
    from signer.formats.legacy import ANNOTATION_BUNDLE

    if options.rekor_url is None or options.policy.ignore_tlog:
        return list(layers)
    result = list(layers)
    missing = [i for i, layer in enumerate(layers) if not layer.annotations.get(ANNOTATION_BUNDLE)]
    if not missing:
        return result
    # only now the Rekor client (and requests' service layer): most layers carry a bundle
    from dataclasses import replace

    from signer.services.rekor import RekorClient
    from signer.verify.checks import layer_signature

    client = RekorClient(options.rekor_url, ca_bundle=options.ca_bundle, attempts=1)
    try:
        for index in missing:
            layer = layers[index]
            verifier = _verifier_pem(layer, options.policy)
            if verifier is None:
                continue
            try:
                uuid = _expected_entry_uuid(layer, layer_signature(layer), verifier)
                entry = client.get_entry(uuid)
            except Error:
                continue
            if _checked_entry(entry, uuid, options.trust):
                annotations = {**layer.annotations,
                               ANNOTATION_BUNDLE: entry.rekor_bundle().to_json().decode()}
                result[index] = replace(layer, annotations=annotations)
    finally:
        client.close()
    return result


def judge_image(
    image: Reference, digest: str, layers: Sequence[SignatureLayer],
    bundles: Sequence[ImageBundle], options: VerifyOptions, *,
    signature_reference: Reference | None = None,
    legacy_error: Error | None = None, bundle_error: Error | None = None,
) -> ImageVerification:
    """Judge every signature of one image over gathered material (no I/O).

    ``layers`` are the ``.sig`` layers, ``bundles`` the bundle referrers;
    ``legacy_error`` / ``bundle_error`` are what gathering either format raised (a
    :class:`NoSignaturesError` means "none of that format"). Each signature fails
    alone; any one passing verifies the image and the others' failures are kept.
    Gathering errors are reported beside the verdict (``fetch_problems``) and decide
    it only when nothing passed.
    """
    from signer.referrers import verify_image_bundles

    result = ImageVerification(image, digest, signature_reference)
    result.results = verify_signatures(layers, digest, options.trust, options.policy, image)
    if bundles:
        result.bundle_results = verify_image_bundles(bundles, digest, options.trust,
                                                     options.policy)
    problems = [(what, err) for what, err in ((".sig", legacy_error),
                                             ("bundle referrers", bundle_error))
                if err is not None and not isinstance(err, NoSignaturesError)]
    result.fetch_problems = [f"{what}: {err.message}" for what, err in problems]
    if result.passing or result.passing_bundles:
        return result
    if problems:
        result.error = problems[0][1]
    elif not result.results and not result.bundle_results:
        result.error = legacy_error or NoSignaturesError(f"no signatures found for {digest}")
    else:
        result.error = NoMatchingSignaturesError(
            f"no matching signatures for {image.name}: "
            + "; ".join([*(r.reason for r in result.results),
                         *(b.reason for b in result.bundle_results)]))
    return result


def verify_image(
    client: RegistryClient, reference: Reference | str, options: VerifyOptions,
) -> ImageVerification:
    """Verify one image; errors are captured in the result, never raised.

    Every signature is judged (:func:`judge_image`): the ``.sig`` layers and, with
    ``options.bundle_format``, the Sigstore bundle referrers; any one passing verifies
    the image. ``result.error`` is ImageNotFoundError (exit 11), NoSignaturesError
    (10, neither format has any), NoMatchingSignaturesError (12) or another
    :class:`signer.errors.Error` (1).
    """
    from signer.referrers import find_image_bundles

    started = time.perf_counter()
    try:
        image = parse_reference(reference) if isinstance(reference, str) else reference
    except Error as err:
        return ImageVerification(Reference("", str(reference)), error=err)
    result = ImageVerification(image)
    try:
        digest = result.digest = resolve_image_digest(client, image)
        repository = signature_repository_reference(image, options.signature_repository)
        sig_ref: Reference | None = None
        layers: list[SignatureLayer] = []
        legacy_error: Error | None = None
        bundles: list[ImageBundle] = []
        bundle_error: Error | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="referrers") as helper:
            # the referrers lookup and the .sig fetch are independent: overlap them
            found = (helper.submit(find_image_bundles, client, repository, digest)
                     if options.bundle_format else None)
            try:
                sig_ref, layers = fetch_signature_layers(client, repository, digest,
                                                         options.max_layers)
                layers = attach_online_entries(layers, options)
            except Error as err:
                legacy_error = err
            if found is not None:
                try:
                    bundles = found.result()
                except Error as err:
                    bundle_error = err
        result = judge_image(image, digest, layers, bundles, options,
                             signature_reference=sig_ref, legacy_error=legacy_error,
                             bundle_error=bundle_error)
        result.signature_repository = repository
    except Error as err:
        result.error = err
    except Exception as exc:  # one image's failure must not end the others
        result.error = internal_error(image, exc)
    result.seconds = time.perf_counter() - started
    return result


def internal_error(image: Reference, exc: Exception) -> Error:
    """The error recorded for an image whose verification hit a bug: one line naming
    the exception's type, never its text (which may hold anything)."""
    return Error(f"internal error while verifying {image.name} ({type(exc).__name__})",
                 hint="this is a bug in signer; the other images were judged")


def for_each_image(references: Sequence[Reference | str],
                   work: Callable[[Reference | str], T], max_workers: int) -> list[T]:
    """``work`` for each image, up to ``max_workers`` at once; results in order."""
    if len(references) <= 1:
        return [work(ref) for ref in references]
    workers = max(1, min(max_workers, len(references)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
        return list(pool.map(work, references))


def verify_images(
    client: RegistryClient, references: Sequence[Reference | str], options: VerifyOptions
) -> list[ImageVerification]:
    """Verify several images concurrently (``options.max_workers``); results in order.

    Each image is judged on its own (see :func:`verify_image`): one image's failure,
    whatever caused it, never changes another's outcome.
    """
    return for_each_image(references, lambda ref: verify_image(client, ref, options),
                          options.max_workers)
