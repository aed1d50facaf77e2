"""The legacy conformance cases through the pure verifier (no registry): every image
case gives its expected result, the SET-only cases through the SET check, and single
mutations of a valid case each fail the check they target."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pytest

from signer.errors import VerificationError
from signer.formats.legacy import (
    ANNOTATION_BUNDLE,
    ANNOTATION_CERTIFICATE,
    ANNOTATION_CHAIN,
    ANNOTATION_SIGNATURE,
    SignatureLayer,
    parse_rekor_bundle,
)
from signer.keys import load_public_key_pem
from signer.trust import LegacyTrustOptions, TrustedRoot, apply_legacy_overrides
from signer.verify import tlog
from signer.verify.policy import IdentityPolicy, SignedIdentityPolicy
from signer.verify.verifier import VerificationPolicy, Verified, verify_signatures
from tests.unit.verify.cases import LEGACY, LegacyCase, all_cases, image_cases, load_case


def _trust(case: LegacyCase) -> TrustedRoot:
    path = case.file("trusted_root")
    base = TrustedRoot.from_file(path) if path is not None else TrustedRoot.empty()
    rekor, roots, intermediates = (case.file("rekor_public_key"), case.file("ca_roots"),
                                   case.file("ca_intermediates"))
    return apply_legacy_overrides(base, LegacyTrustOptions(
        rekor_public_key=str(rekor) if rekor else None,
        ca_roots=str(roots) if roots else None,
        ca_intermediates=str(intermediates) if intermediates else None))


def _policy(case: LegacyCase) -> VerificationPolicy:
    key_path = case.file("key")
    identity = None
    if key_path is None:
        issuer = case.expected.get("issuer")
        identity = IdentityPolicy(identity=case.expected["identity"], issuer=issuer,
                                  issuer_regexp=None if issuer else ".*")
    return VerificationPolicy(
        key=load_public_key_pem(key_path.read_bytes()) if key_path else None,
        identity=identity,
        ignore_tlog=not case.require_tlog,
        ignore_sct=case.ignore_sct,
        signed_identity=SignedIdentityPolicy.parse(case.signed_identity),
    )


def _verify(case: LegacyCase, layers: list[SignatureLayer] | None = None,
            digest: str | None = None, **changes: Any) -> list[Verified]:
    policy = _policy(case).replace(**changes) if changes else _policy(case)
    return verify_signatures(layers or case.layers, digest or case.digest, _trust(case), policy)


CASES = image_cases()


def test_there_are_22_image_cases() -> None:
    assert len(CASES) == 22


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_image_case_gives_expected_result(case: LegacyCase) -> None:
    results = _verify(case)
    passed = [r for r in results if r.ok]
    if case.expect_pass:
        assert passed, [r.reason for r in results]
    else:
        assert not passed
        assert all(r.failed_check for r in results)


SET_ONLY = [c for c in all_cases() if c.mode == "legacy-set-only"]


@pytest.mark.parametrize("case", SET_ONLY, ids=[c.name for c in SET_ONLY])
def test_set_only_case(case: LegacyCase) -> None:
    bundle = parse_rekor_bundle((case.path / "bundle.json").read_text())
    rekor = case.file("rekor_public_key")
    assert rekor is not None
    key = load_public_key_pem(rekor.read_bytes())
    if case.expect_pass:
        tlog.verify_set(bundle, key)
    else:
        with pytest.raises(VerificationError, match="SET"):
            tlog.verify_set(bundle, key)


# -- mutations of a valid keyless case: each must fail the named check ----------------

VALID = load_case(LEGACY / "cimg-fulcio-rekor-valid")
OTHER = load_case(LEGACY / "salr-gar-sig-manifest-keyless-layer-valid")


def _bundle_with(layer: SignatureLayer, **payload_changes: Any) -> str:
    document = json.loads(layer.annotations[ANNOTATION_BUNDLE])
    document["Payload"].update(payload_changes)
    return json.dumps(document)


def _flip_base64(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _mutations() -> dict[str, tuple[list[SignatureLayer], dict[str, Any], str]]:
    layer = VALID.layers[0]
    other_layer = OTHER.layers[1]
    body = json.loads(base64.b64decode(json.loads(layer.annotations[ANNOTATION_BUNDLE])
                                       ["Payload"]["body"]))
    body["spec"]["data"]["hash"]["value"] = "0" * 64
    altered_body = base64.b64encode(json.dumps(body).encode()).decode()

    def annotated(**values: str) -> SignatureLayer:
        merged = {**layer.annotations, **values}
        return dataclasses.replace(layer, annotations=merged)

    payload = bytearray(layer.payload)
    payload[payload.index(b"fulcio-rekor-1")] ^= 0x20
    set_text = json.loads(layer.annotations[ANNOTATION_BUNDLE])["SignedEntryTimestamp"]
    bundle_doc = json.loads(layer.annotations[ANNOTATION_BUNDLE])
    bundle_doc["SignedEntryTimestamp"] = _flip_base64(set_text)
    return {
        "payload byte": ([dataclasses.replace(layer, payload=bytes(payload))], {},
                         "rekor body"),
        "signature": ([annotated(**{ANNOTATION_SIGNATURE: _flip_base64(
            layer.annotations[ANNOTATION_SIGNATURE])})], {}, "rekor body"),
        "certificate": ([annotated(**{ANNOTATION_CERTIFICATE:
                                      other_layer.annotations[ANNOTATION_CERTIFICATE]})], {},
                        "rekor body"),
        "SET": ([annotated(**{ANNOTATION_BUNDLE: json.dumps(bundle_doc)})], {},
                "transparency log"),
        "rekor body": ([annotated(**{ANNOTATION_BUNDLE: _bundle_with(layer, body=altered_body)})],
                       {}, "rekor body"),
        "log index": ([annotated(**{ANNOTATION_BUNDLE: _bundle_with(
            layer, logIndex=VALID.expected["set_log_index"] + 1)})], {}, "transparency log"),
        "integrated time": ([annotated(**{ANNOTATION_BUNDLE: _bundle_with(
            layer, integratedTime=VALID.expected["set_integrated_time"] + 1)})], {},
            "transparency log"),
        "identity": ([layer], {"identity": IdentityPolicy(identity="someone@example.com",
                                                          issuer="https://github.com/login/oauth")},
                     "identity"),
        "issuer": ([layer], {"identity": IdentityPolicy(identity="mitr@redhat.com",
                                                        issuer="https://accounts.google.com")},
                   "identity"),
        "digest": ([layer], {"digest": "sha256:" + "1" * 64}, "claims"),
        "annotation": ([layer], {"annotations": {"env": "prod"}}, "claims"),
    }


MUTATIONS = _mutations()


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_single_mutation_fails_the_named_check(name: str) -> None:
    layers, changes, check = MUTATIONS[name]
    digest = changes.pop("digest", None)
    results = _verify(VALID, layers, digest, **changes)
    assert [r.failed_check for r in results] == [check], [r.reason for r in results]


def test_unmutated_valid_case_passes() -> None:
    assert [r.ok for r in _verify(VALID)] == [True]


def test_wrong_ct_log_fails_sct_check() -> None:
    trust = _trust(VALID)
    results = verify_signatures(VALID.layers, VALID.digest, trust.replace(ctlogs=()),
                                _policy(VALID))
    assert results[0].failed_check == "SCT"
    assert "unknown CT log" in results[0].reason


def test_expired_certificate_without_tlog_fails_validity() -> None:
    results = _verify(VALID, ignore_tlog=True)
    assert results[0].failed_check == "certificate validity"
    assert "expired before observed time" in results[0].reason


# -- the chain annotation: ignored under a trusted root, used by legacy roots alone ----

_LEGACY_TRUST = LEGACY.parent / "trust" / "legacy"
_GARBAGE_PEM = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
CHAIN_VARIANTS: dict[str, str | None] = {
    "published": VALID.layers[0].annotations[ANNOTATION_CHAIN],
    "absent": None,
    "root only": (_LEGACY_TRUST / "fulcio_v1.crt.pem").read_text(),
    "garbage": _GARBAGE_PEM,
}


def _with_chain(chain: str | None) -> SignatureLayer:
    layer = VALID.layers[0]
    annotations = {k: v for k, v in layer.annotations.items() if k != ANNOTATION_CHAIN}
    if chain is not None:
        annotations[ANNOTATION_CHAIN] = chain
    return dataclasses.replace(layer, annotations=annotations)


@pytest.mark.parametrize("variant", list(CHAIN_VARIANTS))
def test_chain_annotation_is_ignored_under_a_trusted_root(variant: str) -> None:
    """cosign-format.md §4.2: with a trusted root the path comes from its certChain."""
    [result] = _verify(VALID, [_with_chain(CHAIN_VARIANTS[variant])])
    assert result.ok, result.reason


@pytest.mark.parametrize("variant", list(CHAIN_VARIANTS))
def test_legacy_root_without_intermediates_takes_them_from_the_chain(variant: str) -> None:
    """--ca-roots alone (cosign's legacy flags): the annotation's intermediates complete
    the path; without them, or with a chain that is not the leaf's, no path."""
    trust = apply_legacy_overrides(TrustedRoot.empty(), LegacyTrustOptions(
        rekor_public_key=str(_LEGACY_TRUST / "rekor.pub"),
        ca_roots=str(_LEGACY_TRUST / "fulcio_v1.crt.pem")))
    policy = _policy(VALID).replace(ignore_sct=True)  # no CT log key among the files
    [result] = verify_signatures([_with_chain(CHAIN_VARIANTS[variant])], VALID.digest, trust,
                                 policy)
    if variant == "published":
        assert result.ok, result.reason
    else:
        assert result.failed_check == "certificate chain", result.reason


def test_legacy_root_with_intermediates_ignores_the_chain_annotation() -> None:
    """--ca-roots with --ca-intermediates: the preloaded pool only (as cosign)."""
    trust = apply_legacy_overrides(TrustedRoot.empty(), LegacyTrustOptions(
        rekor_public_key=str(_LEGACY_TRUST / "rekor.pub"),
        ca_roots=str(_LEGACY_TRUST / "fulcio_v1.crt.pem"),
        ca_intermediates=str(_LEGACY_TRUST / "fulcio_intermediate_v1.crt.pem")))
    policy = _policy(VALID).replace(ignore_sct=True)
    [result] = verify_signatures([_with_chain(_GARBAGE_PEM)], VALID.digest, trust, policy)
    assert result.ok, result.reason
