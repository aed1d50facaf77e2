"""signer.formats.bundle: parsing Sigstore bundles and cosign's legacy blob bundles."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from signer.errors import InputError
from signer.formats import bundle as fmt


def _load(conformance_dir: Path, case: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (conformance_dir / "bundles" / case / "bundle.json").read_text())
    return data


@pytest.mark.parametrize(("media_type", "version"), [
    ("application/vnd.dev.sigstore.bundle+json;version=0.1", (0, 1)),
    ("application/vnd.dev.sigstore.bundle+json;version=0.2", (0, 2)),
    ("application/vnd.dev.sigstore.bundle+json;version=0.3", (0, 3)),
    ("application/vnd.dev.sigstore.bundle.v0.3+json", (0, 3)),
])
def test_both_media_type_spellings(conformance_dir: Path, media_type: str,
                                   version: tuple[int, int]) -> None:
    document = _load(conformance_dir, "sc-happy-path-v0.3")
    document["mediaType"] = media_type
    assert fmt.parse_bundle(document).version == version


@pytest.mark.parametrize("media_type", [
    "application/vnd.dev.sigstore.bundle+json;version=0.4",
    "application/vnd.dev.sigstore.bundle.v1.0+json",
    "application/json", None,
])
def test_unknown_media_types_are_rejected(conformance_dir: Path, media_type: Any) -> None:
    document = _load(conformance_dir, "sc-happy-path-v0.3")
    document["mediaType"] = media_type
    with pytest.raises(InputError, match="bundle:"):
        fmt.parse_bundle(document)


def test_parses_every_field_of_a_v2_bundle(conformance_dir: Path) -> None:
    parsed = fmt.parse_bundle(_load(conformance_dir, "sc-rekor2-happy-path"))
    entry = parsed.tlog_entries[0]
    assert (entry.kind, entry.version, entry.is_rekor_v2) == ("hashedrekord", "0.0.2", True)
    assert entry.signed_entry_timestamp is None and entry.integrated_time == 0
    assert entry.inclusion_proof is not None and entry.inclusion_proof.tree_size == 736
    assert len(parsed.rfc3161_timestamps) == 1
    assert parsed.message_signature is not None and parsed.dsse_envelope is None
    assert parsed.certificate is not None and parsed.chain == ()


def test_int64_as_number_or_string_and_null_members(conformance_dir: Path) -> None:
    document = _load(conformance_dir, "sc-happy-path-v0.3")
    entry = document["verificationMaterial"]["tlogEntries"][0]
    entry["logIndex"] = int(entry["logIndex"])
    document["verificationMaterial"]["timestampVerificationData"] = None
    parsed = fmt.parse_bundle(document)
    assert parsed.tlog_entries[0].log_index == 79571823
    assert parsed.rfc3161_timestamps == ()
    entry["logIndex"] = True
    with pytest.raises(InputError, match="logIndex"):
        fmt.parse_bundle(document)


def test_base64_with_line_breaks_is_accepted_as_go_does(conformance_dir: Path) -> None:
    document = _load(conformance_dir, "sc-happy-path-v0.3")
    signature = document["messageSignature"]["signature"]
    document["messageSignature"]["signature"] = signature[:20] + "\n" + signature[20:]
    assert fmt.parse_bundle(document).signature == base64.b64decode(signature)


@pytest.mark.parametrize("mutation", ["both", "neither", "bad-cert", "no-kind", "neg-time"])
def test_structural_errors(conformance_dir: Path, mutation: str) -> None:
    document = _load(conformance_dir, "sc-happy-path-v0.3")
    dsse = _load(conformance_dir, "sc-happy-path-intoto-in-dsse-v3")["dsseEnvelope"]
    entry = document["verificationMaterial"]["tlogEntries"][0]
    if mutation == "both":
        document["dsseEnvelope"] = dsse
    elif mutation == "neither":
        del document["messageSignature"]
    elif mutation == "bad-cert":
        document["verificationMaterial"]["certificate"]["rawBytes"] = "AAAA"
    elif mutation == "no-kind":
        del entry["kindVersion"]
    elif mutation == "neg-time":
        entry["integratedTime"] = "-5"
    with pytest.raises(InputError, match=r"^bundle: "):
        fmt.parse_bundle(document)


def test_dsse_envelope_and_pae(conformance_dir: Path) -> None:
    parsed = fmt.parse_bundle(_load(conformance_dir, "sc-happy-path-intoto-in-dsse-v3"))
    envelope = parsed.dsse_envelope
    assert envelope is not None and len(envelope.signatures) == 1
    assert envelope.pae().startswith(b"DSSEv1 28 application/vnd.in-toto+json ")
    assert fmt.pae("t", b"ab") == b"DSSEv1 1 t 2 ab"
    statement = fmt.parse_statement(envelope.payload)
    assert statement["subject"]


@pytest.mark.parametrize("payload", [
    b"not json", b"[]", b'{"_type": "other", "subject": [{"digest": {}}]}',
    b'{"_type": "https://in-toto.io/Statement/v1", "subject": []}',
    b'{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "x"}]}',
])
def test_bad_statements(payload: bytes) -> None:
    with pytest.raises(InputError):
        fmt.parse_statement(payload)


def test_legacy_blob_bundle(conformance_dir: Path) -> None:
    path = conformance_dir / "cosign-legacy/srs-cosign-sign-blob-bundle-2022-valid"
    document = json.loads((path / "cosign-blob-bundle.json").read_text())
    assert fmt.is_legacy_blob_bundle(document)
    assert not fmt.is_legacy_blob_bundle(_load(conformance_dir, "sc-happy-path-v0.3"))
    legacy = fmt.parse_legacy_blob_bundle(document)
    assert legacy.rekor_bundle is not None and legacy.rekor_bundle.log_index == 7810348
    assert legacy.certificate is not None
    broken = copy.deepcopy(document)
    broken["cert"] = base64.b64encode(b"not a pem").decode()
    with pytest.raises(InputError, match="bundle: cert"):
        fmt.parse_legacy_blob_bundle(broken)
