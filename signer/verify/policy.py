"""Identity policies (layer L2): who signed, and which image the signature names.

:class:`IdentityPolicy` is cosign's keyless certificate policy: GitHub workflow
extensions (exact), then the OIDC issuer (extension 1.8, falling back to 1.1; exact
or regexp), then the subject (any SAN; exact or regexp). Regular expressions are
searched, not anchored, as Go's ``MatchString`` does.

:class:`SignedIdentityPolicy` is containers/image's ``signedIdentity`` check on the
payload's ``docker-reference``, which cosign ignores: ``any`` (cosign's behaviour),
``match-repository``, ``match-exact``, ``exact-reference=REF`` and
``exact-repository=REPO``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cryptography import x509

from signer.errors import InputError, UsageError, VerificationError
from signer.reference import Reference, parse_reference
from signer.verify.certs import (
    GITHUB_EXTENSIONS,
    certificate_identity,
    extension_bytes,
    oidc_issuer,
    subject_alternative_names,
)
from signer.verify.claims import BuildClaims

_GITHUB_LABELS = {
    "githubWorkflowTrigger": "Trigger",
    "githubWorkflowSha": "SHA",
    "githubWorkflowName": "Name",
    "githubWorkflowRepository": "Repository",
    "githubWorkflowRef": "Ref",
}


def _compile(pattern: str, flag: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"invalid regular expression for {flag}: {exc}") from None


@dataclass(frozen=True)
class IdentityPolicy:
    """Expected certificate identity (keyless); every field set must hold.

    One policy for both signature formats, judged as cosign judges each:
    :meth:`check` for a ``.sig`` layer's certificate (the identity may be any SAN; a
    regexp, when given, replaces the exact value) and :meth:`check_bundle` for a
    Sigstore bundle's (the identity is the first URI SAN, else the first e-mail SAN,
    else a Fulcio otherName SAN -- docs/cosign-format.md §4.4 -- and when both an exact
    value and a regexp are given, both must hold). The GitHub workflow extensions
    (1.2–1.6) and the build claims (:mod:`signer.verify.claims`) are checked the same
    way on both.
    """

    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    issuer_regexp: str | None = None
    github_workflow_trigger: str | None = None
    github_workflow_sha: str | None = None
    github_workflow_name: str | None = None
    github_workflow_repository: str | None = None
    github_workflow_ref: str | None = None
    #: source repository, source ref, signer workflow, runner environment
    build: BuildClaims = field(default_factory=BuildClaims)

    def __post_init__(self) -> None:
        if self.identity_regexp is not None:
            _compile(self.identity_regexp, "--certificate-identity-regexp")
        if self.issuer_regexp is not None:
            _compile(self.issuer_regexp, "--certificate-oidc-issuer-regexp")

    @property
    def complete(self) -> bool:
        """True if an issuer and who signed are given (keyless needs both): an identity,
        or a source repository or signer workflow."""
        return (self.identity is not None or self.identity_regexp is not None
                or self.build.names_signer) and (
            self.issuer is not None or self.issuer_regexp is not None)

    def github_expectations(self) -> dict[str, str]:
        """The GitHub extension values asked for, keyed by cosign's readable names."""
        values = {
            "githubWorkflowTrigger": self.github_workflow_trigger,
            "githubWorkflowSha": self.github_workflow_sha,
            "githubWorkflowName": self.github_workflow_name,
            "githubWorkflowRepository": self.github_workflow_repository,
            "githubWorkflowRef": self.github_workflow_ref,
        }
        return {k: v for k, v in values.items() if v is not None}

    def describe_expected(self) -> str:
        """Human text of what is expected, for failure messages."""
        subject = (f"subject {self.identity!r}" if self.identity is not None
                   else f"subject matching /{self.identity_regexp}/"
                   if self.identity_regexp is not None else "any subject")
        issuer = (f"issuer {self.issuer!r}" if self.issuer is not None
                  else f"issuer matching /{self.issuer_regexp}/")
        return f"{subject} with {issuer}"

    def _check_extensions(self, cert: x509.Certificate) -> None:
        for name, expected in self.github_expectations().items():
            raw = extension_bytes(cert, GITHUB_EXTENSIONS[name])
            found = raw.decode("utf-8", errors="replace") if raw is not None else None
            if found != expected:
                raise VerificationError(
                    f"identity: expected GitHub Workflow {_GITHUB_LABELS[name]} {expected!r}, "
                    f"found {found!r} in certificate")
        self.build.check(cert)

    def check(self, cert: x509.Certificate) -> None:
        """Raise :class:`VerificationError` (check "identity") unless ``cert`` matches
        (``.sig`` semantics: any SAN)."""
        self._check_extensions(cert)
        issuer = oidc_issuer(cert)
        subjects = subject_alternative_names(cert)
        if not self._issuer_matches(issuer) or not self._subject_matches(subjects):
            case_only = ""
            if self.identity is not None and self.identity not in subjects and any(
                    s.lower() == self.identity.lower() for s in subjects):
                case_only = " (the subject differs only in letter case)"
            elif self.issuer is not None and issuer and issuer != self.issuer and \
                    issuer.lower().rstrip("/") == self.issuer.lower().rstrip("/"):
                case_only = " (the issuer differs only in letter case or a trailing '/')"
            raise VerificationError(
                f"identity: expected {self.describe_expected()}; found subjects "
                f"[{', '.join(subjects)}] with issuer {issuer or '(none)'}{case_only}",
                hint="check --certificate-identity[-regexp] and "
                     "--certificate-oidc-issuer[-regexp]")

    def check_bundle(self, cert: x509.Certificate) -> tuple[str, str]:
        """Return (identity, issuer) of a bundle's ``cert`` or raise
        :class:`VerificationError` (check "identity"); bundle semantics, see the class."""
        self._check_extensions(cert)
        subject = certificate_identity(cert)
        issuer = oidc_issuer(cert)
        if subject is None:
            raise VerificationError(
                "identity: the certificate has no URI, e-mail or otherName SAN")
        if self.identity is not None and subject != self.identity:
            case_only = (" (the subject differs only in letter case)"
                         if subject.lower() == self.identity.lower() else "")
            raise VerificationError(f"identity: certificate identity {subject!r} does not "
                                    f"match the expected {self.identity!r}{case_only}")
        if self.identity_regexp is not None and not _compile(
                self.identity_regexp, "--certificate-identity-regexp").search(subject):
            raise VerificationError(f"identity: certificate identity {subject!r} does not "
                                    f"match the regular expression {self.identity_regexp!r}")
        if self.issuer is not None and issuer != self.issuer:
            case_only = (" (the issuer differs only in letter case or a trailing '/')"
                         if issuer and issuer.lower().rstrip("/") ==
                         self.issuer.lower().rstrip("/") else "")
            raise VerificationError(f"identity: certificate OIDC issuer {issuer!r} does not "
                                    f"match the expected {self.issuer!r}{case_only}")
        if self.issuer_regexp is not None and (issuer is None or not _compile(
                self.issuer_regexp, "--certificate-oidc-issuer-regexp").search(issuer)):
            raise VerificationError(f"identity: certificate OIDC issuer {issuer!r} does not "
                                    f"match the regular expression {self.issuer_regexp!r}")
        return subject, issuer or ""

    def _issuer_matches(self, issuer: str | None) -> bool:
        found = issuer or ""
        if self.issuer_regexp is not None:
            return _compile(self.issuer_regexp, "--certificate-oidc-issuer-regexp").search(
                found) is not None
        if self.issuer is not None:
            return found == self.issuer
        return True

    def _subject_matches(self, subjects: list[str]) -> bool:
        if self.identity_regexp is not None:
            pattern = _compile(self.identity_regexp, "--certificate-identity-regexp")
            return any(pattern.search(s) for s in subjects)
        if self.identity is not None:
            return self.identity in subjects
        return True


#: an unescaped "." between name characters, as in "github.com" (matches any character)
_BARE_DOT = re.compile(r"(?<![\\\[])[A-Za-z0-9-]\.(?=[A-Za-z0-9])")
_REGEXP_HINTS = re.compile(r"\.\*|\.\+|^\^|\$$|\\\.|\(\?|\[[^\]]*\]")


def _regexp_warnings(flag: str, pattern: str) -> list[str]:
    warnings = []
    if _compile(pattern, flag).search("") is not None:
        warnings.append(f"{flag} {pattern!r} matches every value: it does not restrict "
                        "who signed")
        return warnings
    if not pattern.startswith(("^", "\\A")):
        warnings.append(f"{flag} {pattern!r} is not anchored: it is searched anywhere, so "
                        "any value that merely contains a match passes; start it with ^")
    elif not pattern.endswith(("$", "\\Z", "/", "@", ".*", ".+")) and \
            pattern[-1:].isalnum():
        example = pattern.lstrip("^").replace("\\.", ".") + "-evil"
        warnings.append(f"{flag} {pattern!r} has no end anchor: longer values such as "
                        f"{example!r} also match; end it with $ (or /)")
    for match in _BARE_DOT.finditer(pattern):
        start, end = match.start(), match.end()
        while start > 0 and (pattern[start - 1].isalnum() or pattern[start - 1] in ".-"):
            start -= 1
        while end < len(pattern) and (pattern[end].isalnum() or pattern[end] in ".-"):
            end += 1
        word = pattern[start:end]
        warnings.append(f"{flag}: the '.' in {word!r} matches any character; write '\\.' "
                        "for a literal dot")
        break
    return warnings


def _exact_warnings(flag: str, value: str) -> list[str]:
    warnings = []
    if _REGEXP_HINTS.search(value):
        warnings.append(f"{flag} is compared exactly, but {value!r} looks like a regular "
                        f"expression; did you mean {flag}-regexp?")
    scheme, sep, rest = value.partition("://")
    host = rest.split("/", 1)[0] if sep else ""
    if host != host.lower() or scheme != scheme.lower():
        warnings.append(f"{flag} {value!r} has upper-case letters in its scheme or host; "
                        "certificates carry them in lower case and the comparison is "
                        "case-sensitive")
    return warnings


def identity_warnings(policy: IdentityPolicy) -> list[str]:
    """Where a keyless policy may not mean what its author thinks (cosign pitfalls):
    unanchored or match-everything regular expressions, a bare '.' in a host name, an
    exact value that looks like a regular expression, upper-case hosts and an issuer
    with a trailing '/'. One line each, for the CLI to print as warnings."""
    warnings: list[str] = []
    if policy.identity_regexp is not None:
        warnings += _regexp_warnings("--certificate-identity-regexp", policy.identity_regexp)
    if policy.issuer_regexp is not None:
        warnings += _regexp_warnings("--certificate-oidc-issuer-regexp", policy.issuer_regexp)
    if policy.identity is not None:
        warnings += _exact_warnings("--certificate-identity", policy.identity)
    if policy.issuer is not None:
        warnings += _exact_warnings("--certificate-oidc-issuer", policy.issuer)
        if policy.issuer.endswith("/"):
            warnings.append(f"--certificate-oidc-issuer {policy.issuer!r} ends with '/'; "
                            "issuers are compared exactly (GitHub's is "
                            "'https://token.actions.githubusercontent.com')")
    return warnings


SIGNED_IDENTITY_KINDS = ("any", "match-repository", "match-exact", "exact-reference",
                         "exact-repository")


def _normalise(text: str, what: str) -> Reference:
    try:
        return parse_reference(text)
    except InputError as exc:
        raise VerificationError(f"signed identity: {what} {text!r} is not a valid "
                                f"reference ({exc.message})") from None


@dataclass(frozen=True)
class SignedIdentityPolicy:
    """containers/image ``signedIdentity`` over the payload's ``docker-reference``."""

    kind: str = "any"
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> SignedIdentityPolicy:
        """Parse ``any``, ``match-repository``, ``match-exact``, ``exact-reference=REF``
        or ``exact-repository=REPO``."""
        kind, sep, value = text.partition("=")
        if kind not in SIGNED_IDENTITY_KINDS:
            raise UsageError(f"unknown --signed-identity {text!r}",
                             hint="use any, match-repository, match-exact, "
                                  "exact-reference=REF or exact-repository=REPO")
        needs_value = kind.startswith("exact-")
        if needs_value and not value:
            raise UsageError(f"--signed-identity {kind} needs a value ({kind}=...)")
        if not needs_value and sep:
            raise UsageError(f"--signed-identity {kind} takes no value")
        if kind == "exact-reference":
            ref = parse_reference(value)
            if ref.tag is None and ref.digest is None:
                raise UsageError("--signed-identity exact-reference needs a tag or digest",
                                 hint="use exact-repository=REPO to match any tag")
        elif kind == "exact-repository":
            ref = parse_reference(value)
            if ref.tag is not None or ref.digest is not None:
                raise UsageError("--signed-identity exact-repository takes a repository "
                                 "without tag or digest")
        return cls(kind, value or None)

    def check(self, signed_reference: str | None, image: Reference | None) -> None:
        """Raise :class:`VerificationError` (check "signed identity") on a mismatch.

        ``image`` is the reference being verified as the user wrote it (tag or
        digest), needed by ``match-repository`` and ``match-exact``.
        """
        if self.kind == "any":
            return
        if signed_reference is None:
            raise VerificationError("signed identity: the payload has no docker-reference")
        signed = _normalise(signed_reference, "signed docker-reference")
        if self.kind == "exact-reference":
            expected = _normalise(self.value or "", "expected reference")
            ok = signed.repository_name == expected.repository_name and (
                signed.tag, signed.digest) == (expected.tag, expected.digest)
            want = expected.name
        elif self.kind == "exact-repository":
            expected = _normalise(self.value or "", "expected repository")
            ok = signed.repository_name == expected.repository_name  # any tag
            want = expected.repository_name
        else:
            if image is None:
                raise VerificationError(f"signed identity: {self.kind} needs the image "
                                        "reference")
            if self.kind == "match-repository":
                ok = signed.repository_name == image.repository_name
                want = image.repository_name
            else:  # match-exact: same repository and the same tag or digest
                ok = signed.repository_name == image.repository_name and (
                    signed.tag, signed.digest) == (image.tag, image.digest) and (
                    image.tag is not None or image.digest is not None)
                want = image.name
        if not ok:
            raise VerificationError(
                f"signed identity: expected docker-reference {want!r} ({self.kind}), "
                f"found {signed_reference!r}",
                hint="the signature was made for another image; see --signed-identity")
