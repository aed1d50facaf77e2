"""Build-provenance claims (source repository, source ref, signer workflow, runner
environment) on a real public-good GitHub certificate and on made-up ones."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signer.errors import UsageError, VerificationError
from signer.verify.claims import BuildClaims, signer_workflow_uri, source_repository_uri
from tests.unit.verify.test_policy import GITHUB

REPO = "https://github.com/salrashid123/go-bazel-github-workflow"
WORKFLOW = REPO + "/.github/workflows/release.yaml"
ARC = "1.3.6.1.4.1.57264.1"


def _cert(extensions: dict[str, bytes]) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(1)
               .not_valid_before(now).not_valid_after(now + datetime.timedelta(minutes=5)))
    for oid, value in extensions.items():
        builder = builder.add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier(f"{ARC}.{oid}"), value), False)
    return builder.sign(key, hashes.SHA256())


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return b"\x0c" + bytes([len(raw)]) + raw


@pytest.mark.parametrize("claims", [
    BuildClaims(source_repository=REPO),
    BuildClaims(source_repository=REPO, source_ref="refs/tags/v0.0.30"),
    BuildClaims(signer_workflow=WORKFLOW),
    BuildClaims(signer_workflow=WORKFLOW + "@refs/tags/v0.0.30"),
    BuildClaims(source_repository=REPO, github_hosted_only=True),
])
def test_public_good_certificate_matches(claims: BuildClaims) -> None:
    claims.check(GITHUB)


@pytest.mark.parametrize(("claims", "message"), [
    (BuildClaims(source_repository=REPO + "2"), "source repository"),
    (BuildClaims(source_repository=REPO.upper()), "source repository"),
    (BuildClaims(source_ref="refs/heads/main"), "source ref"),
    (BuildClaims(signer_workflow=WORKFLOW[:-1]), "signer workflow"),  # a prefix is not a file
    (BuildClaims(signer_workflow=WORKFLOW + "@refs/tags/v0.0.3"), "signer workflow"),
])
def test_public_good_certificate_mismatches(claims: BuildClaims, message: str) -> None:
    with pytest.raises(VerificationError, match=message):
        claims.check(GITHUB)


def test_deprecated_extensions_are_used_only_without_the_new_ones() -> None:
    old = _cert({"5": b"octo-org/octo-repo", "6": b"refs/heads/main"})
    BuildClaims(source_repository="https://github.com/octo-org/octo-repo",
                source_ref="refs/heads/main").check(old)
    with pytest.raises(VerificationError, match="source repository"):
        BuildClaims(source_repository="https://github.com/evil-org/octo-repo").check(old)
    # 1.12 present: the deprecated 1.5 (which a caller's token also fills) is not consulted
    both = _cert({"5": b"octo-org/octo-repo", "12": _utf8("https://github.com/evil/evil")})
    with pytest.raises(VerificationError, match="source repository"):
        BuildClaims(source_repository="https://github.com/octo-org/octo-repo").check(both)


def test_runner_environment_must_be_github_hosted() -> None:
    for certificate in (_cert({"11": _utf8("self-hosted")}), _cert({})):
        with pytest.raises(VerificationError, match="runner environment"):
            BuildClaims(github_hosted_only=True).check(certificate)
    BuildClaims().check(_cert({}))  # nothing asked, nothing checked


def test_values_are_normalised_and_malformed_ones_refused() -> None:
    assert source_repository_uri("octo-org/octo-repo") == "https://github.com/octo-org/octo-repo"
    assert source_repository_uri("octo/r", "https://ghe.example/") == "https://ghe.example/octo/r"
    assert source_repository_uri("https://github.com/o/r/") == "https://github.com/o/r"
    assert signer_workflow_uri("o/r/.github/workflows/a.yml@refs/heads/main") == (
        "https://github.com/o/r/.github/workflows/a.yml@refs/heads/main")
    for bad in ("octo-org", "o/r/extra", "https://github.com/o", "o/r?x=1", "o /r"):
        with pytest.raises(UsageError):
            source_repository_uri(bad)
    with pytest.raises(UsageError):
        signer_workflow_uri("o/r")
