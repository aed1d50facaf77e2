"""Sign container images, keyless or with a key, as cosign does (layer L4).

Library entry point::

    from signer.registry.client import RegistryClient
    from signer.sign import SignOptions, sign_images

    with RegistryClient() as client:
        results = sign_images(client, ["ghcr.io/o/app:v1"], SignOptions())
    for r in results:
        print(r.digest, r.signature_ref, r.log_index, r.entry_url, r.identity)

``SignOptions()`` means keyless with the services of the embedded public-good
signing config, checked with the embedded public-good trusted root, the token found
as :mod:`signer.oidc` describes. ``SignOptions(key=load_private_key(path, password))``
signs with a key instead. Errors are :class:`signer.errors.Error` subclasses
(``ImageNotFoundError``: exit 11).

Services: a signing config (``signing_config``, else the embedded public-good one)
names Fulcio, the Rekor logs (v1 or v2) and the timestamp authorities;
``fulcio_url``/``rekor_url``/``timestamp_server_url`` override its choices. Naming
``fulcio_url`` or ``rekor_url`` without a signing config uses only the services named
(and ``timestamp_server_url``), not the public-good config; so does a key signature
with ``tlog_upload=False``, which then contacts no public service at all.

Flow per image (DESIGN.md "Sign flow"): resolve the tag to a digest (digests are
signed, never tags); with ``recursive`` also every manifest of an index. Then, per
``signature_format`` (``both`` by default, as one certificate serves both):

- ``bundle`` (cosign v3): a Sigstore bundle v0.3, DSSE over the in-toto statement of
  the digest, with timestamps and log entries, verified offline before it is stored
  as an OCI referrer of the image (:mod:`signer.signing.referrer_publish`);
- ``legacy`` (cosign v2): the simple-signing payload (docker-reference = the
  repository) signed and logged as a Rekor v1 hashedrekord with SET, appended to
  the ``.sig`` image.

Keyless signing fetches one token and one Fulcio certificate per call and checks
the certificate before anything is published. Images are signed in a thread pool so
their network waits overlap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from signer.errors import Error, ImageNotFoundError, InputError, SigningError, UsageError
from signer.keys import PrivateKey
from signer.reference import Reference, parse_reference
from signer.services import PUBLIC_GOOD_FULCIO_URL, PUBLIC_GOOD_REKOR_URL
from signer.signing.identity import SignerIdentity
from signer.signing.store import DescriptorLike, RegistryStore
from signer.signing_config import SigningConfig
from signer.trust import TrustedRoot

if TYPE_CHECKING:
    from signer.attest import Attestation
    from signer.signing.referrer_publish import ConfigBlobs

#: ``--signature-format`` values: what a sign run writes
SIGNATURE_FORMATS = ("both", "bundle", "legacy")


@dataclass(frozen=True)
class SignOptions:
    """How to sign. Defaults: keyless against the public-good Sigstore services."""

    key: PrivateKey | None = field(default=None, repr=False)  # key-based when set
    identity_token: str | None = field(default=None, repr=False)  # VALUE or @FILE
    fulcio_url: str | None = None  # None: from the signing config
    rekor_url: str | None = None  # a Rekor v1 URL; None: from the signing config
    timestamp_server_url: str | None = None  # None: from the signing config
    signing_config: SigningConfig | None = None  # None: the embedded public-good one
    signature_format: str = "both"  # both | bundle | legacy
    trusted_root: TrustedRoot | None = None  # None: the embedded public-good root
    annotations: Mapping[str, str] = field(default_factory=dict)
    tlog_upload: bool = True
    recursive: bool = False
    signature_repository: str | None = None  # cosign's COSIGN_REPOSITORY
    ca_bundle: str | None = None  # extra CA for Fulcio, Rekor and the token endpoint
    max_workers: int = 8
    publish_attempts: int = 8
    settle_seconds: float = 0.05  # least wait before re-checking a written .sig
    service_attempts: int = 3  # Fulcio/Rekor tries on transient failures
    service_backoff: float = 0.5
    #: attest instead of sign: the bundle holds this in-toto statement (signer.attest)
    attestation: Attestation | None = None


@dataclass
class SignResult:
    """One signed manifest."""

    reference: str  # what the caller named
    digest: str  # sha256:… of the manifest signed
    signed_reference: str  # repository@digest
    signature_ref: str  # repository:sha256-<hex>.sig, else the referrer repository@digest
    signature_tag: str  # the .sig tag, else the referrers tag index ("" with the API)
    signature_manifest_digest: str
    added: bool  # False when an identical signature already existed
    log_index: int | None = None
    entry_uuid: str | None = None
    entry_url: str | None = None
    integrated_time: int | None = None
    identity: str | None = None  # certificate SAN (keyless)
    issuer: str | None = None  # OIDC issuer (keyless)
    platform: str | None = None  # for manifests reached through --recursive
    #: the bundle written (format bundle/both), its referrer manifest and log entry
    bundle: bytes | None = field(default=None, repr=False)
    referrer_ref: str | None = None
    referrer_index_tag: str | None = None
    bundle_log_index: int | None = None
    formats: tuple[str, ...] = ()  # "legacy", "bundle": what was written
    #: seconds per part: fulcio, rekor, tsa, registry, crypto, token (shared parts divided)
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The ``--output json`` object for this signature."""
        return {
            "reference": self.reference,
            "digest": self.digest,
            "signedReference": self.signed_reference,
            "signatureRef": self.signature_ref,
            "signatureTag": self.signature_tag,
            "signatureManifestDigest": self.signature_manifest_digest,
            "added": self.added,
            "platform": self.platform,
            "rekorLogIndex": self.log_index,
            "rekorEntryUUID": self.entry_uuid,
            "rekorEntryURL": self.entry_url,
            "integratedTime": self.integrated_time,
            "certificateIdentity": self.identity,
            "certificateIssuer": self.issuer,
            "formats": list(self.formats),
            "referrer": self.referrer_ref,
            "referrersTag": self.referrer_index_tag,
            "bundleLogIndex": self.bundle_log_index,
        }


@dataclass(frozen=True)
class _Target:
    requested: str
    ref: Reference  # pinned to the digest
    platform: str | None
    #: media type and size, when resolving a tag already asked the registry for them
    descriptor: DescriptorLike | None = None


@dataclass(frozen=True)
class ServicePlan:
    """The services a sign run uses, resolved from the signing config and overrides."""

    fulcio_url: str
    bundle_logs: tuple[Any, ...]  # signer.signing.bundles.LogService
    legacy_rekor_url: str | None  # Rekor v1 for the .sig (needs a SET)
    tsa_urls: tuple[str, ...]


def plan_services(options: SignOptions) -> ServicePlan:
    """Which Fulcio, logs and timestamp authorities to use (see the module docstring)."""
    from signer.signing.bundles import LogService

    # A key signature kept out of the log contacts no public service unless asked to.
    private = options.key is not None and not options.tlog_upload
    explicit = options.signing_config is None and (options.fulcio_url or options.rekor_url
                                                   or private)
    if explicit:
        rekor = options.rekor_url or PUBLIC_GOOD_REKOR_URL
        named = (options.timestamp_server_url,) if options.timestamp_server_url else ()
        return ServicePlan(options.fulcio_url or PUBLIC_GOOD_FULCIO_URL,
                           (LogService(rekor, 1),) if options.tlog_upload else (),
                           rekor if options.tlog_upload else None, named)
    from signer.signing_config import load_default

    config = options.signing_config or load_default()
    configured_fulcio = config.fulcio()
    fulcio = options.fulcio_url or (configured_fulcio.url if configured_fulcio else None)
    if fulcio is None and options.key is None:
        raise UsageError(f"{config.source} names no Fulcio valid now",
                         hint="pass --fulcio-url or another --signing-config")
    logs: tuple[LogService, ...]
    if options.rekor_url:
        logs = (LogService(options.rekor_url, 1),)
        legacy: str | None = options.rekor_url
    else:
        logs = tuple(LogService(s.url, s.major_api_version) for s in config.rekor_logs())
        v1 = config.rekor_v1()
        legacy = v1.url if v1 else None
    if options.timestamp_server_url:
        tsas: tuple[str, ...] = (options.timestamp_server_url,)
    else:
        tsas = tuple(s.url for s in config.timestamp_authorities())
    if not options.tlog_upload:
        logs, legacy = (), None
    elif not logs:
        raise UsageError(f"{config.source} names no transparency log valid now",
                         hint="pass --rekor-url or another --signing-config")
    return ServicePlan(fulcio or PUBLIC_GOOD_FULCIO_URL, logs, legacy, tsas)


def _validate(options: SignOptions) -> None:
    if options.signature_format not in SIGNATURE_FORMATS:
        raise UsageError(f"unknown signature format {options.signature_format!r}",
                         hint="use one of: " + ", ".join(SIGNATURE_FORMATS))
    if not options.tlog_upload and options.key is None:
        raise UsageError("--tlog-upload=false is only allowed with --key",
                         hint="keyless signatures must be logged in Rekor")
    if options.key is not None and options.identity_token:
        raise UsageError("--key and --identity-token exclude each other")
    for name in options.annotations:
        if not name:
            raise UsageError("annotation keys must not be empty")
    if options.attestation is not None and options.signature_format != "bundle" \
            and not options.tlog_upload:
        raise UsageError("cosign v2's .att attestation needs a transparency-log entry",
                         hint="use --signature-format bundle with --tlog-upload=false")


def _platform(entry: Mapping[str, Any]) -> str | None:
    platform = entry.get("platform")
    if not isinstance(platform, dict):
        return None
    parts = [platform.get("os"), platform.get("architecture"), platform.get("variant")]
    return "/".join(p for p in parts if isinstance(p, str) and p) or None


def _targets(store: RegistryStore, text: str | Reference, recursive: bool) -> list[_Target]:
    """The digest references to sign for one named image."""
    import json

    from signer.registry.mediatypes import is_index

    ref = parse_reference(text) if isinstance(text, str) else text
    requested = str(text)
    descriptor = None
    if ref.digest is not None:
        digest = ref.digest
    else:  # the tag's HEAD also gives what a referrer's subject needs
        descriptor = store.head_manifest(ref)
        if descriptor is None:
            raise ImageNotFoundError(f"image not found: {ref.name}",
                                     hint="check the repository and tag")
        digest = descriptor.digest
    pinned = ref.with_digest(digest)
    targets = [_Target(requested, pinned, None, descriptor)]
    if not recursive:
        return targets
    manifest = store.get_manifest(pinned)
    if not is_index(manifest.media_type):
        return targets
    try:
        children = json.loads(manifest.data).get("manifests") or []
    except (ValueError, AttributeError, RecursionError):
        raise InputError(f"the index {pinned} is not valid JSON") from None
    for child in children:
        child_digest = child.get("digest") if isinstance(child, dict) else None
        if not isinstance(child_digest, str):
            raise InputError(f"the index {pinned} has a manifest entry without a digest")
        targets.append(_Target(requested, ref.with_digest(child_digest), _platform(child)))
    return targets


def _signature_repository(options: SignOptions, ref: Reference) -> Reference:
    if not options.signature_repository:
        return ref.repository_only()
    override = parse_reference(options.signature_repository)
    if override.tag or override.digest:
        raise UsageError(f"signature repository {options.signature_repository} must not have "
                         "a tag or digest")
    return override


def _signer_identity(options: SignOptions, trust: TrustedRoot,
                     fulcio_url: str) -> SignerIdentity:
    from signer.signing.identity import key_identity, keyless_identity

    if options.key is not None:
        return key_identity(options.key)
    from signer.oidc import resolve_identity_token
    from signer.services.fulcio import FulcioClient

    started = time.perf_counter()
    token = resolve_identity_token(options.identity_token, ca_bundle=options.ca_bundle)
    token_seconds = time.perf_counter() - started
    fulcio = FulcioClient(fulcio_url, ca_bundle=options.ca_bundle,
                          attempts=options.service_attempts, backoff=options.service_backoff)
    try:
        identity = keyless_identity(token, fulcio, trust)
    finally:
        fulcio.close()
    identity.timings["token"] = token_seconds
    return identity


def _same_signer(identity: SignerIdentity) -> Any:
    """A check 'this existing signature verifies with our key' for dedupe."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    public_key = identity.key.public_key()

    def verifies(payload: bytes, signature: bytes) -> bool:
        try:
            if isinstance(public_key, ec.EllipticCurvePublicKey):
                public_key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
            elif isinstance(public_key, rsa.RSAPublicKey):
                public_key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
            else:
                return False
        except InvalidSignature:
            return False
        return True

    return verifies


def _sign_legacy(store: RegistryStore, target: _Target, identity: SignerIdentity,
                 options: SignOptions, trust: TrustedRoot, rekor: Any,
                 predicate: Any = None,
                 before_publish: Callable[[], None] = lambda: None) -> SignResult:
    """The cosign v2 ``.sig`` signature of one manifest; with ``options.attestation`` the
    layer of its ``.att`` image instead (:func:`_attestation_layer`). ``before_publish``
    runs once it is signed and logged, before anything is written to the registry."""
    from signer.formats.legacy import (
        SIMPLE_SIGNING_MEDIA_TYPE,
        SignatureLayer,
        build_simple_signing_payload,
        signature_annotations,
        signature_tag,
    )
    from signer.http import display_url
    from signer.keys import sign_payload
    from signer.signing.publish import publish_signature
    from signer.signing.transparency import log_signature

    timings: dict[str, float] = {}
    started = time.perf_counter()
    digest = target.ref.digest
    assert digest is not None
    entry: Any = None
    if options.attestation is not None:
        layer, entry = _attestation_layer(target, identity, options.attestation, predicate,
                                          trust, rekor, timings)
        tag = signature_tag(digest, "att")
    else:
        payload = build_simple_signing_payload(target.ref.repository_name, digest,
                                               dict(options.annotations) or None)
        signature = sign_payload(identity.key, payload)
        timings["crypto"] = time.perf_counter() - started
        if rekor is not None:
            rekor_started = time.perf_counter()
            certificate = identity.certificate.leaf if identity.certificate else None
            entry = log_signature(rekor, trust, payload=payload, signature=signature,
                                  verifier_pem=identity.verifier_pem, certificate=certificate)
            timings["rekor"] = time.perf_counter() - rekor_started
        annotations = signature_annotations(
            signature,
            certificate_pem=identity.certificate.leaf_pem if identity.certificate else None,
            chain_pem=identity.certificate.chain_pem if identity.certificate else None,
            rekor_bundle=entry.rekor_bundle() if entry else None,
        )
        layer = SignatureLayer(payload, SIMPLE_SIGNING_MEDIA_TYPE, annotations)
        tag = signature_tag(digest)
    signature_ref = _signature_repository(options, target.ref).with_tag(tag)
    # printed and written to outputs: never with credentials a --rekor-url may carry
    entry_url = display_url(rekor.entry_url(entry.uuid)) if entry is not None else None
    before_publish()
    registry_started = time.perf_counter()
    try:
        published = publish_signature(store, signature_ref, layer,
                                      same_signer=_same_signer(identity),
                                      attempts=options.publish_attempts,
                                      settle_seconds=options.settle_seconds)
    except Error as error:
        if entry_url is None:
            raise
        raise SigningError(
            f"the signature is logged in Rekor but pushing it to {signature_ref} failed: "
            f"{error.message}",
            hint=f"the Rekor entry is {entry_url}; fix the registry access and sign again",
            exit_code=error.exit_code) from None
    timings["registry"] = time.perf_counter() - registry_started
    return SignResult(
        reference=target.requested,
        digest=digest,
        signed_reference=f"{target.ref.repository_name}@{digest}",
        signature_ref=f"{signature_ref.repository_name}:{tag}",
        signature_tag=tag,
        signature_manifest_digest=published.manifest_digest,
        added=published.added,
        log_index=entry.log_index if entry else None,
        entry_uuid=entry.uuid if entry else None,
        entry_url=entry_url,
        integrated_time=entry.integrated_time if entry else None,
        identity=identity.identity,
        issuer=identity.issuer,
        platform=target.platform,
        formats=("legacy",),
        timings=timings,
    )


def _attestation_layer(target: _Target, identity: SignerIdentity, attestation: Attestation,
                       predicate: Any, trust: TrustedRoot, rekor: Any,
                       timings: dict[str, float]) -> tuple[Any, Any]:
    """cosign v2's ``.att`` layer of one manifest, as ``cosign attest`` writes it: the
    DSSE envelope over the statement as the blob, logged in Rekor v1 as a ``dsse`` entry
    (cosign's default entry type), the certificate, chain, SET bundle and predicate type
    as annotations. The layer is verified offline, read as the bundle it amounts to,
    before it is returned: (layer, Rekor entry)."""
    import json

    from signer.formats.attestation import Subject as StatementSubject
    from signer.formats.bundle import IN_TOTO_PAYLOAD_TYPE, pae
    from signer.formats.bundle_write import dsse_envelope
    from signer.formats.legacy import DSSE_MEDIA_TYPE, SignatureLayer, signature_annotations
    from signer.formats.legacy_attestation import attestation_layer_bundle
    from signer.keys import sign_payload
    from signer.services.rekor import dsse_proposal
    from signer.signing.bundles import check_bundle
    from signer.signing.transparency import expected_dsse_uuid

    digest = target.ref.digest
    assert digest is not None
    if rekor is None:
        raise UsageError("a .att attestation needs a Rekor v1 entry (its SET)",
                         hint="use --signature-format bundle")
    started = time.perf_counter()
    statement = attestation.statement(StatementSubject(target.ref.repository_name, digest),
                                      predicate)
    signature = sign_payload(identity.key, pae(IN_TOTO_PAYLOAD_TYPE, statement))
    envelope = dsse_envelope(statement, signature)
    timings["crypto"] = time.perf_counter() - started
    started = time.perf_counter()
    entry = rekor.create_entry(dsse_proposal(envelope, identity.verifier_pem),
                               expected_uuid=expected_dsse_uuid(envelope, statement, signature,
                                                                identity.verifier_pem))
    timings["rekor"] = time.perf_counter() - started
    blob = json.dumps({"payloadType": envelope["payloadType"], "payload": envelope["payload"],
                       "signatures": [{"keyid": "", "sig": envelope["signatures"][0]["sig"]}]},
                      separators=(",", ":")).encode()
    annotations = dict(signature_annotations(
        b"", certificate_pem=identity.certificate.leaf_pem if identity.certificate else None,
        chain_pem=identity.certificate.chain_pem if identity.certificate else None,
        rekor_bundle=entry.rekor_bundle()))
    annotations["predicateType"] = attestation.predicate_type
    layer = SignatureLayer(blob, DSSE_MEDIA_TYPE, annotations)
    check_bundle(attestation_layer_bundle(layer), identity, trust,
                 bytes.fromhex(digest.partition(":")[2]), require_tlog=True)
    return layer, entry


def _sign_bundle(store: RegistryStore, target: _Target, identity: SignerIdentity,
                 options: SignOptions, trust: TrustedRoot, services: Any,
                 predicate: Any = None,
                 before_publish: Callable[[], None] = lambda: None,
                 config_blobs: ConfigBlobs | None = None) -> SignResult:
    """The cosign v3 bundle referrer of one manifest; with ``options.attestation``, the
    attestation of ``predicate`` instead. ``before_publish`` runs once the bundle is
    made and checked, before the referrer is written; ``config_blobs`` is the run's
    record of the referrers' shared config blob."""
    import datetime

    from signer.formats.attestation import Subject as StatementSubject
    from signer.formats.bundle_write import COSIGN_SIGN_PREDICATE_TYPE, image_statement
    from signer.formats.referrer import Subject, created_annotation
    from signer.http import display_url
    from signer.signing.bundles import sign_statement_bundle
    from signer.signing.referrer_publish import publish_bundle_referrer

    digest = target.ref.digest
    assert digest is not None
    registry_started = time.perf_counter()
    head = target.descriptor or store.head_manifest(target.ref)
    if head is None:
        raise ImageNotFoundError(f"image not found: {target.ref.name}",
                                 hint="check the repository and digest")
    subject = Subject(head.media_type, head.size, digest)
    registry_seconds = time.perf_counter() - registry_started
    attestation = options.attestation
    if attestation is None:
        statement = image_statement(digest, options.annotations)
        predicate_type = COSIGN_SIGN_PREDICATE_TYPE
    else:
        statement = attestation.statement(
            StatementSubject(target.ref.repository_name, digest), predicate)
        predicate_type = attestation.predicate_type
    signed = sign_statement_bundle(identity, statement, digest, services, trust)
    repository = _signature_repository(options, target.ref)
    before_publish()
    registry_started = time.perf_counter()
    entry_url = display_url(signed.entry_urls[0]) if signed.entry_urls else None
    try:
        published = publish_bundle_referrer(
            store, repository, subject, signed.data,
            predicate_type=predicate_type,
            created=created_annotation(datetime.datetime.now(datetime.timezone.utc)),
            attempts=options.publish_attempts, settle_seconds=options.settle_seconds,
            config_blobs=config_blobs)
    except Error as error:
        if entry_url is None:
            raise
        raise SigningError(
            f"the bundle is logged but storing it as a referrer of {target.ref.name} failed: "
            f"{error.message}",
            hint=f"the log entry is {entry_url}; fix the registry access and sign again",
            exit_code=error.exit_code) from None
    timings = dict(signed.timings)
    timings["registry"] = registry_seconds + time.perf_counter() - registry_started
    result = SignResult(
        reference=target.requested, digest=digest,
        signed_reference=f"{target.ref.repository_name}@{digest}",
        signature_ref=published.manifest_ref,
        signature_tag=published.index_tag or "",
        signature_manifest_digest=published.manifest_digest, added=True,
        log_index=signed.log_index, entry_url=entry_url,
        identity=identity.identity, issuer=identity.issuer, platform=target.platform,
        formats=("bundle",), timings=timings)
    result.bundle = signed.data
    result.referrer_ref = published.manifest_ref
    result.referrer_index_tag = published.index_tag
    result.bundle_log_index = signed.log_index
    return result


def _with_bundle(legacy: SignResult, bundle: SignResult) -> SignResult:
    """The ``.sig`` result ``legacy`` with the bundle referrer of ``bundle`` added."""
    for name, seconds in bundle.timings.items():
        legacy.timings[name] = legacy.timings.get(name, 0.0) + seconds
    legacy.bundle = bundle.bundle
    legacy.referrer_ref = bundle.referrer_ref
    legacy.referrer_index_tag = bundle.referrer_index_tag
    legacy.bundle_log_index = bundle.bundle_log_index
    legacy.formats = (*legacy.formats, *bundle.formats)
    return legacy


def _sign_both(store: RegistryStore, target: _Target, identity: SignerIdentity,
               options: SignOptions, trust: TrustedRoot, rekor: Any, services: Any,
               predicate: Any, helper: ThreadPoolExecutor,
               config_blobs: ConfigBlobs) -> SignResult:
    """The ``.sig`` and the bundle referrer of one manifest, made concurrently (their
    signatures, log entries and registry writes are independent; ``helper`` runs the
    bundle's half). Neither is published until both are signed and logged: if either
    side fails before that, the other writes nothing and the first failure (the
    ``.sig``'s before the bundle's) is raised."""
    both_logged = threading.Barrier(2)

    def gate() -> None:
        both_logged.wait()

    def side(work: Callable[[Callable[[], None]], SignResult]) -> SignResult:
        try:
            return work(gate)
        except BaseException:
            both_logged.abort()  # the other side must not publish
            raise

    bundle_future = helper.submit(side, lambda gate: _sign_bundle(
        store, target, identity, options, trust, services, predicate, gate, config_blobs))
    try:
        legacy = side(lambda gate: _sign_legacy(store, target, identity, options, trust,
                                                rekor, predicate, gate))
    except threading.BrokenBarrierError:
        bundle_future.result()  # raises the bundle side's failure, which broke the barrier
        raise
    except BaseException:
        wait([bundle_future])  # nothing may still run once this image's failure is raised
        raise
    return _with_bundle(legacy, bundle_future.result())


def _sign_one(store: RegistryStore, target: _Target, identity: SignerIdentity,
              options: SignOptions, trust: TrustedRoot, rekor: Any,
              services: Any, predicate: Any, helper: ThreadPoolExecutor,
              config_blobs: ConfigBlobs) -> SignResult:
    if options.signature_format == "both":
        return _sign_both(store, target, identity, options, trust, rekor, services,
                          predicate, helper, config_blobs)
    if options.signature_format == "legacy":
        return _sign_legacy(store, target, identity, options, trust, rekor, predicate)
    return _sign_bundle(store, target, identity, options, trust, services, predicate,
                        config_blobs=config_blobs)


def sign_images(store: RegistryStore, references: Sequence[str | Reference],
                options: SignOptions | None = None) -> list[SignResult]:
    """Sign every image in ``references``; return one result per manifest signed.

    Tags are resolved to digests first (an unknown image raises
    :class:`signer.errors.ImageNotFoundError`, exit 11). All images share one
    signer identity (one token and one certificate for keyless signing). Work is
    spread over a thread pool; if any image fails, the first failure (in input
    order) is raised after all others finished. Nothing is pushed for an image
    whose Fulcio, timestamp or log step failed (in ``both`` mode: for either format).
    """
    options = options or SignOptions()
    _validate(options)
    if not references:
        raise UsageError("no image to sign")
    from signer.services.rekor import RekorClient
    from signer.trust import load_default

    trust = options.trusted_root or load_default()
    registry_started = time.perf_counter()
    workers = max(1, min(options.max_workers, len(references)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        resolved = [pool.submit(_targets, store, ref, options.recursive) for ref in references]
        target_lists = [future.result() for future in resolved]
    resolve_seconds = (time.perf_counter() - registry_started) / max(1, len(references))
    targets = [target for group in target_lists for target in group]
    plan = plan_services(options)
    legacy = options.signature_format in ("both", "legacy")
    if legacy and options.tlog_upload and plan.legacy_rekor_url is None:
        raise UsageError("the legacy .sig format needs a Rekor v1 log (for its SET), and the "
                         "signing config names none",
                         hint="use --signature-format bundle, or pass --rekor-url")
    from signer.signing.bundles import BundleServices
    from signer.signing.referrer_publish import ConfigBlobs

    services = BundleServices(plan.bundle_logs, plan.tsa_urls, ca_bundle=options.ca_bundle,
                              attempts=options.service_attempts,
                              backoff=options.service_backoff) \
        if options.signature_format != "legacy" else None
    rekor = None
    try:
        identity = _signer_identity(options, trust, plan.fulcio_url)
        rekor = RekorClient(plan.legacy_rekor_url, ca_bundle=options.ca_bundle,
                            attempts=options.service_attempts,
                            backoff=options.service_backoff) \
            if legacy and plan.legacy_rekor_url else None
        # one predicate for every image (provenance describes the run, not the image)
        predicate = (options.attestation.predicate_for(identity)
                     if options.attestation is not None else None)
        workers = max(1, min(options.max_workers, len(targets)))
        # ``helper`` runs the bundle half of each image in ``both`` mode (_sign_both)
        with ThreadPoolExecutor(max_workers=workers) as pool, \
                ThreadPoolExecutor(max_workers=workers) as helper:
            config_blobs = ConfigBlobs()  # the referrers' {} blob: once per repository
            futures = [pool.submit(_sign_one, store, target, identity, options, trust, rekor,
                                   services, predicate, helper, config_blobs)
                       for target in targets]
            outcomes: list[SignResult | Error] = []
            for future in futures:
                try:
                    outcomes.append(future.result())
                except Error as error:
                    outcomes.append(error)
    finally:
        if rekor is not None:
            rekor.close()
        if services is not None:
            services.close()
    for outcome in outcomes:
        if isinstance(outcome, Error):
            raise outcome
    results = [outcome for outcome in outcomes if isinstance(outcome, SignResult)]
    # Shared work (tag resolution, token, Fulcio, certificate checks) is spread evenly.
    shared = {name: seconds / len(results) for name, seconds in identity.timings.items()}
    for result in results:
        result.timings["registry"] = result.timings.get("registry", 0.0) + resolve_seconds
        for name, seconds in shared.items():
            result.timings[name] = result.timings.get(name, 0.0) + seconds
    return results


def sign_blob(sha256: bytes, options: SignOptions | None = None, name: str = "") -> Any:
    """A messageSignature bundle v0.3 for a file whose SHA-256 is ``sha256``, as
    ``cosign sign-blob --bundle`` (v3) and ``sigstore sign`` write it; with
    ``options.attestation`` a DSSE bundle of the attestation whose subject is the file
    (``name`` and ``sha256``), as ``cosign attest-blob``. Returns the
    :class:`signer.signing.bundles.SignedBundle` (verified offline already)."""
    from signer.signing.bundles import sign_blob_bundle, sign_statement_bundle

    def make(identity: SignerIdentity, services: Any, trust: TrustedRoot) -> Any:
        attestation = (options or SignOptions()).attestation
        if attestation is None:
            return sign_blob_bundle(identity, sha256, services, trust)
        from signer.formats.attestation import Subject

        digest = f"sha256:{sha256.hex()}"
        statement = attestation.statement(Subject(name, digest),
                                          attestation.predicate_for(identity))
        return sign_statement_bundle(identity, statement, digest, services, trust)

    return _sign_one_bundle(options or SignOptions(), make)


def sign_statement(statement: bytes, digest: str, options: SignOptions | None = None) -> Any:
    """A DSSE bundle v0.3 over the in-toto ``statement`` given, byte for byte, one of
    whose subjects is ``digest`` (``sha256:<hex>``; see
    :func:`signer.formats.attestation.statement_subject_digest`), as ``sigstore attest``
    and ``cosign attest-blob --statement`` write it. Returns the verified
    :class:`signer.signing.bundles.SignedBundle`."""
    from signer.signing.bundles import sign_statement_bundle

    def make(identity: SignerIdentity, services: Any, trust: TrustedRoot) -> Any:
        return sign_statement_bundle(identity, statement, digest, services, trust)

    return _sign_one_bundle(options or SignOptions(), make)


def _sign_one_bundle(options: SignOptions,
                     make: Callable[[SignerIdentity, Any, TrustedRoot], Any]) -> Any:
    """Plan the services, get the signer identity and make one bundle with ``make``."""
    _validate(options)
    from signer.signing.bundles import BundleServices
    from signer.trust import load_default

    trust = options.trusted_root or load_default()
    plan = plan_services(options)
    services = BundleServices(plan.bundle_logs, plan.tsa_urls, ca_bundle=options.ca_bundle,
                              attempts=options.service_attempts,
                              backoff=options.service_backoff)
    try:
        identity = _signer_identity(options, trust, plan.fulcio_url)
        signed = make(identity, services, trust)
    finally:
        services.close()
    for name, seconds in identity.timings.items():
        signed.timings[name] = signed.timings.get(name, 0.0) + seconds
    return signed
