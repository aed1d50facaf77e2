"""Issue 8.5: identity-policy pitfalls.

``--certificate-identity-regexp`` is documented (``signer verify --help``, policy.py)
as a Python regular expression *searched* (not anchored, as Go's MatchString) in
*any* SAN of the certificate; exact flags compare case-sensitively. These tests pin
that behaviour on real certificates and check that ``signer verify`` prints a
``WARNING:`` line where cosign users are commonly caught out.
"""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signer.errors import UsageError, VerificationError
from signer.registry.client import RegistryClient
from signer.sign import SignOptions, sign_images
from signer.testing.registry import LocalRegistry
from signer.testing.stack import Stack
from signer.trust import TrustedRoot
from signer.verify.policy import IdentityPolicy, identity_warnings
from tests.hardening.conftest import PushImage, signer_cli

GITHUB = "https://token.actions.githubusercontent.com"
WORKFLOW = "https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main"
OID_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")


def _certificate(sans: list[x509.GeneralName], issuer: str = GITHUB) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    encoded = issuer.encode()
    der_utf8 = bytes([0x0C, len(encoded)]) + encoded
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(minutes=10))
            .add_extension(x509.SubjectAlternativeName(sans), critical=True)
            .add_extension(x509.UnrecognizedExtension(OID_ISSUER_V2, der_utf8), critical=False)
            .sign(key, hashes.SHA256()))


CERT = _certificate([x509.UniformResourceIdentifier(WORKFLOW),
                     x509.RFC822Name("release-bot@example.com")])


def _passes(**policy: str) -> bool:
    try:
        IdentityPolicy(**policy).check(CERT)
    except VerificationError:
        return False
    return True


@pytest.mark.parametrize(("regexp", "expected"), [
    ("octo-org/octo-repo/", True),  # searched, not anchored
    ("^https://github\\.com/octo-org/octo-repo/", True),
    ("^octo-org", False),  # ^ anchors at the start of the SAN
    ("^https://github\\.com/octo-org/octo-repo$", False),  # $ anchors at the end
    ("release-bot@example\\.com$", True),  # any SAN: the e-mail one matches
    ("^release-bot@example\\.com$", True),
    ("OCTO-ORG", False),  # case-sensitive
    ("(?i)OCTO-ORG", True),  # Python inline flags work as documented (Python re)
    ("github.com", True),  # '.' is any character ...
    ("githubXcom", False),
    ("github.com/octo-org/octo-repo/.github", True),
])
def test_identity_regexp_is_searched_in_any_san(regexp: str, expected: bool) -> None:
    assert _passes(identity_regexp=regexp, issuer=GITHUB) is expected


def test_bare_dot_matches_any_character() -> None:
    """The pitfall itself: 'github.com' also accepts 'githubXcom'."""
    other = _certificate([x509.UniformResourceIdentifier(
        "https://githubXcom/octo-org/octo-repo/.github/workflows/r.yml@refs/heads/main")])
    IdentityPolicy(identity_regexp="^https://github.com/octo-org/", issuer=GITHUB).check(other)
    with pytest.raises(VerificationError):
        IdentityPolicy(identity_regexp="^https://github\\.com/octo-org/",
                       issuer=GITHUB).check(other)


def test_exact_identity_and_issuer_are_case_sensitive_and_say_so() -> None:
    with pytest.raises(VerificationError, match="differs only in letter case"):
        IdentityPolicy(identity=WORKFLOW.replace("octo-org", "Octo-Org"),
                       issuer=GITHUB).check(CERT)
    with pytest.raises(VerificationError, match="trailing '/'"):
        IdentityPolicy(identity=WORKFLOW, issuer=GITHUB + "/").check(CERT)
    assert _passes(identity=WORKFLOW, issuer=GITHUB)
    assert _passes(identity="release-bot@example.com", issuer=GITHUB)  # any SAN, exact


def test_issuer_regexp_is_searched() -> None:
    assert _passes(identity=WORKFLOW, issuer_regexp="actions")
    assert not _passes(identity=WORKFLOW, issuer_regexp="^actions")


def test_invalid_regexp_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as raised:
        IdentityPolicy(identity_regexp="^(unclosed", issuer=GITHUB)
    assert raised.value.exit_code == 2


@pytest.mark.parametrize(("policy", "fragment"), [
    ({"identity_regexp": "octo-org/octo-repo/"}, "not anchored"),
    ({"identity_regexp": "^https://github\\.com/octo-org/octo-repo"}, "no end anchor"),
    ({"identity_regexp": ".*"}, "matches every value"),
    ({"identity_regexp": ""}, "matches every value"),
    ({"identity_regexp": "^https://github.com/octo-org/"}, "'.' in 'github.com'"),
    ({"issuer_regexp": "token.actions.githubusercontent.com"}, "not anchored"),
    ({"issuer_regexp": "^https://token.actions.githubusercontent.com$"}, "matches any"),
    ({"identity": "^https://github.com/octo-org/.*"}, "looks like a regular expression"),
    ({"identity": "https://GitHub.com/octo-org/x"}, "upper-case"),
    ({"issuer": "https://Token.Actions.GitHubUserContent.com"}, "upper-case"),
    ({"issuer": GITHUB + "/"}, "ends with '/'"),
])
def test_pitfalls_warn(policy: dict[str, str], fragment: str) -> None:
    warnings = identity_warnings(IdentityPolicy(**policy))
    assert any(fragment in w for w in warnings), warnings
    assert all("\n" not in w for w in warnings)


@pytest.mark.parametrize("policy", [
    {"identity_regexp": "^https://github\\.com/octo-org/", "issuer": GITHUB},
    {"identity_regexp": "^https://github\\.com/octo-org/octo-repo/", "issuer": GITHUB},
    {"identity_regexp": "^release-bot@example\\.com$", "issuer_regexp": "^https://x\\.y$"},
    {"identity": WORKFLOW, "issuer": GITHUB},
    {"identity": "release-bot@example.com", "issuer": "https://accounts.google.com"},
])
def test_careful_policies_do_not_warn(policy: dict[str, str]) -> None:
    assert identity_warnings(IdentityPolicy(**policy)) == []


@pytest.mark.slow
def test_cli_warns_and_unanchored_regexp_accepts_a_lookalike_repository(
        sigstore_stack: Stack, registry: LocalRegistry, push_image: PushImage,
        direct_client: RegistryClient) -> None:
    """Signed by octo-org/octo-repo-evil: the unanchored regexp 'octo-org/octo-repo'
    accepts it (as documented, with a WARNING); the anchored one refuses it."""
    image = push_image("lookalike")
    evil = "octo-org/octo-repo-evil/.github/workflows/release.yml@refs/heads/main"
    token = sigstore_stack.issue_token(job_workflow_ref=evil, repository="octo-org/octo-repo-evil")
    sign_images(direct_client, [image], SignOptions(
        identity_token=token, fulcio_url=sigstore_stack.fulcio_url,
        rekor_url=sigstore_stack.rekor_url,
        trusted_root=TrustedRoot.from_file(sigstore_stack.trusted_root_path)))
    common = ["verify", "--certificate-oidc-issuer", sigstore_stack.oidc_issuer_url,
              "--trusted-root", str(sigstore_stack.trusted_root_path),
              "--insecure-registry", registry.host]
    loose = signer_cli([*common, "--certificate-identity-regexp", "octo-org/octo-repo",
                        str(image)])
    assert loose.returncode == 0, loose.stderr
    warnings = [line for line in loose.stderr.splitlines() if line.startswith("WARNING: ")]
    assert any("not anchored" in w for w in warnings), loose.stderr
    strict = signer_cli([*common, "--certificate-identity-regexp",
                         "^https://github\\.com/octo-org/octo-repo/", str(image)])
    assert strict.returncode == 12, strict.stderr
    assert not [line for line in strict.stderr.splitlines() if line.startswith("WARNING: ")]
    assert "identity" in strict.stderr
    wrong_case = signer_cli([*common, "--certificate-identity",
                             f"https://github.com/{evil}".replace("octo-org", "Octo-Org"),
                             str(image)])
    assert wrong_case.returncode == 12
    assert "differs only in letter case" in wrong_case.stderr  # the bundle's check says so too


def test_help_documents_what_the_tests_above_pin() -> None:
    """The documentation the behaviour tests hold the implementation to."""
    result = signer_cli(["verify", "--help"])
    text = " ".join(result.stdout.split())
    assert "regular expression searched in the certificate's SANs" in text
    assert "expected certificate subject (any SAN, exact)" in text
