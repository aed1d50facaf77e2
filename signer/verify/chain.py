"""Certificate path validation to a CA of the trusted root (layer L2).

A leaf is accepted when a path leaf -> intermediates -> root exists in which every
certificate is valid at the given time, each one is signed by the next, every issuer
is a CA (basicConstraints, keyCertSign, path length), the CA's ``validFor`` window
contains the time, no certificate has a critical extension left unprocessed, and the
leaf may sign code (KeyUsage digitalSignature, EKU codeSigning, where those extensions
are present, as Go's x509 treats them).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from signer.errors import VerificationError
from signer.trust import CertificateAuthority, TrustedRoot

_MAX_DEPTH = 8
_ANY_EKU = x509.ObjectIdentifier("2.5.29.37.0")

#: the extensions this module processes; a critical one of any other kind (name
#: constraints and certificate policies included, which are not enforced here)
#: makes the certificate unusable (RFC 5280 §4.2, as Go's x509 and so cosign)
_HANDLED_CRITICAL = frozenset({
    ExtensionOID.KEY_USAGE, ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
})


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def valid_at(cert: x509.Certificate, at: datetime) -> bool:
    """True if ``at`` lies within the certificate's notBefore..notAfter (inclusive)."""
    return cert.not_valid_before_utc <= _utc(at) <= cert.not_valid_after_utc


#: (child, parent) -> whether parent's key signed child; CA links repeat for every
#: signature, so caching them saves most of the public-key work (bounded, thread-safe)
_ISSUED_BY_CACHE: dict[tuple[x509.Certificate, x509.Certificate], bool] = {}
_ISSUED_BY_CACHE_MAX = 4096
_ISSUED_BY_LOCK = threading.Lock()


def issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """True if ``parent``'s subject is ``child``'s issuer and its key signed ``child``."""
    if child.issuer != parent.subject:
        return False
    key = (child, parent)
    cached = _ISSUED_BY_CACHE.get(key)
    if cached is not None:
        return cached
    try:
        child.verify_directly_issued_by(parent)
        result = True
    except Exception:  # bad signature or unsupported algorithm: not the issuer
        result = False
    with _ISSUED_BY_LOCK:
        if len(_ISSUED_BY_CACHE) >= _ISSUED_BY_CACHE_MAX:
            _ISSUED_BY_CACHE.clear()
        _ISSUED_BY_CACHE[key] = result
    return result


def _extension(cert: x509.Certificate, ext_type: type[x509.ExtensionType]) -> object | None:
    try:
        return cert.extensions.get_extension_for_class(ext_type).value
    except x509.ExtensionNotFound:
        return None


def unhandled_critical_extension(cert: x509.Certificate) -> str | None:
    """The dotted OID of a critical extension this module does not process, if any."""
    for extension in cert.extensions:
        if extension.critical and extension.oid not in _HANDLED_CRITICAL:
            return str(extension.oid.dotted_string)
    return None


def _can_issue(ca: x509.Certificate, certs_below: int) -> str | None:
    """None if ``ca`` may issue a path with ``certs_below`` CA certificates under it."""
    constraints = _extension(ca, x509.BasicConstraints)
    if not isinstance(constraints, x509.BasicConstraints) or not constraints.ca:
        return f"issuer {ca.subject.rfc4514_string()} is not a CA"
    if constraints.path_length is not None and certs_below > constraints.path_length:
        return f"path length constraint of {ca.subject.rfc4514_string()} exceeded"
    usage = _extension(ca, x509.KeyUsage)
    if isinstance(usage, x509.KeyUsage) and not usage.key_cert_sign:
        return f"issuer {ca.subject.rfc4514_string()} may not sign certificates"
    return None


def _allows_code_signing(cert: x509.Certificate) -> bool:
    usage = _extension(cert, x509.ExtendedKeyUsage)
    if not isinstance(usage, x509.ExtendedKeyUsage):
        return True
    return ExtendedKeyUsageOID.CODE_SIGNING in usage or _ANY_EKU in usage


def check_leaf_usage(leaf: x509.Certificate) -> None:
    """KeyUsage must include digitalSignature and EKU codeSigning (when present)."""
    usage = _extension(leaf, x509.KeyUsage)
    if isinstance(usage, x509.KeyUsage) and not usage.digital_signature:
        raise VerificationError("certificate chain: the certificate's key usage does not "
                                "include digitalSignature")
    if not _allows_code_signing(leaf):
        raise VerificationError("certificate chain: the certificate's extended key usage "
                                "does not include codeSigning")
    constraints = _extension(leaf, x509.BasicConstraints)
    if isinstance(constraints, x509.BasicConstraints) and constraints.ca:
        raise VerificationError("certificate chain: the signing certificate is a CA")
    unhandled = unhandled_critical_extension(leaf)
    if unhandled is not None:
        raise VerificationError(f"certificate chain: the certificate has an unhandled "
                                f"critical extension {unhandled}")


def _paths(
    current: x509.Certificate,
    root: x509.Certificate,
    pool: Sequence[x509.Certificate],
    at: datetime,
    depth: int,
) -> Iterable[list[x509.Certificate]]:
    """Every path from ``current`` up to ``root`` through ``pool`` (current excluded)."""
    if depth > _MAX_DEPTH:
        return
    if issued_by(current, root):
        yield [root]
    for candidate in pool:
        if candidate in (current, root) or not valid_at(candidate, at):
            continue
        if not issued_by(current, candidate):
            continue
        rest = [c for c in pool if c != candidate]
        for tail in _paths(candidate, root, rest, at, depth + 1):
            yield [candidate, *tail]


def _check_path(path: Sequence[x509.Certificate], at: datetime) -> str | None:
    """Check the CA certificates of ``path`` (leaf first); None if it is acceptable."""
    for position, ca in enumerate(path[1:], start=1):
        if not valid_at(ca, at):
            return (f"CA certificate {ca.subject.rfc4514_string()} is not valid at "
                    f"{at:%Y-%m-%dT%H:%M:%SZ}")
        problem = _can_issue(ca, certs_below=position - 1)
        if problem:
            return problem
        unhandled = unhandled_critical_extension(ca)
        if unhandled is not None:
            return (f"CA certificate {ca.subject.rfc4514_string()} has an unhandled critical "
                    f"extension {unhandled}")
        if position < len(path) - 1 and not _allows_code_signing(ca):
            return f"intermediate {ca.subject.rfc4514_string()} does not allow codeSigning"
    return None


def build_path(
    leaf: x509.Certificate,
    authority: CertificateAuthority,
    at: datetime,
    carried: Sequence[x509.Certificate] = (),
) -> list[x509.Certificate] | None:
    """A valid path leaf..root under ``authority`` at ``at``, or None.

    The path is built from the authority's own certificates; ``carried`` (those a
    signature brought along) join them only if the authority accepts them (legacy
    roots given without intermediates).
    """
    pool = [*authority.intermediates,
            *(carried if authority.accepts_carried_intermediates else ())]
    for tail in _paths(leaf, authority.root, pool, at, 0):
        path = [leaf, *tail]
        if _check_path(path, at) is None:
            return path
    return None


def verify_certificate_chain(
    leaf: x509.Certificate,
    trust: TrustedRoot,
    at: datetime,
    carried: Sequence[x509.Certificate] = (),
    signed_at: Sequence[datetime] = (),
) -> list[x509.Certificate]:
    """Validate ``leaf`` to a certificate authority of ``trust`` valid at ``at``.

    ``signed_at`` are the signature's signed times (Rekor integrated time, RFC 3161
    times): the authority's ``validFor`` must contain each of them as well, since the
    leaf's notBefore (a usual ``at``) is whatever its issuer wrote.

    Returns the path ``[leaf, intermediates..., root]``, made of one authority's own
    certificates, that authority's ``validFor`` window containing ``at``. Certificates
    the signature carries (``carried``: a chain annotation) never add trust to a
    trusted root's authority; only a legacy root given without intermediates
    (``accepts_carried_intermediates``) may complete a path with them, as cosign
    does. Raises :class:`VerificationError` naming the "certificate chain" check.
    """
    at = _utc(at)
    check_leaf_usage(leaf)
    if not valid_at(leaf, at):
        raise VerificationError(
            f"certificate chain: the certificate is not valid at {at:%Y-%m-%dT%H:%M:%SZ} "
            f"(valid {leaf.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} to "
            f"{leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ})")
    times = [at, *(_utc(t) for t in signed_at)]
    authorities = [a for a in trust.certificate_authorities
                   if all(a.valid_for.contains(t) for t in times)]
    if not trust.certificate_authorities:
        raise VerificationError("certificate chain: the trusted root has no certificate "
                                "authorities")
    for authority in authorities:
        path = build_path(leaf, authority, at, carried)
        if path is not None:
            return path
    signed = sorted({t for t in times[1:] if t != at})
    raise VerificationError(
        "certificate chain: no path from the certificate to a trusted certificate authority "
        f"valid at {at:%Y-%m-%dT%H:%M:%SZ}"
        + (" and at the signed time " + ", ".join(f"{t:%Y-%m-%dT%H:%M:%SZ}" for t in signed)
           if signed else ""),
        hint="the certificate was not issued by a CA of the trusted root whose validity "
             "window contains the signing time (check --trusted-root or the CA flags)")


def accepts_carried_intermediates(trust: TrustedRoot) -> bool:
    """True if any authority of ``trust`` may take intermediates from a signature."""
    return any(a.accepts_carried_intermediates for a in trust.certificate_authorities)


def issuer_of(leaf: x509.Certificate, path: Sequence[x509.Certificate]) -> x509.Certificate:
    """The certificate that issued ``leaf`` in a validated path (for SCT checks)."""
    if len(path) < 2:
        raise VerificationError("certificate chain: no issuer in the validated path")
    return path[1]
