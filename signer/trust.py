"""The Sigstore trusted root (layer L1): logs, CT logs and certificate authorities.

A :class:`TrustedRoot` is parsed once from a ``trusted_root.json`` (protobuf JSON of
``dev.sigstore.trustroot.v1.TrustedRoot``, docs/sigstore-protocols.md §4) and then only
read. The public-good root ships in the package (:func:`load_default`). cosign's
legacy overrides (``SIGSTORE_ROOT_FILE``, ``SIGSTORE_REKOR_PUBLIC_KEY``,
``SIGSTORE_CT_LOG_PUBLIC_KEY_FILE``, ``--certificate-chain`` / ``--ca-roots`` /
``--ca-intermediates``) build or replace parts of a root (:func:`apply_legacy_overrides`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography import x509

from signer.certificates import (
    MalformedCertificateError,
    is_self_signed,
    parse_der_certificate,
    parse_pem_certificates,
)
from signer.errors import InputError, TrustError
from signer.keys import PublicKey, load_public_key_pem, public_key_der
from signer.localfile import read_local_file

_TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)

#: environment variables of cosign's legacy trust overrides
ENV_ROOT_FILE = "SIGSTORE_ROOT_FILE"
ENV_REKOR_PUBLIC_KEY = "SIGSTORE_REKOR_PUBLIC_KEY"
ENV_CT_LOG_PUBLIC_KEY_FILE = "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE"


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (protobuf JSON; up to 9 fractional digits) as UTC."""
    match = _TIMESTAMP_RE.match(text) if isinstance(text, str) else None
    if not match:
        raise TrustError(f"invalid timestamp {text!r} in trusted root")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7) or ""
    micros = int((fraction + "000000")[:6]) if fraction else 0
    try:
        value = datetime(year, month, day, hour, minute, second, micros, tzinfo=timezone.utc)
    except ValueError:
        raise TrustError(f"invalid timestamp {text!r} in trusted root") from None
    if match.group(9):
        offset = timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
        value = value - offset if match.group(9) == "+" else value + offset
    return value


@dataclass(frozen=True)
class ValidityPeriod:
    """A ``validFor`` window, inclusive at both ends; ``end`` None means still valid.

    A window without a start (malformed in the trusted root) contains no time.
    """

    start: datetime | None
    end: datetime | None = None

    def contains(self, at: datetime) -> bool:
        """True if ``at`` lies within the window (both ends inclusive)."""
        if self.start is None:
            return False
        if at < self.start:
            return False
        return self.end is None or at <= self.end

    @classmethod
    def always(cls) -> ValidityPeriod:
        """A window open at both ends in practice (used for legacy override files)."""
        return cls(datetime(1970, 1, 1, tzinfo=timezone.utc), None)


@dataclass(frozen=True)
class LogInstance:
    """A transparency log or CT log: its ID, key, URL and validity window."""

    log_id: bytes
    key: PublicKey
    base_url: str
    valid_for: ValidityPeriod
    key_details: str = ""
    checkpoint_key_id: bytes | None = None

    @property
    def log_id_hex(self) -> str:
        """The log ID as lower-case hex (the form Rekor v1 uses)."""
        return self.log_id.hex()


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA: certificates ordered leaf-most first, the trust anchor (root) last.

    For a CA built from loose PEM files (legacy overrides) the certificates before
    the root are a pool of intermediates rather than one linear chain. Only such a CA,
    and only when the files gave no intermediates, may take intermediates from the
    signature itself (``accepts_carried_intermediates``, cosign's legacy behaviour); a
    CA of a trusted root never does: its ``certChain`` is the whole path.
    """

    chain: tuple[x509.Certificate, ...]
    valid_for: ValidityPeriod
    uri: str = ""
    accepts_carried_intermediates: bool = False

    @property
    def root(self) -> x509.Certificate:
        """The trust anchor."""
        return self.chain[-1]

    @property
    def intermediates(self) -> tuple[x509.Certificate, ...]:
        """Every certificate but the root."""
        return self.chain[:-1]


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise TrustError(f"trusted root: {what} is missing or not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise TrustError(f"trusted root: {what} is not valid base64") from None


def _validity(obj: Any) -> ValidityPeriod:
    if not isinstance(obj, dict):
        return ValidityPeriod(None, None)
    start = obj.get("start")
    end = obj.get("end")
    return ValidityPeriod(parse_timestamp(start) if start is not None else None,
                          parse_timestamp(end) if end is not None else None)


def _log_instance(obj: Any, where: str) -> LogInstance | None:
    if not isinstance(obj, dict):
        raise TrustError(f"trusted root: {where} is not an object")
    public_key = obj.get("publicKey")
    if not isinstance(public_key, dict):
        raise TrustError(f"trusted root: {where} has no publicKey")
    raw = _b64(public_key.get("rawBytes"), f"{where}.publicKey.rawBytes")
    try:
        key = load_public_key_pem(raw, f"{where} key")
    except InputError:
        return None  # a key type we cannot use: the log is skipped, not fatal
    log_id_obj = obj.get("logId")
    if isinstance(log_id_obj, dict) and "keyId" in log_id_obj:
        log_id = _b64(log_id_obj.get("keyId"), f"{where}.logId.keyId")
    else:
        log_id = hashlib.sha256(public_key_der(key)).digest()
    checkpoint = obj.get("checkpointKeyId")
    checkpoint_id = (_b64(checkpoint.get("keyId"), f"{where}.checkpointKeyId.keyId")
                     if isinstance(checkpoint, dict) and "keyId" in checkpoint else None)
    base_url = obj.get("baseUrl")
    details = public_key.get("keyDetails")
    return LogInstance(
        log_id=log_id,
        key=key,
        base_url=base_url if isinstance(base_url, str) else "",
        valid_for=_validity(public_key.get("validFor")),
        key_details=details if isinstance(details, str) else "",
        checkpoint_key_id=checkpoint_id,
    )


def _authority(obj: Any, where: str) -> CertificateAuthority:
    if not isinstance(obj, dict):
        raise TrustError(f"trusted root: {where} is not an object")
    chain_obj = obj.get("certChain")
    certs_obj = chain_obj.get("certificates") if isinstance(chain_obj, dict) else None
    if not isinstance(certs_obj, list) or not certs_obj:
        raise TrustError(f"trusted root: {where} has no certificates")
    chain = []
    for i, cert_obj in enumerate(certs_obj):
        raw = _b64(cert_obj.get("rawBytes") if isinstance(cert_obj, dict) else None,
                   f"{where}.certChain.certificates[{i}].rawBytes")
        try:
            chain.append(parse_der_certificate(raw))
        except MalformedCertificateError:
            raise TrustError(f"trusted root: {where} certificate {i} is not DER") from None
    uri = obj.get("uri")
    return CertificateAuthority(tuple(chain), _validity(obj.get("validFor")),
                                uri if isinstance(uri, str) else "")


def _list(document: Mapping[str, Any], key: str) -> list[Any]:
    value = document.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise TrustError(f"trusted root: {key} is not a list")
    return value


@dataclass(frozen=True)
class TrustedRoot:
    """Parsed trust material; build it once and share it (it is immutable)."""

    tlogs: tuple[LogInstance, ...]
    ctlogs: tuple[LogInstance, ...]
    certificate_authorities: tuple[CertificateAuthority, ...]
    timestamp_authorities: tuple[CertificateAuthority, ...]
    source: str = "trusted root"

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "trusted root") -> TrustedRoot:
        """Parse trusted_root.json bytes (a ClientTrustConfig's ``trustedRoot`` too)."""
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise TrustError(f"{source} is not JSON") from None
        if not isinstance(document, dict):
            raise TrustError(f"{source} is not a JSON object")
        if "trustedRoot" in document and isinstance(document["trustedRoot"], dict):
            document = document["trustedRoot"]
        media_type = document.get("mediaType", "")
        if media_type and "trustedroot" not in str(media_type):
            raise TrustError(f"{source} has media type {media_type!r}, not a trusted root")
        tlogs = [_log_instance(o, f"tlogs[{i}]") for i, o in enumerate(_list(document, "tlogs"))]
        ctlogs = [_log_instance(o, f"ctlogs[{i}]")
                  for i, o in enumerate(_list(document, "ctlogs"))]
        cas = [_authority(o, f"certificateAuthorities[{i}]")
               for i, o in enumerate(_list(document, "certificateAuthorities"))]
        tsas = [_authority(o, f"timestampAuthorities[{i}]")
                for i, o in enumerate(_list(document, "timestampAuthorities"))]
        return cls(
            tlogs=tuple(t for t in tlogs if t is not None),
            ctlogs=tuple(c for c in ctlogs if c is not None),
            certificate_authorities=tuple(cas),
            timestamp_authorities=tuple(tsas),
            source=source,
        )

    @classmethod
    def from_file(cls, path: str | Path) -> TrustedRoot:
        """Read and parse a trusted_root.json file."""
        data = read_local_file(path, "trusted root", error=TrustError,
                               hint="pass an existing trusted_root.json to --trusted-root")
        return cls.from_bytes(data, source=str(path))

    @classmethod
    def load_default(cls) -> TrustedRoot:
        """The embedded public-good trusted root (same as :func:`load_default`)."""
        return load_default()

    @classmethod
    def empty(cls, source: str = "legacy trust material") -> TrustedRoot:
        """A root trusting nothing (a base for legacy overrides)."""
        return cls((), (), (), (), source)

    def tlog_by_id(self, log_id: bytes) -> LogInstance | None:
        """The first transparency log with this log ID (None if unknown)."""
        return next((t for t in self.tlogs if t.log_id == log_id), None)

    def ctlog_by_id(self, log_id: bytes) -> LogInstance | None:
        """The first CT log with this log ID (None if unknown)."""
        return next((c for c in self.ctlogs if c.log_id == log_id), None)

    def tlogs_for(self, log_id: bytes, at: datetime | None = None) -> list[LogInstance]:
        """Every transparency log with this ID whose window contains ``at`` (if given)."""
        return [t for t in self.tlogs
                if t.log_id == log_id and (at is None or t.valid_for.contains(at))]

    def ctlogs_for(self, log_id: bytes, at: datetime | None = None) -> list[LogInstance]:
        """Every CT log with this ID whose window contains ``at`` (if given)."""
        return [c for c in self.ctlogs
                if c.log_id == log_id and (at is None or c.valid_for.contains(at))]

    def replace(self, **changes: Any) -> TrustedRoot:
        """A copy with some fields replaced."""
        return dataclasses.replace(self, **changes)


@functools.lru_cache(maxsize=1)
def load_default() -> TrustedRoot:
    """The public-good trusted root embedded in the package (parsed once)."""
    data = resources.files("signer").joinpath("data/trusted_root.json").read_bytes()
    return TrustedRoot.from_bytes(data, source="embedded public-good trusted root")


# -- legacy overrides ------------------------------------------------------------------

def _read(path: str | Path, what: str) -> bytes:
    return read_local_file(path, what, error=TrustError)


def load_pem_certificates(data: bytes, what: str) -> list[x509.Certificate]:
    """All certificates of a PEM file (at least one)."""
    try:
        return parse_pem_certificates(data)
    except MalformedCertificateError:
        raise TrustError(f"{what} holds no valid PEM certificate") from None


def authorities_from_certificates(
    certificates: Iterable[x509.Certificate], uri: str = ""
) -> tuple[CertificateAuthority, ...]:
    """CAs from loose certificates: self-signed ones are roots, the rest intermediates.

    This is how cosign reads ``SIGSTORE_ROOT_FILE`` and ``--certificate-chain``. As in
    cosign, when no intermediates are given, those a signature carries (its chain
    annotation) may complete a path to one of these roots.
    """
    certs = list(certificates)
    roots = [c for c in certs if is_self_signed(c)]
    intermediates = tuple(c for c in certs if not is_self_signed(c))
    if not roots:
        raise TrustError("the CA certificates include no self-signed root",
                         hint="the chain file must end with the root certificate")
    return tuple(CertificateAuthority((*intermediates, root), ValidityPeriod.always(), uri,
                                      accepts_carried_intermediates=not intermediates)
                 for root in roots)


def log_from_key_file(path: str | Path, what: str, base_url: str = "") -> LogInstance:
    """A log instance from a PEM/DER public key file (log ID = SHA-256 of its SPKI)."""
    try:
        key = load_public_key_pem(_read(path, what), what)
    except InputError as err:
        raise TrustError(err.message, hint=err.hint) from None
    return LogInstance(hashlib.sha256(public_key_der(key)).digest(), key, base_url,
                       ValidityPeriod.always())


@dataclass(frozen=True)
class LegacyTrustOptions:
    """cosign's file-based trust overrides (environment variables and CA flags)."""

    root_file: str | None = None  # SIGSTORE_ROOT_FILE
    rekor_public_key: str | None = None  # SIGSTORE_REKOR_PUBLIC_KEY
    ct_log_public_key: str | None = None  # SIGSTORE_CT_LOG_PUBLIC_KEY_FILE
    certificate_chain: str | None = None  # --certificate-chain
    ca_roots: str | None = None  # --ca-roots
    ca_intermediates: str | None = None  # --ca-intermediates

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str], **flags: str | None
    ) -> LegacyTrustOptions:
        """Read the three ``SIGSTORE_*`` variables plus the CA flags given."""
        return cls(
            root_file=environ.get(ENV_ROOT_FILE) or None,
            rekor_public_key=environ.get(ENV_REKOR_PUBLIC_KEY) or None,
            ct_log_public_key=environ.get(ENV_CT_LOG_PUBLIC_KEY_FILE) or None,
            **flags,
        )

    @property
    def any(self) -> bool:
        """True if any override is set."""
        return any(dataclasses.astuple(self))


def apply_legacy_overrides(base: TrustedRoot, options: LegacyTrustOptions) -> TrustedRoot:
    """Replace the parts of ``base`` that cosign's legacy overrides name."""
    root = base
    certificates: list[x509.Certificate] | None = None
    if options.certificate_chain:
        certificates = load_pem_certificates(
            _read(options.certificate_chain, "certificate chain"), "--certificate-chain")
    elif options.ca_roots:
        certificates = load_pem_certificates(_read(options.ca_roots, "CA roots"), "--ca-roots")
        if options.ca_intermediates:
            certificates += load_pem_certificates(
                _read(options.ca_intermediates, "CA intermediates"), "--ca-intermediates")
    elif options.ca_intermediates:
        raise TrustError("--ca-intermediates needs --ca-roots")
    elif options.root_file:
        certificates = load_pem_certificates(_read(options.root_file, ENV_ROOT_FILE),
                                             ENV_ROOT_FILE)
    if certificates is not None:
        root = root.replace(certificate_authorities=authorities_from_certificates(certificates))
    if options.rekor_public_key:
        root = root.replace(
            tlogs=(log_from_key_file(options.rekor_public_key, ENV_REKOR_PUBLIC_KEY),))
    if options.ct_log_public_key:
        root = root.replace(
            ctlogs=(log_from_key_file(options.ct_log_public_key, ENV_CT_LOG_PUBLIC_KEY_FILE),))
    return root

