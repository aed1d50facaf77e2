"""Build-provenance claims of a Fulcio certificate (layer L2): who *ran* the signing.

For a GitHub Actions workflow the SAN names the workflow file that signed, which for a
reusable workflow lives in another repository than the one whose run it was. These
claims say which repository's run signed, as ``gh attestation verify`` checks them:

- source repository: Source Repository URI (extension 1.12); a certificate without it
  (issued before 2023) is judged by the deprecated GitHub Workflow Repository (1.5,
  ``OWNER/REPO``) on the expected URI's host;
- source ref: Source Repository Ref (1.14), else the deprecated GitHub Workflow Ref (1.6);
- signer workflow: Build Signer URI (1.9), the workflow file that ran the signing job,
  ``https://HOST/OWNER/REPO/PATH@REF``; expected without ``@REF`` it matches every ref;
- GitHub-hosted runners only: Runner Environment (1.11) must be ``github-hosted``.

Values are compared exactly (case-sensitive), as Fulcio writes them from the token.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509

from signer.errors import UsageError, VerificationError
from signer.verify.certs import (
    OID_BUILD_SIGNER_URI,
    OID_GITHUB_WORKFLOW_REF,
    OID_GITHUB_WORKFLOW_REPOSITORY,
    OID_RUNNER_ENVIRONMENT,
    OID_SOURCE_REPOSITORY_REF,
    OID_SOURCE_REPOSITORY_URI,
    der_text_extension,
    raw_text_extension,
)

GITHUB_SERVER = "https://github.com"
GITHUB_HOSTED = "github-hosted"
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _github_uri(value: str, server: str, what: str, min_parts: int) -> tuple[str, list[str]]:
    """``value`` as a URI on ``server`` (a bare ``OWNER/REPO/...`` path gets the server)."""
    text = value.strip()
    if not re.match(r"^https?://", text):
        text = server.rstrip("/") + "/" + text.strip("/")
    parts = urlsplit(text)
    path = parts.path.strip("/").split("@", 1)[0].split("/")
    if not parts.netloc or parts.query or parts.fragment or len(path) < min_parts \
            or not all(_NAME.match(p) for p in path[:2]):
        shape = "OWNER/REPO/PATH" if min_parts > 2 else "OWNER/REPO"
        example = "octo-org/octo-repo" + (
            "/.github/workflows/release.yml" if min_parts > 2 else "")
        raise UsageError(f"{what} {value!r} is not {shape} or a URL of one",
                         hint=f"e.g. {example}")
    return text.rstrip("/"), path


def source_repository_uri(value: str, server: str = GITHUB_SERVER) -> str:
    """``OWNER/REPO`` or ``https://HOST/OWNER/REPO`` as the URI Fulcio writes in 1.12."""
    uri, path = _github_uri(value, server, "source repository", 2)
    if len(path) != 2:
        raise UsageError(f"source repository {value!r} must name a repository, not a path in it",
                         hint="e.g. octo-org/octo-repo")
    return uri


def signer_workflow_uri(value: str, server: str = GITHUB_SERVER) -> str:
    """``OWNER/REPO/PATH[@REF]`` or its URL, as Fulcio writes it in 1.9 (ref optional)."""
    uri, _path = _github_uri(value, server, "signer workflow", 3)
    return uri


@dataclass(frozen=True)
class BuildClaims:
    """Expected build-provenance claims; every one that is set must hold."""

    #: ``https://HOST/OWNER/REPO`` (see :func:`source_repository_uri`)
    source_repository: str | None = None
    #: e.g. ``refs/heads/main``, ``refs/tags/v1.2.3``
    source_ref: str | None = None
    #: ``https://HOST/OWNER/REPO/PATH`` (any ref) or ``...@REF`` (that ref only)
    signer_workflow: str | None = None
    #: refuse certificates of jobs on self-hosted runners
    github_hosted_only: bool = False

    @property
    def names_signer(self) -> bool:
        """True if these claims alone pin down who signed (a repository or a workflow)."""
        return self.source_repository is not None or self.signer_workflow is not None

    def describe(self, quote: Callable[[str], str] = lambda value: f"`{value}`") -> list[str]:
        """One phrase per expected claim, for logs and summaries; each value as
        ``quote`` renders it (a Markdown code span by default)."""
        parts = []
        if self.source_repository is not None:
            parts.append(f"source repository {quote(self.source_repository)}")
        if self.source_ref is not None:
            parts.append(f"source ref {quote(self.source_ref)}")
        if self.signer_workflow is not None:
            parts.append(f"signer workflow {quote(self.signer_workflow)}")
        if self.github_hosted_only:
            parts.append("GitHub-hosted runner")
        return parts

    def check(self, cert: x509.Certificate) -> None:
        """Raise :class:`VerificationError` (check "identity") unless ``cert`` matches."""
        if self.source_repository is not None:
            found = der_text_extension(cert, OID_SOURCE_REPOSITORY_URI)
            if found is None:
                legacy = raw_text_extension(cert, OID_GITHUB_WORKFLOW_REPOSITORY)
                if legacy is not None:
                    origin = urlsplit(self.source_repository)
                    found = f"{origin.scheme}://{origin.netloc}/{legacy}"
            if found != self.source_repository:
                raise _mismatch("source repository", self.source_repository, found, "1.12")
        if self.source_ref is not None:
            found = der_text_extension(cert, OID_SOURCE_REPOSITORY_REF)
            if found is None:
                found = raw_text_extension(cert, OID_GITHUB_WORKFLOW_REF)
            if found != self.source_ref:
                raise _mismatch("source ref", self.source_ref, found, "1.14")
        if self.signer_workflow is not None:
            found = der_text_extension(cert, OID_BUILD_SIGNER_URI)
            if not _workflow_matches(self.signer_workflow, found):
                raise _mismatch("signer workflow", self.signer_workflow, found, "1.9")
        if self.github_hosted_only:
            found = der_text_extension(cert, OID_RUNNER_ENVIRONMENT)
            if found != GITHUB_HOSTED:
                raise _mismatch("runner environment", GITHUB_HOSTED, found, "1.11")


def _workflow_matches(expected: str, found: str | None) -> bool:
    if found is None:
        return False
    if "@" in expected:
        return found == expected
    return found.startswith(expected + "@")


def _mismatch(what: str, expected: str, found: str | None, oid: str) -> VerificationError:
    return VerificationError(
        f"identity: expected {what} {expected!r}, found {found!r} in certificate "
        f"(Fulcio extension 1.3.6.1.4.1.57264.{oid})")
