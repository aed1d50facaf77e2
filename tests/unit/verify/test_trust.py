"""TrustedRoot parsing, validity windows, lookups and cosign's legacy overrides."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from signer.errors import TrustError, VerificationError
from signer.trust import (
    LegacyTrustOptions,
    TrustedRoot,
    ValidityPeriod,
    apply_legacy_overrides,
    load_default,
    parse_timestamp,
)
from tests.unit.verify.cases import LEGACY

TRUST = LEGACY.parent / "trust"
PUBLIC_GOOD_REKOR = bytes.fromhex(
    "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d")


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def test_embedded_default_is_the_public_good_root() -> None:
    root = load_default()
    assert root is load_default()  # parsed once
    shipped = TrustedRoot.from_file(TRUST / "public-good-trusted_root.json")
    assert [t.log_id for t in root.tlogs] == [t.log_id for t in shipped.tlogs]
    assert root.tlog_by_id(PUBLIC_GOOD_REKOR) is not None
    assert root.tlog_by_id(PUBLIC_GOOD_REKOR).base_url == "https://rekor.sigstore.dev"
    assert len(root.certificate_authorities) == 2
    assert len(root.ctlogs) == 2
    assert len(root.timestamp_authorities) == 1
    assert root.certificate_authorities[1].root.subject.rfc4514_string() == \
        "CN=sigstore,O=sigstore.dev"


def test_log_ids_are_sha256_of_the_key_for_ecdsa_logs() -> None:
    from signer.keys import public_key_der

    for log in (*load_default().ctlogs, load_default().tlogs[0]):
        assert log.log_id == hashlib.sha256(public_key_der(log.key)).digest()


@pytest.mark.parametrize(("text", "expected"), [
    ("2022-12-31T23:59:59.999Z", _utc(2022, 12, 31, 23, 59, 59, 999000)),
    ("2021-01-12T11:53:27Z", _utc(2021, 1, 12, 11, 53, 27)),
    ("2025-01-01T00:00:00.123456789Z", _utc(2025, 1, 1, 0, 0, 0, 123456)),
    ("2025-01-01T02:00:00+02:00", _utc(2025, 1, 1, 0, 0, 0)),
])
def test_timestamps(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["2025-13-01T00:00:00Z", "yesterday", "2025-01-01"])
def test_bad_timestamps(text: str) -> None:
    with pytest.raises(TrustError):
        parse_timestamp(text)


def test_validity_is_inclusive_and_missing_start_contains_nothing() -> None:
    window = ValidityPeriod(_utc(2022, 1, 1), _utc(2022, 12, 31))
    assert window.contains(_utc(2022, 1, 1))
    assert window.contains(_utc(2022, 12, 31))
    assert not window.contains(_utc(2023, 1, 1))
    assert not window.contains(_utc(2021, 12, 31, 23, 59, 59))
    assert ValidityPeriod(_utc(2022, 1, 1)).contains(_utc(2099, 1, 1))
    assert not ValidityPeriod(None).contains(_utc(2022, 6, 1))


def test_lookup_respects_windows() -> None:
    root = load_default()
    old_ct = root.ctlogs[0]
    assert old_ct.valid_for.end is not None
    assert root.ctlogs_for(old_ct.log_id, _utc(2022, 6, 1)) == [old_ct]
    assert root.ctlogs_for(old_ct.log_id, _utc(2023, 6, 1)) == []
    assert root.tlogs_for(b"\x00" * 32) == []
    assert root.ctlog_by_id(b"\x00" * 32) is None


def test_malformed_roots_are_one_line_trust_errors(tmp_path: Path) -> None:
    for content in (b"not json", b"[]", b'{"mediaType": "application/x-other"}',
                    b'{"tlogs": {}}',
                    json.dumps({"certificateAuthorities": [{"certChain": {"certificates": [
                        {"rawBytes": base64.b64encode(b"junk").decode()}]}}]}).encode()):
        with pytest.raises(TrustError):
            TrustedRoot.from_bytes(content)
    with pytest.raises(TrustError, match="cannot read trusted root"):
        TrustedRoot.from_file(tmp_path / "missing.json")


def test_client_trust_config_is_accepted() -> None:
    inner = json.loads((TRUST / "public-good-trusted_root.json").read_text())
    wrapped = json.dumps({"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1"
                                       "+json", "trustedRoot": inner}).encode()
    assert len(TrustedRoot.from_bytes(wrapped).tlogs) == 2


def test_legacy_rekor_key_replaces_only_the_logs() -> None:
    root = apply_legacy_overrides(load_default(), LegacyTrustOptions(
        rekor_public_key=str(TRUST / "legacy" / "rekor.pub")))
    assert [t.log_id for t in root.tlogs] == [PUBLIC_GOOD_REKOR]
    assert root.certificate_authorities == load_default().certificate_authorities


def test_legacy_root_file_splits_roots_and_intermediates(tmp_path: Path) -> None:
    bundle = tmp_path / "roots.pem"
    bundle.write_text((TRUST / "legacy" / "fulcio_intermediate_v1.crt.pem").read_text()
                      + (TRUST / "legacy" / "fulcio_v1.crt.pem").read_text())
    options = LegacyTrustOptions.from_environment({"SIGSTORE_ROOT_FILE": str(bundle)})
    assert options.any
    root = apply_legacy_overrides(TrustedRoot.empty(), options)
    [authority] = root.certificate_authorities
    assert authority.root.subject.rfc4514_string() == "CN=sigstore,O=sigstore.dev"
    assert [c.subject.rfc4514_string() for c in authority.intermediates] == [
        "CN=sigstore-intermediate,O=sigstore.dev"]


def test_ca_flags(tmp_path: Path) -> None:
    pki = LEGACY / "cimg-pki-byo-rsa-valid"
    root = apply_legacy_overrides(TrustedRoot.empty(), LegacyTrustOptions(
        ca_roots=str(pki / "ca-roots.pem"), ca_intermediates=str(pki / "ca-intermediates.pem")))
    assert len(root.certificate_authorities) == 1
    with pytest.raises(TrustError, match="needs --ca-roots"):
        apply_legacy_overrides(TrustedRoot.empty(), LegacyTrustOptions(
            ca_intermediates=str(pki / "ca-intermediates.pem")))
    with pytest.raises(TrustError, match="no self-signed root"):
        apply_legacy_overrides(TrustedRoot.empty(), LegacyTrustOptions(
            certificate_chain=str(pki / "ca-intermediates.pem")))
    (tmp_path / "junk.pem").write_text("junk")
    with pytest.raises(TrustError):
        apply_legacy_overrides(TrustedRoot.empty(), LegacyTrustOptions(
            ca_roots=str(tmp_path / "junk.pem")))


def test_legacy_ct_key_file_verifies_the_embedded_sct() -> None:
    from datetime import timedelta

    from cryptography import x509

    from signer.verify.chain import verify_certificate_chain
    from signer.verify.sct import verify_embedded_sct

    leaf = x509.load_pem_x509_certificate(
        (LEGACY / "cimg-fulcio-rekor-valid" / "certificate.pem").read_bytes())
    path = verify_certificate_chain(leaf, load_default(),
                                    leaf.not_valid_before_utc + timedelta(seconds=1))
    only_2022 = apply_legacy_overrides(load_default(), LegacyTrustOptions(
        ct_log_public_key=str(TRUST / "legacy" / "ctfe_2022.pub")))
    assert len(only_2022.ctlogs) == 1
    verify_embedded_sct(leaf, path[1], only_2022)
    only_old = apply_legacy_overrides(load_default(), LegacyTrustOptions(
        ct_log_public_key=str(TRUST / "legacy" / "ctfe.pub")))
    with pytest.raises(VerificationError, match="unknown CT log"):
        verify_embedded_sct(leaf, path[1], only_old)
