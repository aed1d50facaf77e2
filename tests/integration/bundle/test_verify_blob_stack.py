"""``signer verify-blob`` on bundles an independent writer (sigstore-python, test-only)
makes against the local Sigstore stack: a message signature over a file and a DSSE
in-toto statement naming it; and the same bundles refused for other data or identity."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sigstore.dsse import Statement
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

from signer.cli.main import main
from signer.testing.stack import Stack
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

pytestmark = pytest.mark.slow

CONTENT = b"release artifact signed by sigstore-python on the local stack\n"


def _context(stack: Stack) -> SigningContext:
    config = ClientTrustConfig.from_json(stack.client_trust_config_path.read_text())
    return SigningContext.from_trust_config(config)


@pytest.fixture(scope="module")
def signed_files(sigstore_stack: Stack, tmp_path_factory: pytest.TempPathFactory  # noqa: F811
                 ) -> Path:
    directory = tmp_path_factory.mktemp("blobs")
    (directory / "artifact").write_bytes(CONTENT)
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "artifact",
                     "digest": {"sha256": hashlib.sha256(CONTENT).hexdigest()}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {}},
    }).encode()
    with _context(sigstore_stack).signer(IdentityToken(sigstore_stack.issue_token())) as signer:
        (directory / "message.sigstore.json").write_text(signer.sign_artifact(CONTENT).to_json())
        (directory / "dsse.sigstore.json").write_text(
            signer.sign_dsse(Statement(statement)).to_json())
    return directory


def _argv(stack: Stack, bundle: Path, *rest: str, identity: str | None = None) -> list[str]:
    return ["verify-blob", "--bundle", str(bundle), "--trusted-root", str(stack.trusted_root_path),
            "--certificate-identity", identity or stack.default_identity,
            "--certificate-oidc-issuer", stack.oidc_issuer_url, *rest]


@pytest.mark.parametrize("kind", ["message", "dsse"])
def test_sigstore_python_bundles_verify(kind: str, signed_files: Path,
                                        sigstore_stack: Stack,  # noqa: F811
                                        capsys: pytest.CaptureFixture[str]) -> None:
    bundle = signed_files / f"{kind}.sigstore.json"
    artifact = signed_files / "artifact"
    digest = "sha256:" + hashlib.sha256(CONTENT).hexdigest()
    assert main(_argv(sigstore_stack, bundle, str(artifact))) == 0, capsys.readouterr().err
    assert main(_argv(sigstore_stack, bundle, "--digest", digest)) == 0
    capsys.readouterr()
    other = signed_files / "other"
    other.write_bytes(CONTENT + b"!")
    assert main(_argv(sigstore_stack, bundle, str(other))) == 1
    assert capsys.readouterr().err.startswith("Error: digest:")
    assert main(_argv(sigstore_stack, bundle, str(artifact),
                      identity="https://github.com/someone/else")) == 1
    assert capsys.readouterr().err.startswith("Error: identity:")
    public_good = ["--trusted-root", str(Path(__file__).resolve().parents[3]
                                         / "signer/data/trusted_root.json")]
    argv = _argv(sigstore_stack, bundle, str(artifact))
    argv[argv.index("--trusted-root"):argv.index("--trusted-root") + 2] = public_good
    assert main(argv) == 1
    assert capsys.readouterr().err.startswith("Error: transparency log:")
