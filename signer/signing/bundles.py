"""Make Sigstore bundles v0.3, as cosign v3 and ``sigstore sign`` do (layer L4).

An image signature is a DSSE envelope around the in-toto statement of
:func:`signer.formats.bundle_write.image_statement`; a blob signature is a
messageSignature over the file's SHA-256. Then, for each service the signing config
selected: an RFC 3161 timestamp over the signature bytes per TSA, and one entry per
transparency log — Rekor v1 ``dsse`` 0.0.1 (DSSE) or ``hashedrekord`` 0.0.1 (blob),
with SET; Rekor v2 ``hashedrekord`` 0.0.2 over SHA-256 of the PAE (DSSE) or of the
blob, which requires a timestamp. Before anything is published the finished bundle
is verified offline against the trusted root, with our own identity as the policy:
certificate chain and SCT, every log entry's body, inclusion proof, checkpoint and
SET, every timestamp — so a service answering nonsense stops the run.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signer.errors import SigningError, UsageError, VerificationError
from signer.formats.bundle import IN_TOTO_PAYLOAD_TYPE, Bundle, pae, parse_bundle
from signer.formats.bundle_write import (
    bundle_json,
    dsse_envelope,
    image_statement,
    message_signature,
)
from signer.keys import sign_payload
from signer.services.rekor import RekorClient, dsse_proposal, hashedrekord_proposal
from signer.services.rekor_v2 import RekorV2Client, hashedrekord_v002_request
from signer.services.tsa import TimestampClient
from signer.signing.identity import SignerIdentity
from signer.signing.transparency import (
    bundle_tlog_entry,
    expected_dsse_uuid,
    expected_entry_uuid,
)
from signer.trust import TrustedRoot


@dataclass(frozen=True)
class LogService:
    """A transparency log to write to: its URL and major API version (1 or 2)."""

    url: str
    version: int


class BundleServices:
    """Open clients for the logs and timestamp authorities of one signing run."""

    def __init__(self, logs: Sequence[LogService], tsa_urls: Sequence[str], *,
                 ca_bundle: str | None = None, attempts: int = 3, backoff: float = 0.5) -> None:
        if any(log.version == 2 for log in logs) and not tsa_urls:
            raise UsageError("Rekor v2 needs a timestamp authority, and none is configured",
                             hint="name one with --timestamp-server-url or in the signing "
                             "config's tsaUrls")
        self.logs = tuple(logs)
        self._v1 = {log.url: RekorClient(log.url, ca_bundle=ca_bundle, attempts=attempts,
                                         backoff=backoff)
                    for log in logs if log.version == 1}
        self._v2 = {log.url: RekorV2Client(log.url, ca_bundle=ca_bundle, attempts=attempts,
                                           backoff=backoff)
                    for log in logs if log.version == 2}
        self._tsas = [TimestampClient(url, ca_bundle=ca_bundle, attempts=attempts,
                                      backoff=backoff) for url in tsa_urls]

    def close(self) -> None:
        """Release every client's connections."""
        for v1_client in self._v1.values():
            v1_client.close()
        for v2_client in self._v2.values():
            v2_client.close()
        for tsa in self._tsas:
            tsa.close()

    def timestamps(self, signature: bytes) -> list[bytes]:
        """One timestamp over ``signature`` from each configured authority."""
        return [tsa.timestamp(signature) for tsa in self._tsas]

    def rekor_v1(self, url: str) -> RekorClient:
        """The v1 client for ``url``."""
        return self._v1[url]

    def rekor_v2(self, url: str) -> RekorV2Client:
        """The v2 client for ``url``."""
        return self._v2[url]


@dataclass
class SignedBundle:
    """A finished, locally verified bundle and what the logs answered."""

    data: bytes
    log_entries: list[dict[str, Any]]
    entry_urls: list[str]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def log_index(self) -> int | None:
        """The first log entry's index (what is reported)."""
        return int(self.log_entries[0]["logIndex"]) if self.log_entries else None


def key_details(identity: SignerIdentity) -> str:
    """protobuf-specs' ``PublicKeyDetails`` name of the signing key (Rekor v2)."""
    key = identity.key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "PKIX_ECDSA_P256_SHA_256"
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size in (2048, 3072, 4096):
        return f"PKIX_RSA_PKCS1V15_{key.key_size}_SHA256"
    raise UsageError("Rekor v2 takes ECDSA P-256 or RSA 2048/3072/4096 keys only")


def _certificate_der(identity: SignerIdentity) -> bytes | None:
    if identity.certificate is None:
        return None
    return identity.certificate.leaf.public_bytes(serialization.Encoding.DER)


def _public_key_der(identity: SignerIdentity) -> bytes:
    return identity.key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _log(services: BundleServices, identity: SignerIdentity, *, signature: bytes,
         v2_digest: bytes, v1_proposal: Mapping[str, Any], v1_uuid: str | None
         ) -> tuple[list[dict[str, Any]], list[str]]:
    entries, urls = [], []
    for log in services.logs:
        if log.version == 1:
            client = services.rekor_v1(log.url)
            entry = client.create_entry(v1_proposal, expected_uuid=v1_uuid)
            entries.append(bundle_tlog_entry(entry))
            urls.append(client.entry_url(entry.uuid))
        else:
            request = hashedrekord_v002_request(
                v2_digest, signature, certificate_der=_certificate_der(identity),
                public_key_der=None if identity.certificate else _public_key_der(identity),
                key_details=key_details(identity))
            entries.append(services.rekor_v2(log.url).create_entry(request))
            urls.append(log.url)
    return entries, urls


def _finish(identity: SignerIdentity, services: BundleServices, trust: TrustedRoot, *,
            signature: bytes, entries: list[dict[str, Any]], urls: list[str],
            timestamps: list[bytes], content: dict[str, Any], sha256: bytes,
            timings: dict[str, float]) -> SignedBundle:
    data = bundle_json(
        certificate_der=_certificate_der(identity),
        public_key_spki_der=None if identity.certificate else _public_key_der(identity),
        tlog_entries=entries, timestamps=timestamps, **content)
    started = time.perf_counter()
    check_bundle(data, identity, trust, sha256, require_tlog=bool(services.logs))
    timings["crypto"] = timings.get("crypto", 0.0) + time.perf_counter() - started
    return SignedBundle(data, entries, urls, timings)


def sign_image_bundle(identity: SignerIdentity, digest: str, annotations: Mapping[str, str],
                      services: BundleServices, trust: TrustedRoot) -> SignedBundle:
    """A DSSE bundle over the image statement of ``digest`` (``sha256:<hex>``)."""
    return sign_statement_bundle(identity, image_statement(digest, annotations), digest,
                                 services, trust)


def sign_statement_bundle(identity: SignerIdentity, statement: bytes, digest: str,
                          services: BundleServices, trust: TrustedRoot) -> SignedBundle:
    """A DSSE bundle over an in-toto ``statement`` one of whose subjects is ``digest``
    (``sha256:<hex>``): an image signature, or an attestation of an image or a file."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    message = pae(IN_TOTO_PAYLOAD_TYPE, statement)
    signature = sign_payload(identity.key, message)
    envelope = dsse_envelope(statement, signature)
    timings["crypto"] = time.perf_counter() - started
    started = time.perf_counter()
    timestamps = services.timestamps(signature)
    timings["tsa"] = time.perf_counter() - started
    started = time.perf_counter()
    entries, urls = _log(services, identity, signature=signature,
                         v2_digest=hashlib.sha256(message).digest(),
                         v1_proposal=dsse_proposal(envelope, identity.verifier_pem),
                         v1_uuid=expected_dsse_uuid(envelope, statement, signature,
                                                    identity.verifier_pem))
    timings["rekor"] = time.perf_counter() - started
    subject = bytes.fromhex(digest.partition(":")[2])
    return _finish(identity, services, trust, signature=signature, entries=entries, urls=urls,
                   timestamps=timestamps, content={"dsse": envelope}, sha256=subject,
                   timings=timings)


def sign_blob_bundle(identity: SignerIdentity, sha256: bytes, services: BundleServices,
                     trust: TrustedRoot) -> SignedBundle:
    """A messageSignature bundle over a file whose SHA-256 is ``sha256``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    timings: dict[str, float] = {}
    started = time.perf_counter()
    key = identity.key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        signature = key.sign(sha256, ec.ECDSA(Prehashed(hashes.SHA256())))
    elif isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
        signature = key.sign(sha256, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    else:
        raise UsageError("sign-blob takes ECDSA P-256 or RSA keys only")
    timings["crypto"] = time.perf_counter() - started
    started = time.perf_counter()
    timestamps = services.timestamps(signature)
    timings["tsa"] = time.perf_counter() - started
    proposal = hashedrekord_proposal(signature, identity.verifier_pem, sha256.hex())
    started = time.perf_counter()
    entries, urls = _log(services, identity, signature=signature, v2_digest=sha256,
                         v1_proposal=proposal, v1_uuid=expected_entry_uuid(proposal))
    timings["rekor"] = time.perf_counter() - started
    return _finish(identity, services, trust, signature=signature, entries=entries, urls=urls,
                   timestamps=timestamps,
                   content={"message": message_signature(sha256, signature)},
                   sha256=sha256, timings=timings)


def check_bundle(data: bytes | Bundle, identity: SignerIdentity, trust: TrustedRoot,
                 sha256: bytes, *, require_tlog: bool) -> None:
    """Verify a bundle we made (its JSON, or a cosign ``.att`` layer read as one),
    offline, with our own identity as the policy."""
    from signer.digest import Digest
    from signer.verify.bundle import Artifact, BundleOptions, KeyPolicy, Policy, verify_bundle
    from signer.verify.policy import IdentityPolicy

    policy: Policy = (IdentityPolicy(identity=identity.identity, issuer=identity.issuer)
                      if identity.certificate is not None
                      else KeyPolicy(identity.key.public_key()))
    bundle = data if isinstance(data, Bundle) else parse_bundle(data)
    try:
        verify_bundle(bundle, Artifact.from_digest(Digest("sha256", sha256.hex())),
                      trust, policy, BundleOptions(require_tlog=require_tlog))
    except VerificationError as error:
        raise SigningError(f"the bundle we made does not verify: {error.message}",
                           hint="a log or timestamp authority answered data that does not "
                           "check out against the trusted root; nothing was published") from None
