"""Sign container images, keyless or with a key, as cosign does (layer L4).

Library entry point::

    from signer.registry.client import RegistryClient
    from signer.sign import SignOptions, sign_images

    with RegistryClient() as client:
        results = sign_images(client, ["ghcr.io/o/app:v1"], SignOptions())
    for r in results:
        print(r.digest, r.signature_ref, r.log_index, r.entry_url, r.identity)

``SignOptions()`` means keyless against public-good Fulcio/Rekor, checked with the
embedded public-good trusted root, the token found as :mod:`signer.oidc` describes.
``SignOptions(key=load_private_key(path, password))`` signs with a key instead.
Errors are :class:`signer.errors.Error` subclasses (``ImageNotFoundError``: exit 11).

Flow per image (DESIGN.md "Sign flow"): resolve the tag to a digest (digests are
signed, never tags); with ``recursive`` also every manifest of an index; build the
simple-signing payload (docker-reference = the repository); sign it (ECDSA P-256,
SHA-256); log it in Rekor and check the answer; append the layer to the ``.sig``
image. Keyless signing fetches one token and one Fulcio certificate per call and
checks the certificate before anything is published. Images are signed in a
thread pool so their network waits overlap.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from signer.errors import Error, InputError, SigningError, UsageError
from signer.keys import PrivateKey
from signer.reference import Reference, parse_reference
from signer.services import PUBLIC_GOOD_FULCIO_URL, PUBLIC_GOOD_REKOR_URL
from signer.signing.identity import SignerIdentity
from signer.signing.store import RegistryStore
from signer.trust import TrustedRoot


@dataclass(frozen=True)
class SignOptions:
    """How to sign. Defaults: keyless against the public-good Sigstore services."""

    key: PrivateKey | None = field(default=None, repr=False)  # key-based when set
    identity_token: str | None = field(default=None, repr=False)  # VALUE or @FILE
    fulcio_url: str = PUBLIC_GOOD_FULCIO_URL
    rekor_url: str = PUBLIC_GOOD_REKOR_URL
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


@dataclass
class SignResult:
    """One signed manifest."""

    reference: str  # what the caller named
    digest: str  # sha256:… of the manifest signed
    signed_reference: str  # repository@digest
    signature_ref: str  # repository:sha256-<hex>.sig (in the signature repository)
    signature_tag: str
    signature_manifest_digest: str
    added: bool  # False when an identical signature already existed
    log_index: int | None = None
    entry_uuid: str | None = None
    entry_url: str | None = None
    integrated_time: int | None = None
    identity: str | None = None  # certificate SAN (keyless)
    issuer: str | None = None  # OIDC issuer (keyless)
    platform: str | None = None  # for manifests reached through --recursive
    #: seconds per part: fulcio, rekor, registry, crypto, token (shared parts divided)
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
        }


@dataclass(frozen=True)
class _Target:
    requested: str
    ref: Reference  # pinned to the digest
    platform: str | None


def _validate(options: SignOptions) -> None:
    if not options.tlog_upload and options.key is None:
        raise UsageError("--tlog-upload=false is only allowed with --key",
                         hint="keyless signatures must be logged in Rekor")
    if options.key is not None and options.identity_token:
        raise UsageError("--key and --identity-token exclude each other")
    for name in options.annotations:
        if not name:
            raise UsageError("annotation keys must not be empty")


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
    digest = ref.digest or store.resolve_digest(ref)
    pinned = ref.with_digest(digest)
    targets = [_Target(requested, pinned, None)]
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


def _signer_identity(options: SignOptions, trust: TrustedRoot) -> SignerIdentity:
    from signer.signing.identity import key_identity, keyless_identity

    if options.key is not None:
        return key_identity(options.key)
    from signer.oidc import resolve_identity_token
    from signer.services.fulcio import FulcioClient

    started = time.perf_counter()
    token = resolve_identity_token(options.identity_token, ca_bundle=options.ca_bundle)
    token_seconds = time.perf_counter() - started
    fulcio = FulcioClient(options.fulcio_url, ca_bundle=options.ca_bundle,
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


def _sign_one(store: RegistryStore, target: _Target, identity: SignerIdentity,
              options: SignOptions, trust: TrustedRoot, rekor: Any) -> SignResult:
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
    payload = build_simple_signing_payload(target.ref.repository_name, digest,
                                           dict(options.annotations) or None)
    signature = sign_payload(identity.key, payload)
    timings["crypto"] = time.perf_counter() - started
    entry = None
    if options.tlog_upload:
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
        timings=timings,
    )


def sign_images(store: RegistryStore, references: Sequence[str | Reference],
                options: SignOptions | None = None) -> list[SignResult]:
    """Sign every image in ``references``; return one result per manifest signed.

    Tags are resolved to digests first (an unknown image raises
    :class:`signer.errors.ImageNotFoundError`, exit 11). All images share one
    signer identity (one token and one certificate for keyless signing). Work is
    spread over a thread pool; if any image fails, the first failure (in input
    order) is raised after all others finished. Nothing is pushed for an image
    whose Fulcio or Rekor step failed.
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
    identity = _signer_identity(options, trust)
    rekor = RekorClient(options.rekor_url, ca_bundle=options.ca_bundle,
                        attempts=options.service_attempts, backoff=options.service_backoff)
    try:
        workers = max(1, min(options.max_workers, len(targets)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_sign_one, store, target, identity, options, trust, rekor)
                       for target in targets]
            outcomes: list[SignResult | Error] = []
            for future in futures:
                try:
                    outcomes.append(future.result())
                except Error as error:
                    outcomes.append(error)
    finally:
        rekor.close()
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
