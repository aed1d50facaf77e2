"""Malformed signature material fails one named check; it never raises."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from signer.formats.legacy import (
    ANNOTATION_BUNDLE,
    ANNOTATION_CERTIFICATE,
    ANNOTATION_SIGNATURE,
    SignatureLayer,
)
from signer.verify.checks import CHECK_MALFORMED, CHECK_NAMES
from tests.unit.verify.cases import LEGACY, load_case
from tests.unit.verify.test_conformance_pure import _verify

VALID = load_case(LEGACY / "cimg-fulcio-rekor-valid")
LAYER = VALID.layers[0]


def _body(**spec_changes: object) -> str:
    bundle = json.loads(LAYER.annotations[ANNOTATION_BUNDLE])
    body = json.loads(base64.b64decode(bundle["Payload"]["body"]))
    body.update(spec_changes)
    bundle["Payload"]["body"] = base64.b64encode(json.dumps(body).encode()).decode()
    return json.dumps(bundle)


CASES = {
    "signature not base64": ({ANNOTATION_SIGNATURE: "***"}, None, "signature"),
    "certificate garbage": ({ANNOTATION_CERTIFICATE: "-----BEGIN CERTIFICATE-----\nAAAA\n"
                                                     "-----END CERTIFICATE-----\n"}, None,
                            "certificate"),
    "no certificate": ({ANNOTATION_CERTIFICATE: ""}, None, "certificate"),
    "bundle not JSON": ({ANNOTATION_BUNDLE: "{"}, None, "transparency log"),
    "no bundle": ({ANNOTATION_BUNDLE: ""}, None, "transparency log"),
    "body of another kind": ({ANNOTATION_BUNDLE: _body(kind="intoto")}, None, "rekor body"),
    "body without spec": ({ANNOTATION_BUNDLE: _body(spec={})}, None, "rekor body"),
    "payload not JSON": ({}, b"not json", "rekor body"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_material_fails_a_named_check(name: str) -> None:
    annotations, payload, check = CASES[name]
    layer = dataclasses.replace(LAYER, annotations={**LAYER.annotations, **annotations},
                                payload=LAYER.payload if payload is None else payload)
    [result] = _verify(VALID, [layer])
    assert result.failed_check == check, result.reason
    assert result.failed_check in CHECK_NAMES
    assert "\n" not in result.reason


def test_payload_not_json_fails_claims_when_tlog_is_ignored() -> None:
    key_case = load_case(LEGACY / "srs-busybox-key-no-tlog-valid")
    layer = dataclasses.replace(key_case.layers[0], payload=b"[1, 2]")
    [result] = _verify(key_case, [layer])
    assert result.failed_check == "signature"  # the signature covers other bytes


def _body_hash(value: str) -> str:
    bundle = json.loads(LAYER.annotations[ANNOTATION_BUNDLE])
    body = json.loads(base64.b64decode(bundle["Payload"]["body"]))
    body["spec"]["data"]["hash"]["value"] = value
    bundle["Payload"]["body"] = base64.b64encode(json.dumps(body).encode()).decode()
    return json.dumps(bundle)


@pytest.mark.parametrize("value", ["\u00e9" * 64, "\u0660" * 64, "", "zz", "ab" * 65])
def test_a_rekor_body_hash_that_is_not_hex_fails_the_rekor_body_check(value: str) -> None:
    layer = dataclasses.replace(LAYER, annotations={**LAYER.annotations,
                                                    ANNOTATION_BUNDLE: _body_hash(value)})
    [result] = _verify(VALID, [layer])
    assert result.reason == "rekor body: malformed hashedrekord entry hash"


def test_an_unreadable_layer_fails_alone_beside_a_valid_one() -> None:
    unreadable = SignatureLayer.unreadable("layer 0 annotations are not strings")
    first, second = _verify(VALID, [unreadable, LAYER])
    assert first.reason == "malformed: layer 0 annotations are not strings"
    assert first.failed_check == CHECK_MALFORMED
    assert second.ok, second.reason


@pytest.mark.parametrize("value", ["\u00e9" * 64, "\u0660" * 64, 7, None])
def test_a_statement_subject_digest_of_any_text_is_compared_without_raising(
        value: object) -> None:
    from signer.digest import parse_digest
    from signer.verify.bundle import Artifact, _subject_matches

    artifact = Artifact.from_digest(parse_digest("sha256:" + "ab" * 32))
    statement = {"subject": [{"digest": {"sha256": value}}]}
    assert _subject_matches(statement, artifact) is False
