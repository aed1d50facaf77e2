"""sigstore-js checks bundles that sigstore-python signs against the local stack.

Blob (message signature) and DSSE (in-toto statement) bundles, signed through three
signing configs of the stack: Rekor v1 without a TSA, Rekor v1 with the TSA, and
Rekor v2 with the TSA (what cosign v3 uses). Each verifies offline in sigstore-js
against the stack's trusted root; tampered copies are refused, so the check can fail.
``signer verify-blob`` must reach the same verdict on every one of them: a bundle one
verifier accepts and the other refuses is a disagreement these tests would show.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sigstore.dsse import Statement
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier, policy

from signer.cli.main import main
from signer.testing.stack import Stack
from signer.testing.trust_material import client_trust_config
from tests.sigstore_js import JsResult, SigstoreJs

pytestmark = pytest.mark.slow

ARTIFACT = b"signed by sigstore-python, checked by sigstore-js\n"
OTHER_ARTIFACT = b"not the artifact that was signed\n"
PREDICATE_TYPE = "https://example.com/sigstore-js-check/v1"

# (name, Rekor major versions offered, TSA) -> sigstore-python picks the highest version
CONFIGS = {"rekor1": ((1,), False), "rekor1-tsa": ((1,), True), "rekor2-tsa": ((2,), True)}
KINDS = ("blob", "dsse")
CASES = [f"{kind}-{config}" for config in CONFIGS for kind in KINDS]


@dataclass(frozen=True)
class Signed:
    """One bundle sigstore-python wrote, and what it must contain."""

    name: str
    bundle: Path
    log_entry: str  # kind/version of its tlog entry
    timestamps: int  # RFC 3161 timestamps in it


def _statement() -> Statement:
    digest = {"sha256": hashlib.sha256(ARTIFACT).hexdigest()}
    return Statement(json.dumps({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "artifact", "digest": digest}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {"checked-by": "sigstore-js"},
    }).encode())


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sigstore-js")
    (directory / "artifact").write_bytes(ARTIFACT)
    (directory / "other-artifact").write_bytes(OTHER_ARTIFACT)
    return directory


@pytest.fixture(scope="module")
def signed(sigstore_stack: Stack, workdir: Path) -> dict[str, Signed]:
    """The six bundles, signed once for the module."""
    bundles: dict[str, Signed] = {}
    for config_name, (versions, tsa) in CONFIGS.items():
        config = client_trust_config(sigstore_stack.endpoints(), rekor_versions=versions,
                                     with_tsa=tsa)
        context = SigningContext.from_trust_config(
            ClientTrustConfig.from_json(json.dumps(config)))
        with context.signer(IdentityToken(sigstore_stack.issue_token())) as signer:
            for n in range(3):  # other entries first, so no inclusion proof is trivial
                signer.sign_artifact(b"filler %d" % n)
            made = {"blob": signer.sign_artifact(ARTIFACT), "dsse": signer.sign_dsse(_statement())}
        for kind, bundle in made.items():
            name = f"{kind}-{config_name}"
            path = workdir / f"{name}.sigstore.json"
            path.write_text(bundle.to_json())
            if versions == (2,):
                log_entry = "hashedrekord/0.0.2"  # a DSSE envelope too: over its PAE
            else:
                log_entry = "hashedrekord/0.0.1" if kind == "blob" else "dsse/0.0.1"
            bundles[name] = Signed(name, path, log_entry, 1 if tsa else 0)
    return bundles


def _signer_verify_blob(stack: Stack, bundle: Path, artifact: Path,
                        identity: str | None = None) -> int:
    """signer's own verdict on the same bundle (exit code of ``signer verify-blob``)."""
    return main(["verify-blob", "--bundle", str(bundle),
                 "--trusted-root", str(stack.trusted_root_path),
                 "--certificate-identity", identity or stack.default_identity,
                 "--certificate-oidc-issuer", stack.oidc_issuer_url, str(artifact)])


def _js(sigstore_js: SigstoreJs, stack: Stack, bundle: Path, artifact: Path,
        identity: str | None = None) -> JsResult:
    """sigstore-js's verdict on ``bundle`` for ``artifact`` and the stack's identity."""
    return sigstore_js.verify(bundle, stack.trusted_root_path, artifact=artifact,
                              identity=identity or stack.default_identity,
                              issuer=stack.oidc_issuer_url)


def _tampered(case: Signed, change: Callable[[dict[str, Any]], None], label: str) -> Path:
    """A copy of the case's bundle with ``change`` applied to its JSON."""
    document = json.loads(case.bundle.read_text())
    change(document)
    path = case.bundle.with_name(f"{case.name}-{label}.sigstore.json")
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("name", CASES)
def test_sigstore_js_verifies_the_bundle(name: str, signed: dict[str, Signed],
                                         sigstore_stack: Stack, sigstore_js: SigstoreJs,
                                         workdir: Path) -> None:
    case = signed[name]
    result = _js(sigstore_js, sigstore_stack, case.bundle, workdir / "artifact")
    assert result.verified, result
    assert result.details["identity"] == sigstore_stack.default_identity
    assert result.details["issuer"] == sigstore_stack.oidc_issuer_url
    assert result.details["tlogEntries"] == [case.log_entry]
    assert result.details["rfc3161Timestamps"] == case.timestamps
    expected_content = "dsseEnvelope" if name.startswith("dsse") else "messageSignature"
    assert result.details["content"] == expected_content
    assert _signer_verify_blob(sigstore_stack, case.bundle, workdir / "artifact") == 0


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith("dsse")])
def test_a_statement_verifies_by_its_subject_digest(name: str, signed: dict[str, Signed],
                                                    sigstore_stack: Stack,
                                                    sigstore_js: SigstoreJs) -> None:
    digest = "sha256:" + hashlib.sha256(ARTIFACT).hexdigest()
    result = sigstore_js.verify(signed[name].bundle, sigstore_stack.trusted_root_path,
                                digest=digest)
    assert result.verified, result
    assert result.details["predicateType"] == PREDICATE_TYPE
    other = "sha256:" + hashlib.sha256(OTHER_ARTIFACT).hexdigest()
    refused = sigstore_js.verify(signed[name].bundle, sigstore_stack.trusted_root_path,
                                 digest=other)
    assert not refused.verified and refused.error == "STATEMENT_ERROR", refused


# -- tampered copies -----------------------------------------------------------------

def _flip_last_byte(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _signature(document: dict[str, Any]) -> None:
    if "dsseEnvelope" in document:
        sig = document["dsseEnvelope"]["signatures"][0]
        sig["sig"] = _flip_last_byte(sig["sig"])
    else:
        message = document["messageSignature"]
        message["signature"] = _flip_last_byte(message["signature"])


def _inclusion_proof(document: dict[str, Any]) -> None:
    proof = document["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["hashes"][0] = _flip_last_byte(proof["hashes"][0])


def _root_hash(document: dict[str, Any]) -> None:
    proof = document["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["rootHash"] = _flip_last_byte(proof["rootHash"])


def _log_body(document: dict[str, Any]) -> None:
    entry = document["verificationMaterial"]["tlogEntries"][0]
    body = json.loads(base64.b64decode(entry["canonicalizedBody"]))
    body["spec"]["tampered"] = True  # still JSON; no longer what the log signed
    entry["canonicalizedBody"] = base64.b64encode(
        json.dumps(body, separators=(",", ":")).encode()).decode()


def _certificate(document: dict[str, Any]) -> None:
    material = document["verificationMaterial"]
    material["certificate"]["rawBytes"] = _flip_last_byte(material["certificate"]["rawBytes"])


def _timestamp(document: dict[str, Any]) -> None:
    stamps = document["verificationMaterial"]["timestampVerificationData"]
    stamp = stamps["rfc3161Timestamps"][0]
    stamp["signedTimestamp"] = _flip_last_byte(stamp["signedTimestamp"])


TAMPERINGS: dict[str, Callable[[dict[str, Any]], None]] = {
    "signature": _signature, "inclusion-proof": _inclusion_proof, "log-body": _log_body,
    "certificate": _certificate, "timestamp": _timestamp,
}
# a bad timestamp beside a Rekor v1 integrated time: see the known difference below
_TAMPER_CASES = [(name, how) for name in CASES for how in TAMPERINGS
                 if how != "timestamp" or name.endswith("rekor2-tsa")]


@pytest.mark.parametrize(("name", "how"), _TAMPER_CASES)
def test_a_tampered_copy_is_refused_by_both(name: str, how: str, signed: dict[str, Signed],
                                            sigstore_stack: Stack, sigstore_js: SigstoreJs,
                                            workdir: Path) -> None:
    bad = _tampered(signed[name], TAMPERINGS[how], how)
    result = _js(sigstore_js, sigstore_stack, bad, workdir / "artifact")
    assert not result.verified, f"sigstore-js accepted a bundle with a bad {how}"
    assert result.error and result.message
    assert _signer_verify_blob(sigstore_stack, bad, workdir / "artifact") == 1


@pytest.mark.parametrize("name", CASES)
def test_another_artifact_or_identity_is_refused_by_both(
        name: str, signed: dict[str, Signed], sigstore_stack: Stack,
        sigstore_js: SigstoreJs, workdir: Path) -> None:
    bundle = signed[name].bundle
    proof = json.loads(bundle.read_text())["verificationMaterial"]["tlogEntries"][0][
        "inclusionProof"]
    assert proof["hashes"], "the inclusion proof is not trivial"
    other = _js(sigstore_js, sigstore_stack, bundle, workdir / "other-artifact")
    assert not other.verified, other
    assert _signer_verify_blob(sigstore_stack, bundle, workdir / "other-artifact") == 1
    stranger = "https://github.com/someone/else/.github/workflows/x.yml@refs/heads/main"
    wrong = _js(sigstore_js, sigstore_stack, bundle, workdir / "artifact", stranger)
    assert not wrong.verified and wrong.error == "UNTRUSTED_SIGNER_ERROR", wrong
    assert _signer_verify_blob(sigstore_stack, bundle, workdir / "artifact", stranger) == 1


@pytest.mark.parametrize("name", CASES)
def test_known_difference_a_root_hash_that_is_not_the_checkpoints(
        name: str, signed: dict[str, Signed], sigstore_stack: Stack,
        sigstore_js: SigstoreJs, workdir: Path) -> None:
    """The bundle's ``inclusionProof.rootHash`` no longer equals the checkpoint's root.
    sigstore-js ignores that field (it compares the root it computes from the proof
    with the signed checkpoint's) and accepts; signer, like sigstore-go, requires the
    field to be the checkpoint's root and refuses. Recorded so a change in either
    shows up; refusing is the stricter side and loses nothing genuine."""
    bad = _tampered(signed[name], _root_hash, "root-hash")
    result = _js(sigstore_js, sigstore_stack, bad, workdir / "artifact")
    assert result.verified, result
    assert _signer_verify_blob(sigstore_stack, bad, workdir / "artifact") == 1


@pytest.mark.parametrize("name", [c for c in CASES if c.endswith("rekor1-tsa")])
def test_known_difference_a_bad_timestamp_beside_a_signed_log_time(
        name: str, signed: dict[str, Signed], sigstore_stack: Stack,
        sigstore_js: SigstoreJs, workdir: Path) -> None:
    """A Rekor v1 bundle whose RFC 3161 timestamp no longer verifies, while its log
    entry's SET-signed integrated time does. sigstore-js refuses: every timestamp in a
    bundle must verify. sigstore-python (and signer, as sigstore-go does) count only
    the timestamps that verify, need one, and accept. Recorded so a change shows up."""
    bad = _tampered(signed[name], _timestamp, "timestamp-beside-log-time")
    result = _js(sigstore_js, sigstore_stack, bad, workdir / "artifact")
    assert not result.verified and result.error == "TIMESTAMP_ERROR", result
    assert _signer_verify_blob(sigstore_stack, bad, workdir / "artifact") == 0
    trust = ClientTrustConfig.from_json(sigstore_stack.client_trust_config_v02_path.read_text())
    identity = policy.Identity(identity=sigstore_stack.default_identity,
                               issuer=sigstore_stack.oidc_issuer_url)
    python_bundle = Bundle.from_json(bad.read_text())
    verifier = Verifier(trusted_root=trust.trusted_root)
    if name.startswith("dsse"):
        verifier.verify_dsse(python_bundle, identity)
    else:
        verifier.verify_artifact(ARTIFACT, python_bundle, identity)
