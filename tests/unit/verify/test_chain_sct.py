"""Certificate path validation and embedded SCT verification."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signer.errors import VerificationError
from signer.trust import CertificateAuthority, TrustedRoot, ValidityPeriod, load_default
from signer.verify.chain import verify_certificate_chain
from signer.verify.sct import issuer_for_sct, verify_embedded_sct
from tests.unit.verify.cases import LEGACY

LEAF = x509.load_pem_x509_certificate(
    (LEGACY / "cimg-fulcio-rekor-valid" / "certificate.pem").read_bytes())
SIGNED_AT = LEAF.not_valid_before_utc + timedelta(minutes=1)
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_fulcio_leaf_chains_to_public_good_and_sct_verifies() -> None:
    path = verify_certificate_chain(LEAF, load_default(), SIGNED_AT)
    assert [c.subject.rfc4514_string() for c in path[1:]] == [
        "CN=sigstore-intermediate,O=sigstore.dev", "CN=sigstore,O=sigstore.dev"]
    when = verify_embedded_sct(LEAF, issuer_for_sct(path), load_default())
    assert LEAF.not_valid_before_utc - timedelta(seconds=5) <= when <= SIGNED_AT


def test_leaf_outside_its_validity_fails() -> None:
    with pytest.raises(VerificationError, match=r"^certificate chain: the certificate is not"):
        verify_certificate_chain(LEAF, load_default(), LEAF.not_valid_after_utc
                                 + timedelta(seconds=1))


def test_ca_window_must_contain_the_time() -> None:
    root = load_default()
    narrowed = tuple(dataclasses.replace(ca, valid_for=ValidityPeriod(
        ca.valid_for.start, SIGNED_AT - timedelta(days=1))) for ca in root.certificate_authorities)
    with pytest.raises(VerificationError, match="no path"):
        verify_certificate_chain(LEAF, root.replace(certificate_authorities=narrowed), SIGNED_AT)


def test_untrusted_root_fails() -> None:
    only_old = load_default().replace(
        certificate_authorities=load_default().certificate_authorities[:1])
    with pytest.raises(VerificationError, match="no path"):
        verify_certificate_chain(LEAF, only_old, SIGNED_AT)


def test_sct_with_wrong_log_key_or_window_fails() -> None:
    root = load_default()
    path = verify_certificate_chain(LEAF, root, SIGNED_AT)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    swapped = tuple(dataclasses.replace(log, key=other) for log in root.ctlogs)
    with pytest.raises(VerificationError, match="does not verify"):
        verify_embedded_sct(LEAF, path[1], root.replace(ctlogs=swapped))
    late = tuple(dataclasses.replace(log, valid_for=ValidityPeriod(NOW)) for log in root.ctlogs)
    with pytest.raises(VerificationError, match="not valid at"):
        verify_embedded_sct(LEAF, path[1], root.replace(ctlogs=late))
    with pytest.raises(VerificationError, match="does not verify"):  # wrong issuer key hash
        verify_embedded_sct(LEAF, path[2], root)


def test_leaf_without_sct() -> None:
    old = x509.load_pem_x509_certificate(
        (LEGACY / "srs-kubewarden-keyless-2021-valid" / "certificate.pem").read_bytes())
    with pytest.raises(VerificationError, match="does not include required embedded SCT"):
        verify_embedded_sct(old, old, load_default())


# -- a small generated PKI for the usage and constraint rules ------------------------

def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer: str, key: ec.EllipticCurvePrivateKey,
          signer: ec.EllipticCurvePrivateKey, *, ca: bool, path_length: int | None = None,
          eku: list[x509.ObjectIdentifier] | None = None, digital_signature: bool = True
          ) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - timedelta(days=1))
               .not_valid_after(NOW + timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), True)
               .add_extension(x509.KeyUsage(digital_signature=digital_signature,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            key_cert_sign=ca, crl_sign=ca, encipher_only=False,
                                            decipher_only=False), True))
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), False)
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def pki() -> dict[str, object]:
    keys = {n: ec.generate_private_key(ec.SECP256R1()) for n in ("root", "mid", "leaf")}
    root = _cert("root", "root", keys["root"], keys["root"], ca=True)
    mid = _cert("mid", "root", keys["mid"], keys["root"], ca=True, path_length=0,
                eku=[ExtendedKeyUsageOID.CODE_SIGNING])
    trust = TrustedRoot((), (), (CertificateAuthority((mid, root), ValidityPeriod.always()),),
                        ())
    return {"keys": keys, "root": root, "mid": mid, "trust": trust}


def _leaf(pki: dict[str, object], **kwargs: object) -> x509.Certificate:
    keys = pki["keys"]
    assert isinstance(keys, dict)
    return _cert("leaf", "mid", keys["leaf"], keys["mid"], ca=False, **kwargs)  # type: ignore[arg-type]


def test_generated_leaf_verifies(pki: dict[str, object]) -> None:
    trust = pki["trust"]
    assert isinstance(trust, TrustedRoot)
    path = verify_certificate_chain(_leaf(pki, eku=[ExtendedKeyUsageOID.CODE_SIGNING]), trust,
                                    NOW)
    assert len(path) == 3
    verify_certificate_chain(_leaf(pki), trust, NOW)  # no EKU extension: any usage


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"eku": [ExtendedKeyUsageOID.SERVER_AUTH]}, "codeSigning"),
    ({"digital_signature": False}, "digitalSignature"),
])
def test_leaf_usage_rules(pki: dict[str, object], kwargs: dict[str, object], message: str
                          ) -> None:
    trust = pki["trust"]
    assert isinstance(trust, TrustedRoot)
    with pytest.raises(VerificationError, match=message):
        verify_certificate_chain(_leaf(pki, **kwargs), trust, NOW)


def test_path_length_and_ca_flag(pki: dict[str, object]) -> None:
    keys = pki["keys"]
    assert isinstance(keys, dict)
    root, mid = pki["root"], pki["mid"]
    assert isinstance(root, x509.Certificate) and isinstance(mid, x509.Certificate)
    sub = _cert("sub", "mid", keys["leaf"], keys["mid"], ca=True,
                eku=[ExtendedKeyUsageOID.CODE_SIGNING])
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    deep = _cert("deep", "sub", leaf_key, keys["leaf"], ca=False)
    trust = TrustedRoot((), (), (CertificateAuthority((sub, mid, root),
                                                      ValidityPeriod.always()),), ())
    with pytest.raises(VerificationError, match="no path"):  # mid has pathlen 0
        verify_certificate_chain(deep, trust, NOW)
    not_ca = _cert("notca", "root", keys["mid"], keys["root"], ca=False)
    leaf = _leaf(pki)
    trust2 = TrustedRoot((), (), (CertificateAuthority((not_ca, root),
                                                       ValidityPeriod.always()),), ())
    with pytest.raises(VerificationError, match="no path"):
        verify_certificate_chain(leaf, trust2, NOW)
