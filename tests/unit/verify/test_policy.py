"""Identity policy (cosign semantics) and signed-identity policy (containers/image)."""

from __future__ import annotations

import pytest
from cryptography import x509

from signer.errors import UsageError, VerificationError
from signer.reference import Reference, parse_reference
from signer.verify.certs import (
    decode_der_utf8_string,
    github_extensions,
    oidc_issuer,
    oidc_issuer_v1,
    subject_alternative_names,
)
from signer.verify.policy import IdentityPolicy, SignedIdentityPolicy
from tests.unit.verify.cases import LEGACY

GITHUB = x509.load_pem_x509_certificate(
    (LEGACY / "salr-dockerhub-sig-manifest-keyless-valid" / "certificate.pem").read_bytes())
PKI = x509.load_pem_x509_certificate(
    (LEGACY / "cimg-pki-byo-rsa-valid" / "certificate.pem").read_bytes())
OLD = x509.load_pem_x509_certificate(
    (LEGACY / "srs-kubewarden-keyless-2021-valid" / "certificate.pem").read_bytes())
WORKFLOW = ("https://github.com/salrashid123/go-bazel-github-workflow/.github/workflows/"
            "release.yaml@refs/tags/v0.0.30")
ACTIONS = "https://token.actions.githubusercontent.com"


def test_fulcio_fields() -> None:
    assert subject_alternative_names(GITHUB) == [WORKFLOW]
    assert oidc_issuer(GITHUB) == ACTIONS
    assert oidc_issuer_v1(GITHUB) == ACTIONS
    assert github_extensions(GITHUB)["githubWorkflowRef"] == "refs/tags/v0.0.30"
    assert oidc_issuer(OLD) is None  # 2021 leaf: no issuer extension
    assert subject_alternative_names(PKI) == ["myhost.example.com", "qiwan@redhat.com"]


def test_der_utf8_string() -> None:
    assert decode_der_utf8_string(b"\x0c\x03abc") == "abc"
    for bad in (b"\x0c\x04abc", b"\x0c\x02abc", b"\x13\x03abc", b""):
        with pytest.raises(ValueError):
            decode_der_utf8_string(bad)


@pytest.mark.parametrize("policy", [
    IdentityPolicy(identity=WORKFLOW, issuer=ACTIONS),
    IdentityPolicy(identity_regexp="salrashid123/go-bazel", issuer=ACTIONS),  # unanchored
    IdentityPolicy(identity_regexp="^https://github.com/salrashid123/", issuer_regexp="github"),
    IdentityPolicy(identity=WORKFLOW, issuer=ACTIONS, github_workflow_trigger="push",
                   github_workflow_repository="salrashid123/go-bazel-github-workflow",
                   github_workflow_sha="7624bd5f279fb5d4700ea72c1b2373ee33960700",
                   github_workflow_name="Release", github_workflow_ref="refs/tags/v0.0.30"),
])
def test_matching_policies(policy: IdentityPolicy) -> None:
    policy.check(GITHUB)


@pytest.mark.parametrize(("policy", "message"), [
    (IdentityPolicy(identity=WORKFLOW + "x", issuer=ACTIONS), "expected subject"),
    (IdentityPolicy(identity=WORKFLOW, issuer=ACTIONS + "/"), "with issuer"),
    (IdentityPolicy(identity_regexp="^salrashid", issuer=ACTIONS), "matching /^salrashid/"),
    (IdentityPolicy(identity=WORKFLOW, issuer=ACTIONS, github_workflow_trigger="pull_request"),
     "GitHub Workflow Trigger 'pull_request', found 'push'"),
])
def test_failing_policies_say_expected_and_found(policy: IdentityPolicy, message: str) -> None:
    with pytest.raises(VerificationError) as info:
        policy.check(GITHUB)
    assert info.value.message.startswith("identity: ")
    assert message in info.value.message


def test_subject_matches_any_san() -> None:
    IdentityPolicy(identity="qiwan@redhat.com", issuer_regexp=".*").check(PKI)
    IdentityPolicy(identity="myhost.example.com", issuer_regexp=".*").check(PKI)


def test_policy_completeness_and_bad_regexp() -> None:
    assert not IdentityPolicy(identity="x").complete
    assert IdentityPolicy(identity="x", issuer_regexp=".").complete
    with pytest.raises(UsageError):
        IdentityPolicy(identity_regexp="(")


def _image(text: str) -> Reference:
    return parse_reference(text)


@pytest.mark.parametrize(("policy", "signed", "image", "ok"), [
    ("any", "other.example/x", "reg.example/a/b@sha256:" + "a" * 64, True),
    ("match-repository", "reg.example/a/b", "reg.example/a/b@sha256:" + "a" * 64, True),
    ("match-repository", "reg.example/a/c", "reg.example/a/b:v1", False),
    ("match-exact", "reg.example/a/b:v1", "reg.example/a/b:v1", True),
    ("match-exact", "reg.example/a/b:v1", "reg.example/a/b:v2", False),
    ("match-exact", "reg.example/a/b", "reg.example/a/b:v1", False),
    ("exact-reference=reg.example/a/b:v1", "reg.example/a/b:v1", "x.example/y:z", True),
    ("exact-reference=reg.example/a/b:v1", "reg.example/a/b", "x.example/y:z", False),
    ("exact-repository=reg.example/a/b", "reg.example/a/b:any", "x.example/y:z", True),
    ("exact-repository=reg.example/a/b", "reg.example/a/c", "x.example/y:z", False),
    # docker.io spellings normalise the same way on both sides
    ("exact-repository=docker.io/library/alpine", "index.docker.io/library/alpine",
     "x.example/y:z", True),
])
def test_signed_identity(policy: str, signed: str, image: str, ok: bool) -> None:
    parsed = SignedIdentityPolicy.parse(policy)
    if ok:
        parsed.check(signed, _image(image))
    else:
        with pytest.raises(VerificationError, match=r"^signed identity: expected"):
            parsed.check(signed, _image(image))


@pytest.mark.parametrize("text", ["all", "exact-reference", "exact-reference=a/b",
                                  "exact-repository=a/b:v1", "any=x"])
def test_signed_identity_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        SignedIdentityPolicy.parse(text)


def test_signed_identity_without_reference_in_payload() -> None:
    with pytest.raises(VerificationError, match="no docker-reference"):
        SignedIdentityPolicy.parse("match-repository").check(None, _image("a/b:c"))


def test_one_identity_policy_judges_both_signature_formats_as_cosign_does() -> None:
    import signer.verify.bundle as bundle_module

    assert not hasattr(bundle_module, "IdentityPolicy") or \
        bundle_module.IdentityPolicy is IdentityPolicy
    # a .sig certificate matches on any SAN; a bundle's on its first URI/e-mail SAN
    dns = IdentityPolicy(identity="myhost.example.com")
    dns.check(PKI)
    with pytest.raises(VerificationError, match="does not match the expected"):
        dns.check_bundle(PKI)
    assert IdentityPolicy(identity="qiwan@redhat.com").check_bundle(PKI) == (
        "qiwan@redhat.com", "")
    # on a bundle both an exact identity and a regexp must hold; the .sig path takes the regexp
    both = IdentityPolicy(identity=WORKFLOW, identity_regexp="^nomatch", issuer=ACTIONS)
    with pytest.raises(VerificationError):
        both.check_bundle(GITHUB)
    assert IdentityPolicy(identity=WORKFLOW, issuer=ACTIONS).check_bundle(GITHUB) == (
        WORKFLOW, ACTIONS)
    # the workflow extensions and build claims fail alike on both
    ref = IdentityPolicy(identity=WORKFLOW, issuer=ACTIONS, github_workflow_ref="refs/x")
    for check in (ref.check, ref.check_bundle):
        with pytest.raises(VerificationError, match="GitHub Workflow Ref 'refs/x'"):
            check(GITHUB)
