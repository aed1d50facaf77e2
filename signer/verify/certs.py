"""Fields of Fulcio certificates (layer L2): SANs, OIDC issuer, GitHub extensions.

Fulcio extensions 1.3.6.1.4.1.57264.1.1–1.6 hold raw UTF-8 bytes; 1.8 and later hold a
DER UTF8String (docs/sigstore-protocols.md §2.3). SANs are listed in cosign's order: DNS,
e-mail, IP, URI, then otherName (docs/cosign-format.md §4.2, §5.2).
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography import x509
from cryptography.x509.oid import ExtensionOID, ObjectIdentifier

FULCIO_ARC = "1.3.6.1.4.1.57264.1"
OID_ISSUER_V1 = ObjectIdentifier(f"{FULCIO_ARC}.1")
OID_GITHUB_WORKFLOW_TRIGGER = ObjectIdentifier(f"{FULCIO_ARC}.2")
OID_GITHUB_WORKFLOW_SHA = ObjectIdentifier(f"{FULCIO_ARC}.3")
OID_GITHUB_WORKFLOW_NAME = ObjectIdentifier(f"{FULCIO_ARC}.4")
OID_GITHUB_WORKFLOW_REPOSITORY = ObjectIdentifier(f"{FULCIO_ARC}.5")
OID_GITHUB_WORKFLOW_REF = ObjectIdentifier(f"{FULCIO_ARC}.6")
OID_OTHERNAME_SAN = ObjectIdentifier(f"{FULCIO_ARC}.7")
OID_ISSUER_V2 = ObjectIdentifier(f"{FULCIO_ARC}.8")
OID_BUILD_SIGNER_URI = ObjectIdentifier(f"{FULCIO_ARC}.9")
OID_RUNNER_ENVIRONMENT = ObjectIdentifier(f"{FULCIO_ARC}.11")
OID_SOURCE_REPOSITORY_URI = ObjectIdentifier(f"{FULCIO_ARC}.12")
OID_SOURCE_REPOSITORY_REF = ObjectIdentifier(f"{FULCIO_ARC}.14")
OID_SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
OID_CT_PRECERT_SIGNING = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.4")

#: readable name (as cosign's JSON output names it) -> OID, for extensions 1.2–1.6
GITHUB_EXTENSIONS: Mapping[str, ObjectIdentifier] = {
    "githubWorkflowTrigger": OID_GITHUB_WORKFLOW_TRIGGER,
    "githubWorkflowSha": OID_GITHUB_WORKFLOW_SHA,
    "githubWorkflowName": OID_GITHUB_WORKFLOW_NAME,
    "githubWorkflowRepository": OID_GITHUB_WORKFLOW_REPOSITORY,
    "githubWorkflowRef": OID_GITHUB_WORKFLOW_REF,
}


def extension_bytes(cert: x509.Certificate, oid: ObjectIdentifier) -> bytes | None:
    """The extnValue content of extension ``oid`` (None if absent)."""
    try:
        ext = cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    if isinstance(value, x509.UnrecognizedExtension):
        return value.value
    return value.public_bytes()


def _der_length(data: bytes, offset: int) -> tuple[int, int]:
    """(length, offset of the contents) of a DER length at ``offset``."""
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    count = first & 0x7F
    if count == 0 or count > 4 or offset + 1 + count > len(data):
        raise ValueError("bad DER length")
    return int.from_bytes(data[offset + 1:offset + 1 + count], "big"), offset + 1 + count


def decode_der_utf8_string(data: bytes) -> str:
    """Decode a DER UTF8String (tag 0x0C) with no trailing bytes."""
    if len(data) < 2 or data[0] != 0x0C:
        raise ValueError("not a DER UTF8String")
    length, start = _der_length(data, 1)
    if start + length != len(data):
        raise ValueError("trailing or missing bytes after DER UTF8String")
    return data[start:].decode("utf-8")


def _raw_text(cert: x509.Certificate, oid: ObjectIdentifier) -> str | None:
    value = extension_bytes(cert, oid)
    if value is None:
        return None
    return value.decode("utf-8", errors="replace")


def oidc_issuer_v1(cert: x509.Certificate) -> str | None:
    """The deprecated issuer extension 1.1 (raw bytes); what cosign's legacy path reads."""
    return _raw_text(cert, OID_ISSUER_V1)


def der_text_extension(cert: x509.Certificate, oid: ObjectIdentifier) -> str | None:
    """A Fulcio extension 1.8 or later (a DER UTF8String), or None if absent or malformed."""
    value = extension_bytes(cert, oid)
    if value is None:
        return None
    try:
        return decode_der_utf8_string(value)
    except (ValueError, UnicodeDecodeError):
        return None


def raw_text_extension(cert: x509.Certificate, oid: ObjectIdentifier) -> str | None:
    """A Fulcio extension 1.1–1.6 (raw UTF-8 bytes), or None if absent."""
    return _raw_text(cert, oid)


def oidc_issuer_v2(cert: x509.Certificate) -> str | None:
    """The issuer extension 1.8 (DER UTF8String), or None if absent or malformed."""
    return der_text_extension(cert, OID_ISSUER_V2)


def oidc_issuer(cert: x509.Certificate) -> str | None:
    """The OIDC issuer: extension 1.8, falling back to 1.1."""
    issuer = oidc_issuer_v2(cert)
    return issuer if issuer is not None else oidc_issuer_v1(cert)


def github_extensions(cert: x509.Certificate) -> dict[str, str]:
    """The GitHub workflow extensions 1.2–1.6 present, keyed by cosign's readable names."""
    found: dict[str, str] = {}
    for name, oid in GITHUB_EXTENSIONS.items():
        value = _raw_text(cert, oid)
        if value is not None:
            found[name] = value
    return found


def fulcio_othername(name: x509.OtherName) -> str | None:
    """A Fulcio otherName SAN (type 1.7): a UTF8String, possibly inside [0] EXPLICIT."""
    if name.type_id != OID_OTHERNAME_SAN:
        return None
    data = name.value
    try:
        if data and data[0] == 0xA0:  # an explicit context tag around the string
            length, start = _der_length(data, 1)
            data = data[start:start + length]
        return decode_der_utf8_string(data)
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def subject_alternative_names(cert: x509.Certificate) -> list[str]:
    """Every SAN value in cosign's order: DNS, e-mail, IP, URI, otherName."""
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return []
    assert isinstance(san, x509.SubjectAlternativeName)
    names: list[str] = []
    names += san.get_values_for_type(x509.DNSName)
    names += san.get_values_for_type(x509.RFC822Name)
    names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    names += san.get_values_for_type(x509.UniformResourceIdentifier)
    for other in san.get_values_for_type(x509.OtherName):
        value = fulcio_othername(other)
        if value is not None:
            names.append(value)
    return names


def certificate_identity(cert: x509.Certificate) -> str | None:
    """The identity sigstore-go (and cosign's bundle path) matches: the first URI SAN,
    else the first e-mail SAN, else a Fulcio otherName SAN (docs/cosign-format.md §4.4)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    if uris:
        return uris[0]
    emails = san.get_values_for_type(x509.RFC822Name)
    if emails:
        return emails[0]
    for other in san.get_values_for_type(x509.OtherName):
        value = fulcio_othername(other)
        if value is not None:
            return value
    return None


def certificate_subject(cert: x509.Certificate) -> str | None:
    """The first SAN (cosign's ``Subject`` in verify output), or None."""
    names = subject_alternative_names(cert)
    return names[0] if names else None


def has_embedded_scts(cert: x509.Certificate) -> bool:
    """True if the certificate carries an embedded SCT list extension."""
    return extension_bytes(cert, OID_SCT_LIST) is not None
