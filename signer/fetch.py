"""Gather the signatures of images from a registry and verify them (layer L4).

The only place that joins registry I/O with the pure verifier. For each image:
resolve the reference (a digest reference is used as is, without fetching the image
manifest, as cosign does; a tag is resolved with a HEAD request), fetch the
``sha256-<hex>.sig`` manifest (from ``--signature-repository`` / ``COSIGN_REPOSITORY``
if set), fetch every layer blob (bounded count and size, digest-checked), look up in
Rekor the entry of a signature without a bundle annotation (only with
``VerifyOptions.rekor_url``), then run :func:`signer.verify.verifier.verify_signatures`.
Several images are verified concurrently over one shared
:class:`~signer.registry.client.RegistryClient`. As cosign v3, :func:`verify_images`
first probes the first image for Sigstore bundle referrers and, if it has any,
verifies every image by its bundles (:mod:`signer.referrers`).

Library entry points (used by the CLI and the GitHub Action)::

    options = VerifyOptions(trust, policy)          # trust: signer.trust.load_default()
    with RegistryClient() as client:
        results = verify_images(client, ["ghcr.io/o/r:tag"], options)
        one = verify_image(client, "ghcr.io/o/r@sha256:...", options)   # .sig only
        one.verified, one.digest, one.passing, one.error, one.exit_code
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from signer.errors import (
    Error,
    ImageNotFoundError,
    InputError,
    NoMatchingSignaturesError,
    NoSignaturesError,
)
from signer.formats.legacy import (
    MAX_PAYLOAD_BYTES,
    SignatureLayer,
    parse_signature_manifest,
    signature_layer,
    signature_tag,
)
from signer.reference import Reference, parse_reference
from signer.registry.client import RegistryClient
from signer.trust import TrustedRoot
from signer.verify.verifier import VerificationPolicy, Verified, verify_signatures

if TYPE_CHECKING:
    from cryptography import x509

    from signer.referrers import BundleResult

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
    #: cosign v3's ``--new-bundle-format``: look for Sigstore bundle referrers on the
    #: first image and, if it has any, verify every image by its bundles; otherwise
    #: (or when False) verify the legacy ``.sig`` signatures
    bundle_format: bool = True
    #: Rekor to ask for the entry of a signature without a bundle annotation (cosign's
    #: online lookup); None: never (``--offline``)
    rekor_url: str | None = None
    ca_bundle: str | None = None


@dataclass(frozen=True)
class PassingSignature:
    """The signature that verified an image: where it is stored, its certificate
    (keyless) and its transparency-log entry (index and log ID), when it has them."""

    reference: str | None
    certificate: x509.Certificate | None
    log_index: int | None
    log_id: bytes | None


@dataclass
class ImageVerification:
    """The outcome for one image: its digest, per-signature results, or an error."""

    reference: Reference
    digest: str | None = None
    signature_reference: Reference | None = None
    #: the repository the signatures were looked up in (the image's, or the override)
    signature_repository: Reference | None = None
    results: list[Verified] = field(default_factory=list)
    error: Error | None = None
    seconds: float = 0.0
    #: "legacy" (``.sig`` layers in ``results``) or "bundle" (``bundle_results``)
    format: str = "legacy"
    bundle_results: list[BundleResult] = field(default_factory=list)

    @property
    def passing(self) -> list[Verified]:
        """Legacy signatures that passed every check."""
        return [r for r in self.results if r.ok]

    @property
    def passing_bundles(self) -> list[BundleResult]:
        """Bundles that passed every check."""
        return [b for b in self.bundle_results if b.ok]

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
        """cosign's stdout JSON elements for the passing signatures or bundles."""
        if self.format == "bundle":
            return [b.output_object(self.reference.name) for b in self.passing_bundles]
        return [r.output_object() for r in self.passing]

    @property
    def exit_code(self) -> int:
        """cosign's exit code for this image (0 when verified)."""
        return 0 if self.verified else (self.error.exit_code if self.error else 12)

    def first_passing(self) -> PassingSignature | None:
        """Where the first passing signature is and what it says (a ``.sig`` layer or a
        bundle referrer, whichever passed); None when nothing passed."""
        for layer in self.passing:
            bundle = layer.rekor_bundle
            return PassingSignature(
                reference=self.signature_reference.name if self.signature_reference else None,
                certificate=layer.certificate,
                log_index=bundle.log_index if bundle is not None else None,
                log_id=bytes.fromhex(bundle.log_id) if bundle is not None else None)
        for result in self.passing_bundles:
            assert result.verified is not None
            entry = next(iter(result.verified.tlog_entries), None)
            repository = self.signature_repository or self.reference.repository_only()
            return PassingSignature(
                reference=f"{repository.repository_name}@{result.image_bundle.manifest_digest}",
                certificate=result.verified.certificate,
                log_index=entry.log_index if entry is not None else None,
                log_id=entry.log_id if entry is not None else None)
        return None

    def failure_lines(self) -> list[str]:
        """One line per failed signature: which check failed and why."""
        lines = [f"signature {r.index} (layer {r.layer.digest[:19]}…): {r.reason}"
                 for r in self.results if not r.ok]
        lines += [f"bundle {i} (referrer {b.image_bundle.manifest_digest[:19]}…): {b.reason}"
                  for i, b in enumerate(self.bundle_results) if not b.ok]
        return lines


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
    max_layers: int = DEFAULT_MAX_LAYERS,
) -> tuple[Reference, list[SignatureLayer]]:
    """Fetch ``sha256-<hex>.sig`` in ``signatures``'s repository and every layer blob."""
    sig_ref = signatures.with_tag(signature_tag(digest))
    try:
        manifest = client.get_manifest(sig_ref)
    except ImageNotFoundError:
        raise NoSignaturesError(f"no signatures found for {digest}",
                                hint=f"nothing is stored under {sig_ref.name}") from None
    parsed = parse_signature_manifest(manifest.data, max_layers=max_layers)
    if not parsed.layers:
        raise NoSignaturesError(f"no signatures found for {digest}",
                                hint=f"{sig_ref.name} has no layers")
    layers = []
    blobs: dict[str, bytes] = {}  # layers often share a payload (same image, several signers)
    for descriptor in parsed.layers:
        if descriptor.size > MAX_PAYLOAD_BYTES:
            raise InputError(f"signature layer {descriptor.digest} is {descriptor.size} bytes, "
                             f"over the limit of {MAX_PAYLOAD_BYTES}")
        blob = blobs.get(descriptor.digest)
        if blob is None:
            blob = client.get_blob(sig_ref, descriptor.digest, limit=MAX_PAYLOAD_BYTES)
            blobs[descriptor.digest] = blob
        layers.append(signature_layer(descriptor, blob))
    return sig_ref, layers


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


def _verify_bundles(client: RegistryClient, repository: Reference, image: Reference,
                    options: VerifyOptions, result: ImageVerification) -> None:
    from signer.referrers import find_image_bundles, verify_image_bundles

    assert result.digest is not None
    result.format = "bundle"
    bundles = find_image_bundles(client, repository, result.digest)
    if not bundles:
        raise NoSignaturesError(f"no signatures found for {result.digest}",
                                hint="no Sigstore bundle refers to this image "
                                     "(try --new-bundle-format=false for .sig signatures)")
    result.bundle_results = verify_image_bundles(bundles, result.digest, options.trust,
                                                 options.policy)
    if not result.passing_bundles:
        result.error = NoMatchingSignaturesError(
            f"no matching attestations for {image.name}: "
            + "; ".join(b.reason for b in result.bundle_results))


def has_bundles(client: RegistryClient, reference: Reference | str,
                options: VerifyOptions) -> bool:
    """True if the image has Sigstore bundle referrers (cosign v3's probe); registry
    errors count as "no" so that the legacy path reports them."""
    from signer.referrers import find_image_bundles

    try:
        image = parse_reference(reference) if isinstance(reference, str) else reference
        digest = resolve_image_digest(client, image)
        repository = signature_repository_reference(image, options.signature_repository)
        return bool(find_image_bundles(client, repository, digest))
    except Error:
        return False


def verify_image(
    client: RegistryClient, reference: Reference | str, options: VerifyOptions,
    *, bundles: bool = False,
) -> ImageVerification:
    """Verify one image; errors are captured in the result, never raised.

    With ``bundles`` the image's Sigstore bundle referrers are verified instead of
    its ``.sig`` signatures. ``result.error`` is ImageNotFoundError (exit 11),
    NoSignaturesError (10), NoMatchingSignaturesError (12) or another
    :class:`signer.errors.Error` (1).
    """
    started = time.perf_counter()
    try:
        image = parse_reference(reference) if isinstance(reference, str) else reference
    except Error as err:
        return ImageVerification(Reference("", str(reference)), error=err)
    result = ImageVerification(image)
    try:
        result.digest = resolve_image_digest(client, image)
        repository = signature_repository_reference(image, options.signature_repository)
        result.signature_repository = repository
        if bundles:
            _verify_bundles(client, repository, image, options, result)
            result.seconds = time.perf_counter() - started
            return result
        result.signature_reference, layers = fetch_signature_layers(
            client, repository, result.digest, options.max_layers)
        layers = attach_online_entries(layers, options)
        result.results = verify_signatures(layers, result.digest, options.trust,
                                           options.policy, image)
        if not result.passing:
            result.error = NoMatchingSignaturesError(
                f"no matching signatures for {image.name}: "
                + "; ".join(r.reason for r in result.results))
    except Error as err:
        result.error = err
    result.seconds = time.perf_counter() - started
    return result


def verify_images(
    client: RegistryClient, references: Sequence[Reference | str], options: VerifyOptions
) -> list[ImageVerification]:
    """Verify several images concurrently (``options.max_workers``); results in order.

    As cosign v3, only the first image is probed for bundle referrers (when
    ``options.bundle_format``): if it has any, every image is verified by bundles.
    """
    bundles = bool(references) and options.bundle_format and has_bundles(
        client, references[0], options)
    if len(references) <= 1:
        return [verify_image(client, ref, options, bundles=bundles) for ref in references]
    workers = max(1, min(options.max_workers, len(references)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
        return list(pool.map(lambda ref: verify_image(client, ref, options, bundles=bundles),
                             references))
