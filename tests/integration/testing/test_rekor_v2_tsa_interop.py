"""sigstore-python (an independent client) signs against the local stack through
``signing_config.v0.2.json``: it picks Rekor v2 (the highest version the config
offers) and must timestamp with the stack's TSA; the bundle verifies offline in
sigstore-python and in ``signer verify-blob`` against the stack's trusted root.
Corrupting the timestamp or the Ed25519 checkpoint makes both reject it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from sigstore.errors import VerificationError
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier, policy

from signer.cli.main import main
from signer.testing.stack import Stack

pytestmark = pytest.mark.slow

ARTIFACT = b"signed by sigstore-python with Rekor v2 and an RFC 3161 timestamp\n"


def _config(stack: Stack) -> ClientTrustConfig:
    return ClientTrustConfig.from_json(stack.client_trust_config_v02_path.read_text())


def _verify(stack: Stack, bundle: Bundle) -> None:
    verifier = Verifier(trusted_root=_config(stack).trusted_root)
    identity = policy.Identity(identity=stack.default_identity, issuer=stack.oidc_issuer_url)
    verifier.verify_artifact(ARTIFACT, bundle, identity)


def _verify_blob(stack: Stack, bundle: Bundle, directory: Path) -> int:
    """``signer verify-blob`` of ARTIFACT with ``bundle``; its exit code."""
    (directory / "artifact").write_bytes(ARTIFACT)
    (directory / "artifact.sigstore.json").write_text(bundle.to_json())
    return main(["verify-blob", "--bundle", str(directory / "artifact.sigstore.json"),
                 "--trusted-root", str(stack.trusted_root_path),
                 "--certificate-identity", stack.default_identity,
                 "--certificate-oidc-issuer", stack.oidc_issuer_url,
                 str(directory / "artifact")])


@pytest.fixture(scope="module")
def v2_bundle(sigstore_stack: Stack) -> Bundle:
    context = SigningContext.from_trust_config(_config(sigstore_stack))
    with context.signer(IdentityToken(sigstore_stack.issue_token())) as signer:
        for n in range(2):  # a few entries first, so the proof is not trivial
            signer.sign_artifact(b"filler %d" % n)
        return signer.sign_artifact(ARTIFACT)


def test_the_signing_config_lists_both_logs_and_the_tsa(sigstore_stack: Stack) -> None:
    config = json.loads(sigstore_stack.signing_config_v02_path.read_text())
    assert config["mediaType"] == "application/vnd.dev.sigstore.signingconfig.v0.2+json"
    logs = {(s["url"], s["majorApiVersion"]) for s in config["rekorTlogUrls"]}
    assert logs == {(sigstore_stack.rekor_url, 1), (sigstore_stack.rekor_v2_url, 2)}
    assert [s["url"] for s in config["tsaUrls"]] == [sigstore_stack.tsa_url]
    assert all(s["validFor"]["start"] and s["operator"] for s in
               config["caUrls"] + config["oidcUrls"] + config["tsaUrls"])
    assert config["rekorTlogConfig"] == {"selector": "ANY"}
    info = json.loads(sigstore_stack.stack_json_path.read_text())
    assert info["signing_config"] == str(sigstore_stack.signing_config_v02_path)
    assert info["tsa_url"].endswith("/api/v1/timestamp")
    assert info["rekor_v2_url"] == sigstore_stack.rekor_v2_url


def test_sigstore_python_signs_with_rekor_v2_and_tsa(sigstore_stack: Stack,
                                                     v2_bundle: Bundle) -> None:
    document = json.loads(v2_bundle.to_json())
    entry = document["verificationMaterial"]["tlogEntries"][0]
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
    assert "inclusionPromise" not in entry
    assert entry["inclusionProof"]["logIndex"] == entry["logIndex"]
    assert int(entry["inclusionProof"]["treeSize"]) >= 3
    origin = sigstore_stack.rekor_v2_url.removeprefix("http://")
    assert entry["inclusionProof"]["checkpoint"]["envelope"].startswith(origin + "\n")
    assert base64.b64decode(entry["logId"]["keyId"]) == sigstore_stack.rekor_v2_log.log_id
    stamps = document["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
    assert len(stamps) == 1
    _verify(sigstore_stack, v2_bundle)


def test_signer_verify_blob_accepts_it(sigstore_stack: Stack, v2_bundle: Bundle,
                                       tmp_path: Path) -> None:
    assert _verify_blob(sigstore_stack, v2_bundle, tmp_path) == 0


def test_a_corrupted_timestamp_is_rejected(sigstore_stack: Stack, v2_bundle: Bundle,
                                           tmp_path: Path) -> None:
    document = json.loads(v2_bundle.to_json())
    stamp = document["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
    raw = bytearray(base64.b64decode(stamp["signedTimestamp"]))
    raw[-1] ^= 0x01  # the last byte of the CMS signature
    stamp["signedTimestamp"] = base64.b64encode(bytes(raw)).decode()
    bad = Bundle.from_json(json.dumps(document))
    with pytest.raises(VerificationError):
        _verify(sigstore_stack, bad)
    assert _verify_blob(sigstore_stack, bad, tmp_path) == 1


def test_a_corrupted_checkpoint_signature_is_rejected(sigstore_stack: Stack,
                                                      v2_bundle: Bundle) -> None:
    document = json.loads(v2_bundle.to_json())
    checkpoint = document["verificationMaterial"]["tlogEntries"][0]["inclusionProof"][
        "checkpoint"]
    note, _, line = checkpoint["envelope"].rstrip("\n").rpartition("\n")
    prefix, _, b64 = line.rpartition(" ")
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 0x01
    checkpoint["envelope"] = f"{note}\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(VerificationError, match="checkpoint"):
        _verify(sigstore_stack, Bundle.from_json(json.dumps(document)))
