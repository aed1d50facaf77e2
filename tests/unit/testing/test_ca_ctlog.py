"""CA chain, precertificate/SCT construction, Fulcio extension encoding (no HTTP)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from signer.testing.ca import CertificateAuthority, LeafProfile
from signer.testing.ctlog import POISON_OID, CtLog, CtLogError, tbs_without_extension
from signer.testing.fulcio_identity import IssuerConfig, leaf_profile, utf8_string
from signer.testing.keystore import load_or_create_key
from signer.testing.oidc_server import default_github_claims


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def ct_log(tmp_path_factory: pytest.TempPathFactory) -> CtLog:
    key = load_or_create_key(tmp_path_factory.mktemp("ct"), "ct", "p256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return CtLog(key)


def _profile() -> LeafProfile:
    claims = default_github_claims("https://issuer.example", "sigstore", 0)
    return leaf_profile(IssuerConfig("https://issuer.example", "github-workflow"), claims)


def test_chain_shape(ca: CertificateAuthority) -> None:
    root, intermediate = ca.root, ca.intermediate
    for cert in (root, intermediate):
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        assert cert.public_key().curve.name == "secp384r1"  # type: ignore[union-attr]
    root.verify_directly_issued_by(root)
    intermediate.verify_directly_issued_by(root)
    bc = intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert bc.ca and bc.path_length == 0


def test_ca_is_reloaded_not_regenerated(ca: CertificateAuthority, tmp_path: Path) -> None:
    first = CertificateAuthority.load_or_create(tmp_path)
    second = CertificateAuthority.load_or_create(tmp_path)
    assert first.chain == second.chain
    assert first.chain != ca.chain


def test_sct_tbs_equals_cryptography_precert_tbs(ca: CertificateAuthority, ct_log: CtLog) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = ca.issue(key.public_key(), _profile(), ct_log)
    precert_der = ct_log.entries[-1]
    precert = x509.load_der_x509_certificate(precert_der)
    assert precert.extensions.get_extension_for_oid(POISON_OID).critical
    assert precert.serial_number == leaf.serial_number
    # The TBS the log signed (poison removed by our DER surgery) is exactly the final
    # certificate's TBS without its SCT list, as cryptography computes it.
    assert (
        tbs_without_extension(precert.tbs_certificate_bytes, POISON_OID)
        == leaf.tbs_precertificate_bytes
    )


def test_log_refuses_certificates_without_poison(ca: CertificateAuthority, ct_log: CtLog) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = ca.issue(key.public_key(), _profile(), ct_log)
    with pytest.raises(CtLogError, match="poison"):
        ct_log.add_pre_chain(leaf, ca.chain)
    precert = x509.load_der_x509_certificate(ct_log.entries[-1])
    with pytest.raises(CtLogError, match="not issued"):
        ct_log.add_pre_chain(precert, [ca.root])


def test_utf8_string_encoding() -> None:
    assert utf8_string("push") == b"\x0c\x04push"
    long_value = "x" * 200
    assert utf8_string(long_value)[:3] == b"\x0c\x81\xc8"


def test_github_profile_requires_template_claims() -> None:
    claims = default_github_claims("https://issuer.example", "sigstore", 0)
    del claims["run_attempt"]
    config = IssuerConfig("https://issuer.example", "github-workflow")
    with pytest.raises(Exception, match="run_attempt"):
        leaf_profile(config, claims)


def test_email_profile_requires_verified_email() -> None:
    config = IssuerConfig("https://mail.example", "email")
    claims = {"iss": "https://mail.example", "email": "a@b.c", "email_verified": False}
    with pytest.raises(Exception, match="email_verified"):
        leaf_profile(config, claims)


def test_importing_the_package_stays_light() -> None:
    code = (
        "import sys, signer.testing; "
        "heavy = [m for m in ('cryptography', 'requests', 'jwt') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
