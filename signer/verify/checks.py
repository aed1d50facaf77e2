"""One function per verification check on a legacy cosign signature (layer L2).

Each check raises :class:`CheckFailed`, a :class:`VerificationError` that carries
the name of the check (``check``) and a message starting with it. The names are
those listed in :data:`CHECK_NAMES`, in cosign's order (docs/cosign-format.md §4.2).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from signer.certificates import (
    MalformedCertificateError,
    parse_pem_certificate,
    parse_pem_certificates,
)
from signer.errors import InputError, VerificationError
from signer.formats.legacy import RekorBundle, SignatureLayer, SimpleSigningClaims
from signer.keys import PublicKey, pem_blocks, public_key_der
from signer.reference import Reference
from signer.trust import TrustedRoot
from signer.verify import chain as chain_mod
from signer.verify import sct as sct_mod
from signer.verify import tlog, tsa
from signer.verify.policy import IdentityPolicy, SignedIdentityPolicy

CHECK_TIMESTAMP = "timestamp"
CHECK_TLOG = "transparency log"
CHECK_REKOR_BODY = "rekor body"
CHECK_CERTIFICATE = "certificate"
CHECK_CHAIN = "certificate chain"
CHECK_IDENTITY = "identity"
CHECK_SCT = "SCT"
CHECK_SIGNATURE = "signature"
CHECK_CLAIMS = "claims"
CHECK_VALIDITY = "certificate validity"
CHECK_SIGNED_IDENTITY = "signed identity"
#: not a check: the signature's material could not be read at all
CHECK_MALFORMED = "malformed"

#: every check, in the order they run
CHECK_NAMES = (CHECK_TIMESTAMP, CHECK_TLOG, CHECK_REKOR_BODY, CHECK_CERTIFICATE, CHECK_CHAIN,
               CHECK_IDENTITY, CHECK_SCT, CHECK_SIGNATURE, CHECK_CLAIMS, CHECK_VALIDITY,
               CHECK_SIGNED_IDENTITY)

#: a hash value in a Rekor body: hex digits only (anything else is hostile or broken)
_HEX = re.compile(r"[0-9a-fA-F]{1,128}")

#: how far in the future an integrated time may lie (clock skew)
MAX_CLOCK_SKEW_SECONDS = 300


class CheckFailed(VerificationError):
    """A named check failed on one signature."""

    def __init__(self, check: str, message: str, *, hint: str | None = None):
        text = message if message.startswith(f"{check}:") else f"{check}: {message}"
        super().__init__(text, hint=hint)
        self.check = check


def malformed(exc: BaseException) -> CheckFailed:
    """The failure of a signature whose material made a check raise ``exc``: an
    exception no check anticipated, on bytes an attacker may control. It fails that
    signature (naming only the exception type, never its text) and nothing else."""
    return CheckFailed(CHECK_MALFORMED, "the signature material is not in a form any check "
                                        f"can read ({type(exc).__name__})")


def _fail_from(check: str, err: VerificationError | InputError) -> CheckFailed:
    return CheckFailed(check, err.message, hint=err.hint)


def _utc_from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


# -- 1. signed timestamp (only with --use-signed-timestamps) --------------------------

def check_signed_timestamp(timestamp: bytes | None, signature: bytes,
                           trust: TrustedRoot) -> datetime:
    """The RFC 3161 timestamp annotation must verify over the raw signature bytes with a
    timestamp authority of the trusted root; return its time."""
    if timestamp is None:
        raise CheckFailed(CHECK_TIMESTAMP, "signature has no RFC 3161 timestamp annotation",
                          hint="drop --use-signed-timestamps for signatures made without a TSA")
    try:
        return tsa.verify_timestamps([timestamp], signature, trust)[0]
    except VerificationError as err:
        raise _fail_from(CHECK_TIMESTAMP, err) from None


# -- 2. transparency log --------------------------------------------------------------

def _pem_der(pem_text: bytes) -> bytes:
    """DER of the first PEM block (certificate or public key); ValueError if none."""
    try:
        blocks = pem_blocks(pem_text)
    except InputError:
        raise ValueError("PEM block is not base64") from None
    if not blocks:
        raise ValueError("not PEM")
    return blocks[0][1]


def rekor_body_fields(bundle: RekorBundle) -> tuple[bytes, bytes, str, str]:
    """(signature, key-or-certificate DER, hash algorithm, hash hex) of a Rekor body.

    Supports ``hashedrekord`` and ``rekord`` v0.0.1, the kinds image signatures use.
    """
    try:
        body = bundle.decoded_body()
    except InputError as err:
        raise _fail_from(CHECK_REKOR_BODY, err) from None
    kind, version = body.get("kind"), body.get("apiVersion")
    if kind not in ("hashedrekord", "rekord") or version != "0.0.1":
        # the only versions whose layout is read below (a later one differs)
        raise CheckFailed(CHECK_REKOR_BODY,
                          f"unsupported Rekor entry kind {kind!r} version {version!r}")
    try:
        spec = body["spec"]
        signature_b64 = spec["signature"]["content"]
        key_b64 = spec["signature"]["publicKey"]["content"]
        hash_obj = spec["data"]["hash"]
        algorithm, value = hash_obj["algorithm"], hash_obj["value"]
        signature = base64.b64decode(signature_b64, validate=True)
        key_der = _pem_der(base64.b64decode(key_b64, validate=True))
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise CheckFailed(CHECK_REKOR_BODY, f"malformed {kind} entry body") from None
    if not isinstance(algorithm, str) or not isinstance(value, str) or not _HEX.fullmatch(value):
        raise CheckFailed(CHECK_REKOR_BODY, f"malformed {kind} entry hash")
    return signature, key_der, algorithm, value.lower()


def check_rekor_body(
    bundle: RekorBundle,
    signature: bytes,
    payload: bytes,
    certificate: x509.Certificate | None,
    key: PublicKey | None,
) -> None:
    """The log entry must record this signature, this key or certificate (by DER) and
    the payload's sha256 (advisory GHSA-whqx-f9j3-ch6m)."""
    body_signature, body_key_der, algorithm, value = rekor_body_fields(bundle)
    if signature and not hmac.compare_digest(body_signature, signature):
        raise CheckFailed(CHECK_REKOR_BODY,
                          "the log entry's signature differs from the layer's signature")
    if certificate is not None and key is not None and public_key_der(
            key) != public_key_der(_cert_key(certificate)):
        raise CheckFailed(CHECK_REKOR_BODY,
                          "both a public key and a certificate were given and they differ")
    expected_der = (certificate.public_bytes(serialization.Encoding.DER)
                    if certificate is not None
                    else public_key_der(key) if key is not None else None)
    if expected_der is None or not hmac.compare_digest(body_key_der, expected_der):
        raise CheckFailed(
            CHECK_REKOR_BODY,
            "the log entry's " + ("certificate" if certificate is not None else "public key")
            + " differs from the one used to verify",
            hint="the entry was made by another signer (comparing public key PEMs failed)")
    if algorithm != "sha256":
        raise CheckFailed(CHECK_REKOR_BODY, f"unexpected hash algorithm {algorithm!r} "
                                            "in the log entry")
    actual = hashlib.sha256(payload).hexdigest()
    if not hmac.compare_digest(value, actual):
        raise CheckFailed(CHECK_REKOR_BODY,
                          f"matching bundle to payload: bundle={value}, payload={actual}")


def check_set(bundle: RekorBundle, trust: TrustedRoot, now: datetime) -> datetime:
    """Verify the SET with the trusted log named by the entry's log ID, valid at the
    integrated time; return that time."""
    integrated = _utc_from_unix(bundle.integrated_time)
    if (integrated - now).total_seconds() > MAX_CLOCK_SKEW_SECONDS:
        raise CheckFailed(CHECK_TLOG, f"integrated time {integrated:%Y-%m-%dT%H:%M:%SZ} "
                                      "is in the future")
    try:
        log_id = bytes.fromhex(bundle.log_id)
    except ValueError:
        raise CheckFailed(CHECK_TLOG, "the Rekor bundle's logID is not hex") from None
    logs = trust.tlogs_for(log_id, integrated)
    if not logs:
        known = trust.tlogs_for(log_id)
        raise CheckFailed(
            CHECK_TLOG,
            f"rekor log {bundle.log_id[:16]}… is not valid at the integrated time"
            if known else "rekor log public key not found for payload "
                          f"(log ID {bundle.log_id[:16]}…)",
            hint="the trusted root (or SIGSTORE_REKOR_PUBLIC_KEY) does not hold this log's key")
    try:
        tlog.verify_set_with_any_key(bundle, [log.key for log in logs])
    except VerificationError as err:
        raise CheckFailed(CHECK_TLOG, f"unable to verify SET ({err.message})",
                          hint=err.hint) from None
    return integrated


def layer_rekor_bundle(layer: SignatureLayer) -> RekorBundle | None:
    """The layer's parsed Rekor bundle annotation (None if absent)."""
    try:
        return layer.rekor_bundle
    except InputError as err:
        raise _fail_from(CHECK_TLOG, err) from None


def check_tlog_required(bundle: RekorBundle | None) -> RekorBundle:
    """Without --insecure-ignore-tlog a Rekor bundle annotation is required (offline)."""
    if bundle is None:
        raise CheckFailed(CHECK_TLOG, "signature not found in transparency log (no Rekor "
                                      "bundle on the signature, and no verified entry online)",
                          hint="without --offline, --rekor-url names the Rekor to ask; use "
                               "--insecure-ignore-tlog only if the signer did not log it")
    return bundle


# -- 3. certificate --------------------------------------------------------------------

def _cert_key(cert: x509.Certificate) -> PublicKey:
    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError):  # an unknown curve or algorithm OID
        raise CheckFailed(CHECK_CERTIFICATE,
                          "the certificate's key type is not supported") from None
    if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey,
                            ed25519.Ed25519PublicKey)):
        raise CheckFailed(CHECK_CERTIFICATE, "the certificate's key type is not supported")
    return key


def certificate_key(cert: x509.Certificate) -> PublicKey:
    """The certificate's public key (ECDSA, RSA or Ed25519)."""
    return _cert_key(cert)


def load_certificate(pem: bytes | None) -> x509.Certificate:
    """The layer's leaf certificate; keyless verification needs one."""
    if not pem:
        raise CheckFailed(CHECK_CERTIFICATE, "no certificate found on signature",
                          hint="keyless verification needs a certificate annotation; "
                               "use --key for key-signed images")
    try:
        return parse_pem_certificate(pem)
    except MalformedCertificateError:
        raise CheckFailed(CHECK_CERTIFICATE, "the certificate annotation is not a valid "
                                             "PEM certificate") from None


def load_chain(pem: bytes | None) -> list[x509.Certificate]:
    """The chain annotation's certificates (intermediates, then root); may be empty."""
    if not pem or not pem.strip():
        return []
    try:
        return parse_pem_certificates(pem)
    except MalformedCertificateError:
        raise CheckFailed(CHECK_CHAIN, "the chain annotation is not valid PEM") from None


def check_certificate_chain(
    cert: x509.Certificate, chain_pem: bytes | None, trust: TrustedRoot,
    signed_at: Sequence[datetime] = (),
) -> list[x509.Certificate]:
    """Path-validate the leaf to a Fulcio CA of the trusted root at its notBefore (as
    cosign), from a CA whose ``validFor`` also contains every ``signed_at`` time.

    With a trusted root the chain annotation (``chain_pem``) is ignored: the path
    comes from one authority's own ``certChain``. Only legacy roots given without
    intermediates take intermediates from it, as cosign does: when it holds more
    than one certificate, all but the last (the root); its first certificate must
    then be the leaf's issuer (a tampered chain is refused).
    """
    carried: list[x509.Certificate] = []
    if chain_mod.accepts_carried_intermediates(trust):
        chain = load_chain(chain_pem)
        if chain and cert.issuer != chain[0].subject:
            raise CheckFailed(CHECK_CHAIN, "the chain annotation does not start with the "
                                           "certificate's issuer")
        if chain and not chain_mod.issued_by(cert, chain[0]):
            raise CheckFailed(CHECK_CHAIN, "the certificate is not signed by the first "
                                           "certificate of the chain annotation")
        carried = chain[:-1] if len(chain) > 1 else []
    try:
        return chain_mod.verify_certificate_chain(cert, trust, cert.not_valid_before_utc,
                                                  carried=carried, signed_at=signed_at)
    except VerificationError as err:
        raise _fail_from(CHECK_CHAIN, err) from None


def check_identity(cert: x509.Certificate, policy: IdentityPolicy) -> None:
    """The certificate's SANs, issuer and GitHub extensions must match the policy."""
    try:
        policy.check(cert)
    except VerificationError as err:
        raise _fail_from(CHECK_IDENTITY, err) from None


def check_sct(cert: x509.Certificate, path: Sequence[x509.Certificate],
              trust: TrustedRoot) -> None:
    """An embedded SCT must verify with a CT log of the trusted root."""
    try:
        sct_mod.verify_embedded_sct(cert, sct_mod.issuer_for_sct(list(path)), trust)
    except VerificationError as err:
        raise _fail_from(CHECK_SCT, err) from None


# -- 4. signature ----------------------------------------------------------------------

def layer_signature(layer: SignatureLayer) -> bytes:
    """The raw signature of a layer; line breaks are ignored, as Go's base64 does."""
    text = layer.signature_b64.replace("\r", "").replace("\n", "")
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise CheckFailed(CHECK_SIGNATURE, "signature annotation is not valid base64") from None


def _ecdsa_hashes(key: ec.EllipticCurvePublicKey, any_hash: bool) -> list[hashes.HashAlgorithm]:
    if not any_hash:
        return [hashes.SHA256()]
    default: dict[str, hashes.HashAlgorithm] = {"secp384r1": hashes.SHA384(),
                                                "secp521r1": hashes.SHA512()}
    extra = default.get(key.curve.name)
    return [hashes.SHA256()] + ([extra] if extra is not None else [])


def signature_valid(key: PublicKey, signature: bytes, payload: bytes,
                    any_hash: bool = False) -> bool:
    """True if ``signature`` over the exact ``payload`` bytes verifies with ``key``.

    ECDSA signatures are ASN.1 DER over SHA-256 (or, for a given key with
    ``any_hash``, the curve's default hash); RSA is PKCS#1 v1.5 SHA-256; Ed25519 is
    pure Ed25519.
    """
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            for algorithm in _ecdsa_hashes(key, any_hash):
                try:
                    key.verify(signature, payload, ec.ECDSA(algorithm))
                    return True
                except InvalidSignature:
                    continue
            return False
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
            return True
        key.verify(signature, payload)
        return True
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False


def check_signature(key: PublicKey, signature: bytes, payload: bytes,
                    any_hash: bool = False) -> None:
    """The signature must verify over the stored payload bytes (never re-serialised)."""
    if not signature:
        raise CheckFailed(CHECK_SIGNATURE, "the layer has an empty signature")
    if not signature_valid(key, signature, payload, any_hash):
        raise CheckFailed(CHECK_SIGNATURE,
                          "invalid signature when validating ASN.1 encoded signature"
                          if isinstance(key, ec.EllipticCurvePublicKey)
                          else "invalid signature over the payload",
                          hint="the payload or signature was altered, or another key signed it")


# -- 5. claims -------------------------------------------------------------------------

def check_claims(claims: SimpleSigningClaims, digest: str,
                 annotations: Mapping[str, str]) -> None:
    """``docker-manifest-digest`` must equal the digest; ``-a`` annotations must match."""
    if claims.manifest_digest != digest:
        raise CheckFailed(CHECK_CLAIMS,
                          f"invalid or missing digest in claim: {claims.manifest_digest}"
                          f" (expected {digest})")
    optional: Mapping[str, Any] = claims.optional or {}
    for name, expected in annotations.items():
        found = optional.get(name)
        if not isinstance(found, str) or found != expected:
            raise CheckFailed(CHECK_CLAIMS, f"missing or incorrect annotation {name!r}: "
                                            f"expected {expected!r}, found {found!r}")


# -- 6. certificate validity -----------------------------------------------------------

def check_certificate_validity(cert: x509.Certificate, path: Sequence[x509.Certificate],
                               observed: Sequence[datetime]) -> None:
    """The leaf (and its issuing CAs) must be valid at every observed signing time."""
    for when in observed:
        for position, each in enumerate(path or [cert]):
            what = "certificate" if position == 0 else (
                f"CA certificate {each.subject.rfc4514_string()}")
            if each.not_valid_after_utc < when:
                raise CheckFailed(
                    CHECK_VALIDITY,
                    f"{what} expired before observed time: "
                    f"{each.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ} is before "
                    f"{when:%Y-%m-%dT%H:%M:%SZ}",
                    hint="without a transparency-log time, an expired certificate cannot be "
                         "trusted" if len(observed) == 1 else None)
            if each.not_valid_before_utc > when:
                raise CheckFailed(
                    CHECK_VALIDITY,
                    f"{what} was issued after observed time: "
                    f"{each.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} is after "
                    f"{when:%Y-%m-%dT%H:%M:%SZ}")


# -- 7. signed identity ----------------------------------------------------------------

def check_signed_identity(claims: SimpleSigningClaims, policy: SignedIdentityPolicy,
                          image: Reference | None) -> None:
    """The payload's docker-reference must satisfy the ``--signed-identity`` policy."""
    try:
        policy.check(claims.docker_reference, image)
    except VerificationError as err:
        raise _fail_from(CHECK_SIGNED_IDENTITY, err) from None
