"""The ``sigstore`` CLI (sigstore-python 4.x) against the local stack, end to end:
the token comes from our GitHub-style endpoint through sigstore-python's own ambient
GitHub detection (di/id), signing uses our Fulcio and Rekor, verification is offline.
Also a DSSE statement signed through the Python API (Rekor ``dsse`` 0.0.1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sigstore.dsse import StatementBuilder, Subject
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier, policy

from signer.testing.stack import Stack

SIGSTORE = [sys.executable, "-m", "sigstore"]


def _env(stack: Stack, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGSTORE_", "ACTIONS_"))}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_DATA_HOME=str(home / "data"),
        GITHUB_ACTIONS="true",
        ACTIONS_ID_TOKEN_REQUEST_URL=stack.token_request_url,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN=stack.token_request_token,
    )
    return env


@pytest.mark.slow
def test_cli_signs_with_ambient_github_token_and_verifies_offline(
    sigstore_stack: Stack, tmp_path: Path
) -> None:
    artifact = tmp_path / "artifact.txt"
    artifact.write_bytes(b"signed by the sigstore CLI\n")
    bundle = tmp_path / "artifact.txt.sigstore.json"
    config = str(sigstore_stack.client_trust_config_path)
    env = _env(sigstore_stack, tmp_path)
    signed = subprocess.run(
        [*SIGSTORE, "--trust-config", config, "sign", "--bundle", str(bundle), str(artifact)],
        env=env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr.decode()
    entry = json.loads(bundle.read_text())["verificationMaterial"]["tlogEntries"][0]
    assert entry["kindVersion"]["kind"] == "hashedrekord"

    def verify(identity: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [
                *SIGSTORE, "--trust-config", config, "verify", "identity", "--offline",
                "--bundle", str(bundle), "--cert-identity", identity,
                "--cert-oidc-issuer", sigstore_stack.oidc_issuer_url, str(artifact),
            ],
            env=env, capture_output=True, timeout=120, check=False,
        )  # fmt: skip

    ok = verify(sigstore_stack.default_identity)
    assert ok.returncode == 0, ok.stderr.decode()
    assert b"OK" in ok.stderr
    wrong = verify("https://github.com/someone/else/.github/workflows/x.yml@refs/heads/main")
    assert wrong.returncode != 0


def test_dsse_statement_is_logged_and_verifies(sigstore_stack: Stack) -> None:
    config = ClientTrustConfig.from_json(sigstore_stack.client_trust_config_path.read_text())
    statement = (
        StatementBuilder()
        .subjects([Subject(name="image", digest={"sha256": "ab" * 32})])
        .predicate_type("https://example.com/predicate/v1")
        .predicate({"built": True})
        .build()
    )
    context = SigningContext.from_trust_config(config)
    with context.signer(IdentityToken(sigstore_stack.issue_token())) as signer:
        bundle = signer.sign_dsse(statement)
    entry = json.loads(bundle.to_json())["verificationMaterial"]["tlogEntries"][0]
    assert entry["kindVersion"] == {"kind": "dsse", "version": "0.0.1"}
    verifier = Verifier(trusted_root=config.trusted_root)
    identity = policy.Identity(
        identity=sigstore_stack.default_identity, issuer=sigstore_stack.oidc_issuer_url
    )
    payload_type, payload = verifier.verify_dsse(bundle, identity)
    assert payload_type == "application/vnd.in-toto+json"
    assert json.loads(payload)["predicate"] == {"built": True}
