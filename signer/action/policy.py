"""The action's verification policy and its defaults (layer L5).

:class:`VerifyPolicy` is what the inputs ask of a signature: a public key, or who
signed (an identity, a source repository or a signer workflow), the issuer and the
other certificate claims. Without an identity, verify mode requires "signed by a
workflow run of this repository": the certificate's Source Repository URI, with
GitHub's issuer (:func:`default_policy`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signer import output
from signer.action.values import (
    InputProblem,
    check_path,
    check_regexp,
    input_value,
    is_pem,
    parse_bool,
)

if TYPE_CHECKING:
    from signer.verify.claims import BuildClaims
    from signer.verify.policy import IdentityPolicy


GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


#: stands for "the public half of the key input" in a :class:`VerifyPolicy`
SIGNING_KEY = "(the signing key)"


#: the workflow-claim inputs that the CLI has too, and the VerifyPolicy field of each
GITHUB_CLAIM_INPUTS = (
    ("certificate-github-workflow-trigger", "github_workflow_trigger"),
    ("certificate-github-workflow-sha", "github_workflow_sha"),
    ("certificate-github-workflow-name", "github_workflow_name"),
    ("certificate-github-workflow-repository", "github_workflow_repository"),
    ("certificate-github-workflow-ref", "github_workflow_ref"),
)


@dataclass(frozen=True)
class VerifyPolicy:
    """What a signature must match: a public key, or an identity and an issuer.

    "Who signed" is an identity (the certificate's SAN: the workflow *file*) and/or a
    source repository (extension 1.12: the repository whose run signed) or signer
    workflow; the other claims narrow it further.
    """

    public_key: str | None = None
    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    issuer_regexp: str | None = None
    source_repository: str | None = None
    source_ref: str | None = None
    signer_workflow: str | None = None
    deny_self_hosted_runners: bool = False
    github_workflow_trigger: str | None = None
    github_workflow_sha: str | None = None
    github_workflow_name: str | None = None
    github_workflow_repository: str | None = None
    github_workflow_ref: str | None = None
    is_default: bool = False

    def describe(self) -> str:
        """One line saying what the policy requires, for logs and the summary."""
        if self.public_key:
            return "signed with the given public key"
        code = output.markdown_code
        parts = []
        if self.identity:
            parts.append(f"identity {code(self.identity)}")
        elif self.identity_regexp:
            parts.append(f"identity matching {code(self.identity_regexp)}")
        parts += self.build_claims().describe(quote=code)
        for name, attribute in GITHUB_CLAIM_INPUTS:
            value = getattr(self, attribute)
            if value is not None:
                parts.append(f"{name.removeprefix('certificate-')} {code(value)}")
        parts.append(f"issuer {code(self.issuer)}" if self.issuer
                     else f"issuer matching {code(self.issuer_regexp)}")
        text = ", ".join(parts)
        if self.is_default:
            text = "signed by a GitHub Actions workflow run of this repository (default): " + text
        return text

    def build_claims(self) -> BuildClaims:
        """The build-provenance part of the policy."""
        from signer.verify.claims import BuildClaims

        return BuildClaims(source_repository=self.source_repository,
                           source_ref=self.source_ref, signer_workflow=self.signer_workflow,
                           github_hosted_only=self.deny_self_hosted_runners)

    def identity_policy(self) -> IdentityPolicy:
        """The library's keyless policy for this one (the same for both formats)."""
        from signer.verify.policy import IdentityPolicy

        return IdentityPolicy(
            identity=self.identity, identity_regexp=self.identity_regexp,
            issuer=self.issuer, issuer_regexp=self.issuer_regexp,
            github_workflow_trigger=self.github_workflow_trigger,
            github_workflow_sha=self.github_workflow_sha,
            github_workflow_name=self.github_workflow_name,
            github_workflow_repository=self.github_workflow_repository,
            github_workflow_ref=self.github_workflow_ref,
            build=self.build_claims())

    def as_json(self) -> dict[str, Any]:
        """The report's ``policy`` object."""
        report: dict[str, Any] = {
            "public_key": bool(self.public_key), "certificate_identity": self.identity,
            "certificate_identity_regexp": self.identity_regexp,
            "certificate_oidc_issuer": self.issuer,
            "certificate_oidc_issuer_regexp": self.issuer_regexp,
            "source_repository": self.source_repository, "source_ref": self.source_ref,
            "signer_workflow": self.signer_workflow,
            "deny_self_hosted_runners": self.deny_self_hosted_runners,
        }
        for name, attribute in GITHUB_CLAIM_INPUTS:
            report[name.replace("-", "_")] = getattr(self, attribute)
        report["default"] = self.is_default
        return report


def github_server(env: Mapping[str, str]) -> str:
    """The GitHub server URL (GitHub Enterprise's when set)."""
    return (env.get("SIGNER_GITHUB_SERVER_URL") or env.get("GITHUB_SERVER_URL")
            or "https://github.com").rstrip("/")


def default_policy(env: Mapping[str, str]) -> VerifyPolicy:
    """"Signed by a workflow run of this repository on GitHub": the certificate's Source
    Repository URI (extension 1.12) is ``SERVER/OWNER/REPO`` and its issuer GitHub's.

    The SAN is not used: it names the workflow *file*, which for a reusable workflow is
    in another repository than the run's (``gh attestation verify --repo`` checks the
    same claim).
    """
    repository = env.get("SIGNER_GITHUB_REPOSITORY") or env.get("GITHUB_REPOSITORY", "")
    if not re.match(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", repository):
        raise InputProblem("certificate-identity",
                           "required: GITHUB_REPOSITORY is not set, so there is no default "
                           "identity (give source-repository, certificate-identity or "
                           "-regexp, and the issuer)")
    return VerifyPolicy(source_repository=f"{github_server(env)}/{repository}",
                        issuer=GITHUB_ISSUER, is_default=True)


def _claim_inputs(env: Mapping[str, str]) -> dict[str, Any]:
    """The build and workflow claim inputs, as :class:`VerifyPolicy` fields (set ones)."""
    from signer.errors import UsageError
    from signer.verify.claims import signer_workflow_uri, source_repository_uri

    server = github_server(env)
    claims: dict[str, Any] = {}
    for name, convert, attribute in (
            ("source-repository", source_repository_uri, "source_repository"),
            ("signer-workflow", signer_workflow_uri, "signer_workflow")):
        value = input_value(env, name)
        if value:
            try:
                claims[attribute] = convert(value, server)
            except UsageError as err:
                raise InputProblem(name, err.message) from None
    if input_value(env, "source-ref"):
        claims["source_ref"] = input_value(env, "source-ref")
    if parse_bool(env, "deny-self-hosted-runners", False):
        claims["deny_self_hosted_runners"] = True
    for name, attribute in GITHUB_CLAIM_INPUTS:
        if input_value(env, name):
            claims[attribute] = input_value(env, name)
    return claims


def verify_policy(env: Mapping[str, str], mode: str, workspace: Path) -> VerifyPolicy | None:
    """The verification policy the identity, issuer, public-key and claim inputs give;
    in verify modes without an identity, 'signed by this repository'; None in sign mode
    when none is named. A problem for contradictory or incomplete inputs."""
    identity = input_value(env, "certificate-identity")
    identity_re = check_regexp("certificate-identity-regexp",
                                input_value(env, "certificate-identity-regexp"))
    issuer = input_value(env, "certificate-oidc-issuer")
    issuer_re = check_regexp("certificate-oidc-issuer-regexp",
                              input_value(env, "certificate-oidc-issuer-regexp"))
    public_key = input_value(env, "public-key")
    claims = _claim_inputs(env)
    if identity and identity_re:
        raise InputProblem("certificate-identity-regexp",
                           "give certificate-identity or certificate-identity-regexp, not both")
    if issuer and issuer_re:
        raise InputProblem("certificate-oidc-issuer-regexp",
                           "give certificate-oidc-issuer or certificate-oidc-issuer-regexp, "
                           "not both")
    if public_key:
        if identity or identity_re or issuer or issuer_re or claims:
            raise InputProblem("public-key", "a public key and a certificate identity policy "
                               "exclude each other; give one of them")
        if not is_pem(public_key):
            public_key = check_path("public-key", public_key, workspace) or ""
        return VerifyPolicy(public_key=public_key)
    names_signer = bool(identity or identity_re or claims.get("source_repository")
                        or claims.get("signer_workflow"))
    if not names_signer and mode != "verify":
        if issuer or issuer_re or claims:
            raise InputProblem("certificate-identity",
                               "required with certificate-oidc-issuer and the claim inputs in "
                               "sign mode (or give source-repository)")
        return None  # sign mode verifies against the certificate it just obtained
    if not (identity or identity_re or claims.get("source_repository")) and mode == "verify":
        # "signed by this repository", narrowed by whatever claims were given
        default = default_policy(env)
        return replace(default, issuer=issuer or (None if issuer_re else default.issuer),
                       issuer_regexp=issuer_re, **claims)
    if not (issuer or issuer_re):
        raise InputProblem("certificate-oidc-issuer",
                           "required with certificate-identity or source-repository (or give "
                           "certificate-oidc-issuer-regexp), e.g. " + GITHUB_ISSUER)
    return VerifyPolicy(identity=identity or None, identity_regexp=identity_re,
                        issuer=issuer or None, issuer_regexp=issuer_re, **claims)
