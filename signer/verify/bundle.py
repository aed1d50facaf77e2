"""Verify Sigstore bundles (layer L2, pure): the checks `cosign verify-blob` and
sigstore-go make, offline, over a parsed :class:`signer.formats.bundle.Bundle`.

Order (each failure names its check):

1. **bundle** — shape the bundle version requires (v0.1: SET; v0.2+: inclusion proof
   with checkpoint; an inclusion proof always with its checkpoint; DSSE: exactly one
   signature; no self-signed certificate in the chain but the trusted root ending a
   complete path). Only the leaf of a bundle's certificate chain is used;
   intermediates come from the trusted root.
2. **TSA** — RFC 3161 timestamps over the signature (at most 32, no duplicates). As in
   sigstore-go, a timestamp no trusted authority verifies does not count (it is not an
   error by itself); it fails the bundle only when no other signed time exists.
3. **transparency log** — per entry of a log in the trusted root (entries of other logs
   are skipped, as sigstore-go does; at least one must verify): **SET** (Rekor v1)
   within the log key's ``validFor``; **inclusion proof** against a **checkpoint**
   signed by the log (Ed25519 C2SP notes for Rekor v2); the **log entry** body matches
   signature, key and artifact.
4. signed time — SET integrated times and TSA times (Rekor v2 has only TSA time);
   with ``require_tlog=False`` and none, the current time (as cosign).
5. **certificate chain** to a Fulcio CA at every signed time; **SCT**; **identity**.
6. **signature** over the artifact digest or the DSSE PAE; for DSSE the artifact
   **digest** must be an in-toto subject.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlparse

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from signer.certificates import is_self_signed
from signer.digest import Digest
from signer.errors import InputError, VerificationError
from signer.formats.bundle import (
    IN_TOTO_PAYLOAD_TYPE,
    Bundle,
    LegacyBlobBundle,
    TlogEntry,
    parse_statement,
)
from signer.keys import PublicKey, pem_blocks
from signer.trust import LogInstance, TrustedRoot
from signer.verify import tlog
from signer.verify.certs import certificate_identity
from signer.verify.chain import issued_by, verify_certificate_chain
from signer.verify.policy import IdentityPolicy
from signer.verify.sct import issuer_for_sct, verify_embedded_sct
from signer.verify.tsa import timestamp_verifier

__all__ = [
    "Artifact",
    "BundleOptions",
    "KeyPolicy",
    "Policy",
    "VerifiedBundle",
    "certificate_identity",
    "verify_bundle",
    "verify_legacy_blob_bundle",
]

_HASHES: Mapping[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
_PROTO_HASH_NAMES = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512",
                     "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}


def _fail(message: str, hint: str | None = None) -> VerificationError:
    return VerificationError(message, hint=hint)


# ----------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Artifact:
    """What was signed: the bytes, a re-readable stream of them, or only a digest."""

    data: bytes | None = None
    digest: Digest | None = None
    chunks: Callable[[], Iterable[bytes]] | None = None
    _cache: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> Artifact:
        """An artifact known by its content."""
        return cls(data=data)

    @classmethod
    def from_digest(cls, digest: Digest) -> Artifact:
        """An artifact known only by its digest."""
        return cls(digest=digest)

    @classmethod
    def from_chunks(cls, chunks: Callable[[], Iterable[bytes]]) -> Artifact:
        """An artifact read on demand: ``chunks()`` yields its bytes, each time anew.

        Large files are hashed in pieces instead of being held in memory.
        """
        return cls(chunks=chunks)

    @property
    def has_content(self) -> bool:
        """True if the bytes themselves (not only a digest) are available."""
        return self.data is not None or self.chunks is not None

    def content(self) -> bytes:
        """The artifact's bytes (for signature schemes that cannot use a digest)."""
        if self.data is not None:
            return self.data
        if self.chunks is not None:
            return b"".join(self.chunks())
        raise _fail("digest: the artifact itself is needed, not only its digest")

    def digest_bytes(self, algorithm: str) -> bytes | None:
        """The raw digest in ``algorithm`` (sha256/sha384/sha512), or None if unknown."""
        cached = self._cache.get(algorithm)
        if cached is not None:
            return cached
        if self.data is not None:
            cached = hashlib.new(algorithm, self.data).digest()
        elif self.chunks is not None:
            hasher = hashlib.new(algorithm)
            for chunk in self.chunks():
                hasher.update(chunk)
            cached = hasher.digest()
        elif self.digest is not None and self.digest.algorithm == algorithm:
            cached = bytes.fromhex(self.digest.hex)
        else:
            return None
        self._cache[algorithm] = cached
        return cached

    def describe(self) -> str:
        """A short description for messages."""
        if self.digest is not None:
            return str(self.digest)
        return f"sha256:{(self.digest_bytes('sha256') or b'').hex()}"


@dataclass(frozen=True)
class KeyPolicy:
    """Managed-key policy: the signature must verify with this public key."""

    key: PublicKey


Policy = IdentityPolicy | KeyPolicy


@dataclass(frozen=True)
class BundleOptions:
    """Switches matching cosign's ``--insecure-ignore-*`` flags and the image path."""

    require_tlog: bool = True
    require_sct: bool = True
    require_dsse: bool = False  # images signed by cosign v3 are always DSSE
    #: the clock used only when the tlog is not required and no signed time exists
    #: (cosign uses the current time then); tests pin it
    now: datetime | None = None

    def current_time(self) -> datetime:
        """``now``, or the current UTC time."""
        return self.now or datetime.now(timezone.utc)


@dataclass(frozen=True)
class VerifiedBundle:
    """What a successful verification established."""

    signed_times: tuple[datetime, ...]
    certificate: x509.Certificate | None
    identity: str | None
    issuer: str | None
    statement: dict[str, Any] | None
    tlog_entries: tuple[TlogEntry, ...]


# ------------------------------------------------------------ small helpers


def _der(key: Any) -> bytes:
    der: bytes = key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def _b64decode(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise _fail(f"transparency log entry: {what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise _fail(f"transparency log entry: {what} is not base64") from None


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


class _Signer:
    """The signing key material: a certificate or a bare public key."""

    def __init__(self, certificate: x509.Certificate | None, key: Any):
        self.certificate = certificate
        self.key = key
        self._certificate_der = (certificate.public_bytes(serialization.Encoding.DER)
                                 if certificate is not None else None)
        self._key_der: bytes | None = None

    @property
    def key_der(self) -> bytes:
        """DER SubjectPublicKeyInfo of the signing key (computed once)."""
        if self._key_der is None:
            self._key_der = _der(self.key)
        return self._key_der

    def matches_pem(self, pem: bytes) -> bool:
        """True if a PEM certificate/key (as a log body holds it) is this signer.

        Compared by DER bytes: Rekor re-encodes PEM, so text never matches reliably.
        """
        try:
            blocks = pem_blocks(pem)
        except InputError:
            return False
        if not blocks:
            return False
        label, der = blocks[0]
        if label == "CERTIFICATE":
            return self._certificate_der is not None and der == self._certificate_der
        if label == "PUBLIC KEY" and self.certificate is None:
            if der == self.key_der:
                return True
            try:  # the same key in another valid encoding
                return _der(serialization.load_der_public_key(der)) == self.key_der
            except (ValueError, UnsupportedAlgorithm):
                return False
        return False

    def matches_der_certificate(self, der: bytes) -> bool:
        return self._certificate_der is not None and der == self._certificate_der

    def matches_der_key(self, der: bytes) -> bool:
        return self.certificate is None and der == self.key_der


def _verify_prehashed(key: Any, signature: bytes, digest: bytes, algorithm: str) -> bool:
    hash_type = _HASHES[algorithm]()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(Prehashed(hash_type)))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), Prehashed(hash_type))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


# --------------------------------------------------------- structure checks


def _check_structure(bundle: Bundle, options: BundleOptions) -> None:
    if bundle.certificate is None and bundle.public_key_hint is None:
        if bundle.chain_was_present:
            raise _fail("bundle: the certificate chain is empty")
        raise _fail("bundle: no certificate or public key in the verification material")
    if options.require_tlog and not bundle.tlog_entries:
        raise _fail("transparency log: the bundle has no transparency log entry")
    for entry in bundle.tlog_entries:
        proof = entry.inclusion_proof
        if proof is not None and proof.checkpoint is None:
            raise _fail("checkpoint: the inclusion proof has no checkpoint")
        if bundle.version >= (0, 2) or entry.is_rekor_v2:
            if proof is None:
                raise _fail("inclusion proof: the transparency log entry has no inclusion "
                            f"proof (required by bundle v{bundle.version[0]}."
                            f"{bundle.version[1]})")
        elif entry.signed_entry_timestamp is None:
            raise _fail("SET: a v0.1 bundle's log entry needs an inclusion promise (SET)")
    if bundle.dsse_envelope is not None and len(bundle.dsse_envelope.signatures) != 1:
        raise _fail("bundle: the DSSE envelope must hold exactly one signature, found "
                    f"{len(bundle.dsse_envelope.signatures)}")
    if options.require_dsse and bundle.dsse_envelope is None:
        raise _fail("bundle: bundle does not contain a DSSE envelope")


def _check_carried_roots(bundle: Bundle, trust: TrustedRoot) -> None:
    """No self-signed (root) certificate in a v0.1/v0.2 ``x509CertificateChain``.

    The chain adds no trust here (only the leaf is used), but the client policy of the
    bundle format forbids roots in it. One shape is tolerated because real producers
    wrote it (sigstore-js 1.x npm provenance): a complete, correctly linked path whose
    last certificate is exactly the root of a trusted certificate authority.
    """
    certs = [c for c in (bundle.certificate, *bundle.chain) if c is not None]
    roots = [i for i, cert in enumerate(certs) if is_self_signed(cert)]
    if not roots:
        return
    anchors = {a.root for a in trust.certificate_authorities}
    complete_path = (roots == [len(certs) - 1] and len(certs) > 1
                     and certs[-1] in anchors
                     and all(issued_by(child, parent)
                             for child, parent in itertools.pairwise(certs)))
    if not complete_path:
        raise _fail("bundle: the certificate chain contains a self-signed (root) certificate",
                    hint="a bundle carries the signing certificate (and at most "
                         "intermediates); trust anchors come only from the trusted root")


# -------------------------------------------------------- transparency log


def _verify_set(entry: TlogEntry, logs: Sequence[LogInstance]) -> datetime:
    when = datetime.fromtimestamp(entry.integrated_time, tz=timezone.utc)
    valid = [log for log in logs if log.valid_for.contains(when)]
    if not valid:
        raise _fail(f"SET: the log key is not valid at the integrated time "
                    f"{when:%Y-%m-%dT%H:%M:%SZ} in the trusted root")
    tlog.verify_set_with_any_key(entry.set_fields(), [log.key for log in valid])
    return when


def _host(url: str) -> str:
    parsed = urlparse(url if "//" in url else f"//{url}")
    return parsed.netloc or url


def _verify_inclusion(entry: TlogEntry, logs: Sequence[LogInstance]) -> None:
    proof = entry.inclusion_proof
    assert proof is not None and proof.checkpoint is not None
    if entry.is_rekor_v2 and proof.log_index != entry.log_index:
        raise _fail("inclusion proof: the proof's index differs from the entry's index")
    tlog.verify_inclusion(tlog.leaf_hash(entry.canonicalized_body), proof.log_index,
                          proof.tree_size, proof.hashes, proof.root_hash)
    checkpoint = tlog.parse_checkpoint(proof.checkpoint)
    last: VerificationError | None = None
    for log in logs:
        try:
            if isinstance(log.key, ed25519.Ed25519PublicKey):
                name = _host(log.base_url)
                if checkpoint.origin != name:
                    raise _fail(f"checkpoint: origin {checkpoint.origin!r} is not the log's "
                                f"{name!r}")
                # the C2SP key ID follows from the key and its name (signed-note spec)
                tlog.verify_checkpoint(checkpoint, log.key, name)
            else:
                tlog.verify_checkpoint(checkpoint, log.key)
            break
        except VerificationError as err:
            last = err
    else:
        assert last is not None
        raise last
    if not hmac.compare_digest(checkpoint.root_hash, proof.root_hash) or (
            checkpoint.tree_size != proof.tree_size):
        raise _fail("checkpoint: the checkpoint's root hash or size does not match the "
                    "inclusion proof")


# ----------------------------------------------------------- log entry body


def _check_body(entry: TlogEntry, bundle: Bundle, signer: _Signer, artifact: Artifact) -> None:
    body = entry.body()
    if body.get("kind") != entry.kind or body.get("apiVersion") != entry.version:
        raise _fail("log entry: the body's kind/apiVersion differ from the entry's "
                    f"{entry.kind}/{entry.version}")
    spec = body.get("spec")
    if not isinstance(spec, Mapping):
        raise _fail("log entry: the body has no spec")
    kind_version = (entry.kind, entry.version)
    if kind_version == ("hashedrekord", "0.0.1"):
        _check_hashedrekord_v001(spec, bundle, signer, artifact)
    elif kind_version == ("dsse", "0.0.1"):
        _check_dsse_v001(spec, bundle, signer)
    elif kind_version == ("intoto", "0.0.2"):
        _check_intoto_v002(spec, bundle, signer)
    elif kind_version == ("hashedrekord", "0.0.2"):
        _check_hashedrekord_v002(spec, bundle, signer, artifact)
    elif kind_version == ("dsse", "0.0.2"):
        _check_dsse_v002(spec, bundle, signer)
    else:
        raise _fail(f"log entry: unsupported entry kind {entry.kind} {entry.version}")


def _mismatch(what: str) -> VerificationError:
    return _fail(f"log entry: the transparency log entry's {what} does not match the bundle",
                 hint="the log entry is inconsistent with the signature, certificate or "
                      "artifact")


def _check_hashedrekord_v001(spec: Mapping[str, Any], bundle: Bundle, signer: _Signer,
                             artifact: Artifact) -> None:
    if bundle.message_signature is None:
        raise _fail("log entry: a hashedrekord entry needs a message signature bundle")
    if _b64decode(_get(spec, "signature", "content"), "signature") != bundle.signature:
        raise _mismatch("signature")
    if not signer.matches_pem(_b64decode(_get(spec, "signature", "publicKey", "content"),
                                         "public key")):
        raise _mismatch("public key or certificate")
    algorithm = _get(spec, "data", "hash", "algorithm")
    value = _get(spec, "data", "hash", "value")
    if algorithm not in _HASHES or not isinstance(value, str):
        raise _fail("log entry: unsupported hash in the hashedrekord entry")
    expected = artifact.digest_bytes(algorithm)
    if expected is None or expected.hex() != value.lower():
        raise _fail(f"digest: the log entry records {algorithm}:{value}, the artifact is "
                    f"{artifact.describe()}")


def _check_dsse_v001(spec: Mapping[str, Any], bundle: Bundle, signer: _Signer) -> None:
    envelope = bundle.dsse_envelope
    if envelope is None:
        raise _fail("log entry: a dsse entry needs a DSSE bundle")
    payload_hash = _get(spec, "payloadHash")
    if (_get(payload_hash, "algorithm") != "sha256"
            or _get(payload_hash, "value") != hashlib.sha256(envelope.payload).hexdigest()):
        raise _mismatch("payload hash")
    signatures = spec.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != len(envelope.signatures):
        raise _mismatch("signature list")
    for logged, ours in zip(signatures, envelope.signatures, strict=True):
        if _b64decode(_get(logged, "signature"), "signature") != ours.sig:
            raise _mismatch("signature")
        if not signer.matches_pem(_b64decode(_get(logged, "verifier"), "verifier")):
            raise _mismatch("verifier")


def _check_intoto_v002(spec: Mapping[str, Any], bundle: Bundle, signer: _Signer) -> None:
    envelope = bundle.dsse_envelope
    if envelope is None:
        raise _fail("log entry: an intoto entry needs a DSSE bundle")
    content = spec.get("content")
    payload_hash = _get(content, "payloadHash")
    if (_get(payload_hash, "algorithm") != "sha256"
            or _get(payload_hash, "value") != hashlib.sha256(envelope.payload).hexdigest()):
        raise _mismatch("payload hash")
    logged_envelope = _get(content, "envelope")
    if _get(logged_envelope, "payloadType") != envelope.payload_type:
        raise _mismatch("payload type")
    signatures = _get(logged_envelope, "signatures")
    if not isinstance(signatures, list) or len(signatures) != len(envelope.signatures):
        raise _mismatch("signature list")
    for logged, ours in zip(signatures, envelope.signatures, strict=True):
        # intoto v0.0.2 stores the envelope's base64 signature base64-encoded again
        inner = _b64decode(_get(logged, "sig"), "signature")
        try:
            sig = base64.b64decode(inner, validate=True)
        except (ValueError, binascii.Error):
            raise _mismatch("signature") from None
        if sig != ours.sig:
            raise _mismatch("signature")
        if not signer.matches_pem(_b64decode(_get(logged, "publicKey"), "public key")):
            raise _mismatch("public key")


def _check_v002_verifier(verifier: Any, signer: _Signer) -> None:
    cert_der = _get(verifier, "x509Certificate", "rawBytes")
    key_der = _get(verifier, "publicKey", "rawBytes")
    if cert_der is not None:
        if not signer.matches_der_certificate(_b64decode(cert_der, "certificate")):
            raise _mismatch("certificate")
    elif key_der is not None:
        if not signer.matches_der_key(_b64decode(key_der, "public key")):
            raise _mismatch("public key")
    else:
        raise _mismatch("verifier")


def _check_hashedrekord_v002(spec: Mapping[str, Any], bundle: Bundle, signer: _Signer,
                             artifact: Artifact) -> None:
    inner = spec.get("hashedRekordV002")
    algorithm = _PROTO_HASH_NAMES.get(str(_get(inner, "data", "algorithm")))
    digest = _b64decode(_get(inner, "data", "digest"), "digest")
    if algorithm is None:
        raise _fail("log entry: unsupported hash in the hashedrekord 0.0.2 entry")
    if _b64decode(_get(inner, "signature", "content"), "signature") != bundle.signature:
        raise _mismatch("signature")
    _check_v002_verifier(_get(inner, "signature", "verifier"), signer)
    if bundle.dsse_envelope is not None:
        expected: bytes | None = hashlib.new(algorithm, bundle.dsse_envelope.pae()).digest()
        if expected != digest:
            raise _mismatch("DSSE envelope digest")
        return
    expected = artifact.digest_bytes(algorithm)
    if expected is None or expected != digest:
        raise _fail(f"digest: the log entry records {algorithm}:{digest.hex()}, the artifact "
                    f"is {artifact.describe()}")


def _check_dsse_v002(spec: Mapping[str, Any], bundle: Bundle, signer: _Signer) -> None:
    envelope = bundle.dsse_envelope
    if envelope is None:
        raise _fail("log entry: a dsse entry needs a DSSE bundle")
    inner = spec.get("dsseV002")
    algorithm = _PROTO_HASH_NAMES.get(str(_get(inner, "payloadHash", "algorithm")))
    digest = _b64decode(_get(inner, "payloadHash", "digest"), "payload hash")
    if algorithm is None or hashlib.new(algorithm, envelope.payload).digest() != digest:
        raise _mismatch("payload hash")
    signatures = _get(inner, "signatures")
    if not isinstance(signatures, list) or len(signatures) != len(envelope.signatures):
        raise _mismatch("signature list")
    for logged, ours in zip(signatures, envelope.signatures, strict=True):
        if _b64decode(_get(logged, "content"), "signature") != ours.sig:
            raise _mismatch("signature")
        _check_v002_verifier(_get(logged, "verifier"), signer)


# ------------------------------------------------------------ signatures


def _check_message_signature(bundle: Bundle, signer: _Signer, artifact: Artifact) -> None:
    message = bundle.message_signature
    assert message is not None
    algorithm = _PROTO_HASH_NAMES.get(message.digest_algorithm or "SHA2_256")
    if algorithm is None:
        raise _fail(f"signature: unsupported message digest algorithm "
                    f"{message.digest_algorithm!r}")
    digest = artifact.digest_bytes(algorithm)
    if digest is None:
        raise _fail(f"digest: the bundle signs a {algorithm} digest but the artifact is given "
                    f"as {artifact.describe()}")
    if message.digest is not None and not hmac.compare_digest(message.digest, digest):
        raise _fail("digest: the bundle's message digest does not match the artifact",
                    hint="the bundle was made for a different file")
    key = signer.key
    if isinstance(key, ed25519.Ed25519PublicKey):
        if not artifact.has_content:
            raise _fail("signature: an Ed25519 signature needs the artifact, not its digest")
        ok = tlog.verify_signature(key, message.signature, artifact.content())
    else:
        ok = _verify_prehashed(key, message.signature, digest, algorithm)
    if not ok:
        raise _fail("signature: the signature over the artifact does not verify",
                    hint="the file, bundle or key do not belong together")


def _subject_matches(statement: Mapping[str, Any], artifact: Artifact) -> bool:
    for subject in statement.get("subject", []):
        digests = subject.get("digest", {})
        for algorithm, value in digests.items():
            if algorithm not in _HASHES or not isinstance(value, str):
                continue
            ours = artifact.digest_bytes(algorithm)
            # as bytes: a non-ASCII str would make compare_digest raise TypeError
            if ours is not None and hmac.compare_digest(ours.hex().encode(),
                                                        value.lower().encode()):
                return True
    return False


def _check_dsse(bundle: Bundle, signer: _Signer, artifact: Artifact | None) -> dict[str, Any]:
    envelope = bundle.dsse_envelope
    assert envelope is not None
    if not tlog.verify_signature(signer.key, envelope.signatures[0].sig, envelope.pae()):
        raise _fail("signature: the DSSE envelope signature does not verify",
                    hint="the envelope or the key/certificate was altered")
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise _fail(f"bundle: DSSE payload type {envelope.payload_type!r} is not in-toto")
    try:
        statement = parse_statement(envelope.payload)
    except InputError as err:
        raise _fail(err.message) from None
    if artifact is not None and not _subject_matches(statement, artifact):
        raise _fail(f"digest: the artifact digest {artifact.describe()} is not a subject of "
                    "the in-toto statement")
    return statement


# ------------------------------------------------------------- the driver


def _signer_for(bundle: Bundle, policy: Policy) -> _Signer:
    if isinstance(policy, KeyPolicy):
        if bundle.certificate is not None:
            raise _fail("bundle: the bundle holds a certificate; verify it with "
                        "--certificate-identity and --certificate-oidc-issuer, not --key")
        return _Signer(None, policy.key)
    if bundle.certificate is None:
        raise _fail("bundle: the bundle is signed with a key, not a certificate",
                    hint="pass the public key with --key")
    return _Signer(bundle.certificate, bundle.certificate.public_key())


def verify_bundle(bundle: Bundle, artifact: Artifact | None, trust: TrustedRoot,
                  policy: Policy, options: BundleOptions | None = None) -> VerifiedBundle:
    """Verify ``bundle`` for ``artifact`` under ``trust`` and ``policy``, offline.

    ``artifact`` may be None only for DSSE bundles (then no subject is required).
    Raises :class:`VerificationError` whose message starts with the failed check.
    """
    try:
        return _verify_bundle(bundle, artifact, trust, policy, options)
    except (ValueError, UnsupportedAlgorithm) as exc:  # cryptography parses lazily
        raise _fail(f"bundle: malformed certificate or signature data ({str(exc)[:100]})") \
            from None


def _verify_bundle(bundle: Bundle, artifact: Artifact | None, trust: TrustedRoot,
                   policy: Policy, options: BundleOptions | None) -> VerifiedBundle:
    options = options or BundleOptions()
    _check_structure(bundle, options)
    _check_carried_roots(bundle, trust)
    signer = _signer_for(bundle, policy)
    if artifact is None and bundle.message_signature is not None:
        raise _fail("digest: a message-signature bundle needs the artifact or its digest")

    # signed time: RFC 3161 timestamps, then the log entries
    tsa_times, tsa_problems = (
        timestamp_verifier(trust).verify_all(bundle.rfc3161_timestamps, bundle.signature)
        if bundle.rfc3161_timestamps else ([], []))
    set_times: list[datetime] = []
    unknown: list[TlogEntry] = []
    verified_entries: list[TlogEntry] = []
    for entry in bundle.tlog_entries:
        logs = trust.tlogs_for(entry.log_id)
        if not logs:
            unknown.append(entry)  # as sigstore-go: does not count, is not an error itself
            continue
        if not entry.is_rekor_v2 and entry.signed_entry_timestamp is not None:
            set_times.append(_verify_set(entry, logs))
        else:
            if not tsa_times:
                if tsa_problems:
                    raise _fail(tsa_problems[0])
                raise _fail("TSA: the log entry has no signed time, so a signed timestamp "
                            "is required", hint="Rekor v2 entries need an RFC 3161 timestamp")
            for when in tsa_times:
                if not any(log.valid_for.contains(when) for log in logs):
                    raise _fail("transparency log: the log key is not valid at the signed "
                                f"time {when:%Y-%m-%dT%H:%M:%SZ} in the trusted root")
        if entry.inclusion_proof is not None:
            _verify_inclusion(entry, logs)
        _check_body(entry, bundle, signer, artifact or Artifact())
        verified_entries.append(entry)
    if options.require_tlog and not verified_entries:
        raise _fail(f"transparency log: log ID {unknown[0].log_id.hex()[:16]}… is not in the "
                    "trusted root", hint="the entry comes from another Sigstore instance; "
                                         "check --trusted-root")
    times = tuple(tsa_times + set_times)

    identity = issuer = None
    if signer.certificate is not None:
        if not times and not options.require_tlog and not tsa_problems:
            times = (options.current_time(),)  # --insecure-ignore-tlog: as cosign does
        if not times:
            raise _fail(tsa_problems[0] if tsa_problems else
                        "signed time: no verified SET or RFC 3161 timestamp to check the "
                        "certificate against")
        path = None
        for when in times:
            path = verify_certificate_chain(signer.certificate, trust, when)
        assert path is not None
        if options.require_sct:
            verify_embedded_sct(signer.certificate, issuer_for_sct(path), trust)
        assert isinstance(policy, IdentityPolicy)
        identity, issuer = policy.check_bundle(signer.certificate)

    statement = None
    if bundle.message_signature is not None:
        assert artifact is not None
        _check_message_signature(bundle, signer, artifact)
    else:
        statement = _check_dsse(bundle, signer, artifact)
    return VerifiedBundle(times, signer.certificate, identity, issuer, statement,
                          tuple(verified_entries))


def verify_legacy_blob_bundle(legacy: LegacyBlobBundle, artifact: Artifact,
                              trust: TrustedRoot, policy: Policy,
                              options: BundleOptions | None = None) -> VerifiedBundle:
    """Verify cosign's legacy ``sign-blob --bundle`` JSON (SET-only Rekor v1 evidence)."""
    try:
        return _verify_legacy_blob_bundle(legacy, artifact, trust, policy, options)
    except (ValueError, UnsupportedAlgorithm) as exc:  # cryptography parses lazily
        raise _fail(f"bundle: malformed certificate or signature data ({str(exc)[:100]})") \
            from None


def _verify_legacy_blob_bundle(legacy: LegacyBlobBundle, artifact: Artifact,
                               trust: TrustedRoot, policy: Policy,
                               options: BundleOptions | None) -> VerifiedBundle:
    options = options or BundleOptions()
    if isinstance(policy, KeyPolicy):
        signer = _Signer(None, policy.key)
        if legacy.certificate is not None and (
                _der(legacy.certificate.public_key()) != _der(policy.key)):
            raise _fail("bundle: both a key and a certificate were given but they differ")
        if legacy.certificate is not None:
            signer = _Signer(legacy.certificate, policy.key)
    else:
        if legacy.certificate is None:
            raise _fail("bundle: the bundle has no certificate", hint="pass --key")
        signer = _Signer(legacy.certificate, legacy.certificate.public_key())
    rekor = legacy.rekor_bundle
    times: tuple[datetime, ...] = ()
    if rekor is None:
        if options.require_tlog:
            raise _fail("transparency log: the bundle has no Rekor bundle (SET)")
    else:
        log_id = bytes.fromhex(rekor.log_id) if re.fullmatch(r"[0-9a-f]{64}", rekor.log_id) \
            else b""
        logs = trust.tlogs_for(log_id)
        if not logs:
            raise _fail("transparency log: the Rekor bundle's log is not in the trusted root")
        entry = TlogEntry(rekor.log_index, log_id, "", "", rekor.integrated_time,
                          rekor.signed_entry_timestamp, None, b"", rekor.body)
        times = (_verify_set(entry, logs),)
        body = rekor.decoded_body()
        kind, spec = body.get("kind"), body.get("spec")
        if kind not in ("hashedrekord", "rekord") or body.get("apiVersion") != "0.0.1" \
                or not isinstance(spec, Mapping):
            raise _fail(f"log entry: unsupported entry kind {kind!r} version "
                        f"{body.get('apiVersion')!r} for a blob signature")
        if _b64decode(_get(spec, "signature", "content"), "signature") != legacy.signature:
            raise _mismatch("signature")
        if not signer.matches_pem(_b64decode(_get(spec, "signature", "publicKey", "content"),
                                             "public key")):
            raise _mismatch("public key or certificate")
        algorithm = _get(spec, "data", "hash", "algorithm")
        value = _get(spec, "data", "hash", "value")
        expected = artifact.digest_bytes(algorithm) if algorithm in _HASHES else None
        if expected is None or not isinstance(value, str) or expected.hex() != value.lower():
            raise _fail(f"digest: the log entry records {algorithm}:{value}, the artifact is "
                        f"{artifact.describe()}")
    identity = issuer = None
    if signer.certificate is not None and isinstance(policy, IdentityPolicy):
        if not times and not options.require_tlog:
            times = (options.current_time(),)  # --insecure-ignore-tlog: as cosign does
        if not times:
            raise _fail("signed time: no verified SET to check the certificate against")
        path = verify_certificate_chain(signer.certificate, trust, times[0])
        if options.require_sct:
            verify_embedded_sct(signer.certificate, issuer_for_sct(path), trust)
        identity, issuer = policy.check_bundle(signer.certificate)
    digest = artifact.digest_bytes("sha256")
    if digest is None:
        raise _fail("digest: a legacy blob bundle needs the artifact or its sha256 digest")
    if not _verify_prehashed(signer.key, legacy.signature, digest, "sha256"):
        raise _fail("signature: the signature over the artifact does not verify")
    return VerifiedBundle(times, signer.certificate, identity, issuer, None, ())
