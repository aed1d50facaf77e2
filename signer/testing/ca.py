"""The local Fulcio CA: a P-384 root -> intermediate chain and Fulcio-profile leaves.

Leaves follow Fulcio's profile: 10-minute validity, empty subject, KeyUsage
digitalSignature (critical), EKU codeSigning, SKI, AKI, critical SAN, the Fulcio
extensions in ascending OID order, then the embedded SCT list. The SCT is obtained
from the CT log over a real precertificate (same TBS plus the critical poison).
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signer.testing.ctlog import SCT_LIST_OID, CtLog, sct_list_extension_value
from signer.testing.keystore import load_or_create_key

LEAF_LIFETIME = datetime.timedelta(minutes=10)
CA_LIFETIME = datetime.timedelta(days=3650)
ORGANIZATION = "signer-local"
ROOT_NAME = "signer-local-root"
INTERMEDIATE_NAME = "signer-local-intermediate"


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _serial() -> int:
    return int.from_bytes(secrets.token_bytes(20), "big") >> 1 or 1


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _leaf_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip


@dataclass(frozen=True)
class LeafProfile:
    """What goes into a leaf besides the key: one SAN and the Fulcio extensions."""

    san: x509.GeneralName
    extensions: tuple[tuple[str, bytes], ...]  # (dotted OID, extnValue content)


class CertificateAuthority:
    """Root and intermediate (both P-384), persisted in a directory."""

    def __init__(
        self,
        root_key: ec.EllipticCurvePrivateKey,
        root: x509.Certificate,
        intermediate_key: ec.EllipticCurvePrivateKey,
        intermediate: x509.Certificate,
    ) -> None:
        self.root_key = root_key
        self.root = root
        self.intermediate_key = intermediate_key
        self.intermediate = intermediate

    @classmethod
    def load_or_create(cls, directory: Path) -> CertificateAuthority:
        """Load the chain from ``directory`` or create and store a new one."""
        root_key = load_or_create_key(directory, "fulcio-root", "p384")
        intermediate_key = load_or_create_key(directory, "fulcio-intermediate", "p384")
        assert isinstance(root_key, ec.EllipticCurvePrivateKey)
        assert isinstance(intermediate_key, ec.EllipticCurvePrivateKey)
        root_path = directory / "fulcio-root.crt.pem"
        intermediate_path = directory / "fulcio-intermediate.crt.pem"
        if root_path.exists() and intermediate_path.exists():
            root = x509.load_pem_x509_certificate(root_path.read_bytes())
            intermediate = x509.load_pem_x509_certificate(intermediate_path.read_bytes())
        else:
            now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
            root = _make_root(root_key, now)
            intermediate = _make_intermediate(intermediate_key, root, root_key, now)
            root_path.write_bytes(root.public_bytes(serialization.Encoding.PEM))
            intermediate_path.write_bytes(intermediate.public_bytes(serialization.Encoding.PEM))
        return cls(root_key, root, intermediate_key, intermediate)

    @property
    def chain(self) -> list[x509.Certificate]:
        """Intermediate then root (what follows a leaf)."""
        return [self.intermediate, self.root]

    def chain_pem(self) -> list[str]:
        """The chain as PEM strings, each ending in a newline."""
        return [c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in self.chain]

    def sibling(self, common_name: str) -> CertificateAuthority:
        """A CA with a new intermediate (fresh key, in memory) under the same root.

        Tests use it as a second issuing CA of one root, e.g. a retired intermediate.
        """
        key = ec.generate_private_key(ec.SECP384R1())
        now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        intermediate = _make_intermediate(key, self.root, self.root_key, now, common_name)
        return CertificateAuthority(self.root_key, self.root, key, intermediate)

    def issue(
        self,
        public_key: CertificatePublicKeyTypes,
        profile: LeafProfile,
        ct_log: CtLog,
        now: datetime.datetime | None = None,
        extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    ) -> x509.Certificate:
        """Issue a leaf with an embedded SCT from ``ct_log`` over its precertificate.

        ``extra_extensions`` ((value, critical) pairs, after the Fulcio ones) let tests
        issue leaves Fulcio would not, e.g. with an unknown critical extension.
        """
        not_before = (now or datetime.datetime.now(datetime.timezone.utc)).replace(microsecond=0)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.intermediate.subject)
            .public_key(public_key)
            .serial_number(_serial())
            .not_valid_before(not_before)
            .not_valid_after(not_before + LEAF_LIFETIME)
            .add_extension(_leaf_key_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                    self.intermediate.extensions.get_extension_for_class(
                        x509.SubjectKeyIdentifier
                    ).value
                ),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName([profile.san]), critical=True)
        )
        for oid, value in sorted(profile.extensions, key=lambda item: _oid_key(item[0])):
            builder = builder.add_extension(
                x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value), critical=False
            )
        for extension, critical in extra_extensions:
            builder = builder.add_extension(extension, critical=critical)
        precert = builder.add_extension(x509.PrecertPoison(), critical=True).sign(
            self.intermediate_key, hashes.SHA384()
        )
        sct = ct_log.add_pre_chain(precert, self.chain)
        final = builder.add_extension(
            x509.UnrecognizedExtension(SCT_LIST_OID, sct_list_extension_value([sct])),
            critical=False,
        ).sign(self.intermediate_key, hashes.SHA384())
        return final


def _oid_key(dotted: str) -> tuple[int, ...]:
    return tuple(int(part) for part in dotted.split("."))


def _make_root(key: ec.EllipticCurvePrivateKey, now: datetime.datetime) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(ROOT_NAME))
        .issuer_name(_name(ROOT_NAME))
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(now)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA384())
    )


def _make_intermediate(
    key: ec.EllipticCurvePrivateKey,
    root: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
    now: datetime.datetime,
    common_name: str = INTERMEDIATE_NAME,
) -> x509.Certificate:
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(now)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), False
        )
        .sign(root_key, hashes.SHA384())
    )
