"""The GitHub Action's entry point: read the inputs, push, sign, verify, report.

``action.yml`` runs this file with the inputs in ``INPUT_*`` environment variables
(never interpolated into a script). :func:`main` returns the exit code; it prints
GitHub workflow commands (``::add-mask::``, ``::group::``, ``::error::``), writes the
step outputs to ``$GITHUB_OUTPUT``, a Markdown table per image to
``$GITHUB_STEP_SUMMARY`` and a JSON report, and calls the same library code as the
``signer`` CLI.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from signer import output

if TYPE_CHECKING:
    from signer.reference import Reference
    from signer.registry.client import RegistryClient
    from signer.registry.credentials import Keychain
    from signer.verify.claims import BuildClaims

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
PUBLIC_REKOR_URL = "https://rekor.sigstore.dev"
PUBLIC_SEARCH_URL = "https://search.sigstore.dev"
GHCR = "ghcr.io"
#: stands for "the public half of the key input" in a :class:`VerifyPolicy`
SIGNING_KEY = "(the signing key)"

#: Environment variables whose values are secrets: masked before anything else.
SECRET_VARIABLES = (
    "INPUT_REGISTRY_PASSWORD",
    "INPUT_KEY_PASSWORD",
    "INPUT_GITHUB_TOKEN",
    "INPUT_IDENTITY_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "SIGSTORE_ID_TOKEN",
)

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off", ""}
_IMAGE_SEPARATORS = re.compile(r"[\s,]+")
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_ANNOTATION_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


# --------------------------------------------------------------------------- commands


class Console:
    """Writes workflow commands and log lines to one stream (stdout by default).

    Every value passes through the output boundary (:mod:`signer.output`): plain
    lines are neutralised and can never read as a workflow command, command messages
    and properties are neutralised and escaped, secrets are masked exactly.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def line(self, text: str = "") -> None:
        """One plain log line (outside text in it is made harmless)."""
        self._write(output.log_line(text))

    def mask(self, value: str) -> None:
        """Ask the runner to hide ``value`` (each line of it) in every later log line."""
        for command in output.mask_commands(value):
            self._write(command)

    def error(self, message: str, title: str | None = None, hint: str | None = None) -> None:
        """An error annotation: the message, then the hint on a second line."""
        self._write(output.workflow_command("error", message, title=title,
                                            lines=output.hint_lines(hint)))

    def warning(self, message: str) -> None:
        """A warning annotation."""
        self._write(output.workflow_command("warning", message))

    def notice(self, message: str) -> None:
        """A notice annotation."""
        self._write(output.workflow_command("notice", message))

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsible log group."""
        self._write(output.workflow_command("group", title))
        try:
            yield
        finally:
            self._write("::endgroup::")


def write_outputs(path: Path, outputs: Mapping[str, str]) -> None:
    """Append ``outputs`` to a ``$GITHUB_OUTPUT`` file (see
    :func:`signer.output.write_step_outputs`: neutralised, random delimiters)."""
    output.write_step_outputs(path, outputs)


# --------------------------------------------------------------------------- inputs


class InputProblem(Exception):
    """One bad action input: ``name`` is the input's name as written in a workflow."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


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


@dataclass(frozen=True)
class Inputs:
    """The action's inputs, validated."""

    mode: str
    images: tuple[str, ...]
    references: tuple[Reference, ...] = ()
    digest: str | None = None
    push_from: str | None = None
    #: the registry that registry-username/-password are for
    registry: str | None = None
    registry_username: str | None = None
    registry_password: str | None = None
    key: str | None = None
    key_password: str | None = None
    annotations: tuple[tuple[str, str], ...] = ()
    recursive: bool = False
    tlog_upload: bool = True
    fulcio_url: str | None = None
    rekor_url: str | None = None
    trusted_root: str | None = None
    tuf_mirror: str | None = None
    tuf_root: str | None = None
    staging: bool = False
    policy: VerifyPolicy | None = None
    insecure_ignore_tlog: bool = False
    verify_after_sign: bool = True
    insecure_registries: tuple[str, ...] = ()
    registry_ca_bundle: str | None = None
    #: the fallback credential for ghcr.io (the github-token input)
    github_token: str | None = None
    #: where signatures are stored and looked for (cosign's COSIGN_REPOSITORY)
    signature_repository: str | None = None
    #: an OIDC token to sign with instead of the job's (the identity-token input)
    identity_token: str | None = None
    show_summary: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)


def input_value(env: Mapping[str, str], name: str) -> str:
    """The raw value of input ``name`` (``registry-username`` -> ``INPUT_REGISTRY_USERNAME``)."""
    return env.get("INPUT_" + name.upper().replace("-", "_"), "").strip()


def parse_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean input: true/false (also yes/no, 1/0, on/off); empty means ``default``."""
    raw = input_value(env, name)
    if not raw:
        return default
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InputProblem(name, f"expected true or false, got {raw!r}")


def split_images(text: str) -> list[str]:
    """Image references from newline-, comma- or space-separated text, in order, deduplicated."""
    seen: dict[str, None] = {}
    for part in _IMAGE_SEPARATORS.split(text):
        if part:
            seen.setdefault(part, None)
    return list(seen)


def parse_images(images: Sequence[str], digest: str | None) -> tuple[Reference, ...]:
    """Parse every image; with ``digest``, pin each to it and keep one per repository.

    Raises :class:`InputProblem` for ``images`` naming every reference that is invalid
    or names a different digest.
    """
    from signer.errors import Error
    from signer.reference import parse_reference

    references: dict[str, Reference] = {}
    bad: list[str] = []
    for text in images:
        try:
            ref = parse_reference(text)
        except Error as err:
            bad.append(err.message)
            continue
        if digest is not None:
            if ref.digest is not None and ref.digest != digest:
                bad.append(f"{text} names digest {ref.digest}, not the digest input {digest}")
                continue
            ref = ref.with_digest(digest)
        key = ref.repository_name if digest is not None else str(ref)
        references.setdefault(key, ref)
    if bad:
        raise InputProblem("images", "; ".join(bad))
    return tuple(references.values())


def parse_annotations(text: str) -> tuple[tuple[str, str], ...]:
    """``key=value`` lines (blank lines ignored); raises :class:`InputProblem` naming the line."""
    pairs: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _ANNOTATION_KEY_RE.match(key):
            raise InputProblem("annotations",
                               f"line {number} is not key=value with a simple key: {line!r}")
        pairs[key] = value.strip()
    return tuple(pairs.items())


def _check_url(name: str, value: str) -> str | None:
    if not value:
        return None
    if not re.match(r"^https?://[^\s/]+", value):
        raise InputProblem(name, f"expected an http(s) URL, got {value!r}")
    if "@" in value.split("://", 1)[1].split("/", 1)[0]:
        # the URL is echoed into logs, outputs and the job summary: no credentials in it
        raise InputProblem(name, "the URL must not hold a user name or password")
    return value.rstrip("/")


def _check_regexp(name: str, value: str) -> str | None:
    if not value:
        return None
    try:
        re.compile(value)
    except re.error as exc:
        raise InputProblem(name, f"invalid regular expression: {exc}") from None
    return value


def _check_path(name: str, value: str, workspace: Path) -> str | None:
    if not value:
        return None
    path = Path(value)
    if not path.is_absolute():
        path = workspace / path
    if not path.exists():
        raise InputProblem(name, f"no such file or directory: {value}")
    return str(path)


def is_pem(text: str) -> bool:
    """True if ``text`` is PEM content rather than a path."""
    return text.lstrip().startswith("-----BEGIN ")


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


def _verify_policy(env: Mapping[str, str], mode: str, workspace: Path) -> VerifyPolicy | None:
    identity = input_value(env, "certificate-identity")
    identity_re = _check_regexp("certificate-identity-regexp",
                                input_value(env, "certificate-identity-regexp"))
    issuer = input_value(env, "certificate-oidc-issuer")
    issuer_re = _check_regexp("certificate-oidc-issuer-regexp",
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
            public_key = _check_path("public-key", public_key, workspace) or ""
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


def read_inputs(env: Mapping[str, str]) -> tuple[Inputs | None, list[InputProblem]]:
    """Parse and validate every input; returns the inputs or every problem found."""
    problems: list[InputProblem] = []
    workspace = Path(env.get("GITHUB_WORKSPACE") or os.getcwd())

    def attempt(fn: Callable[[], Any], default: Any) -> Any:
        try:
            return fn()
        except InputProblem as problem:
            problems.append(problem)
            return default

    mode = input_value(env, "mode").lower() or "sign"
    if mode not in ("sign", "verify"):
        problems.append(InputProblem("mode", f"expected sign or verify, got {mode!r}"))
        mode = "sign"

    images = split_images(env.get("INPUT_IMAGES", ""))
    if not images:
        problems.append(InputProblem("images", "required: give at least one image reference"))

    digest = input_value(env, "digest") or None
    if digest and not _DIGEST_RE.match(digest):
        problems.append(InputProblem("digest", f"expected sha256:<64 hex digits>, got {digest!r}"))
        digest = None
    references = attempt(lambda: parse_images(images, digest), ())

    push_from = attempt(lambda: _check_path("push-from", input_value(env, "push-from"),
                                            workspace), None)
    if push_from and mode == "verify":
        problems.append(InputProblem("push-from", "only used in sign mode"))
    if push_from and digest:
        problems.append(InputProblem("digest", "push-from sets the digest; do not give both"))

    username = input_value(env, "registry-username") or None
    password = env.get("INPUT_REGISTRY_PASSWORD", "") or None
    if bool(username) != bool(password):
        missing = "registry-password" if username else "registry-username"
        problems.append(InputProblem(missing, "registry-username and registry-password go "
                                     "together"))
    registry = attempt(lambda: credentials_registry(
        input_value(env, "registry"), bool(username and password), references), None)

    key = input_value(env, "key") or None
    if key and mode == "verify":
        problems.append(InputProblem("key", "in verify mode give the public key as public-key"))
    elif key and not is_pem(key):
        key = attempt(lambda: _check_path("key", key or "", workspace), None)
    key_password = env.get("INPUT_KEY_PASSWORD", "") or None
    identity_token = env.get("INPUT_IDENTITY_TOKEN", "").strip() or None
    if identity_token and mode == "verify":
        problems.append(InputProblem("identity-token", "only used in sign mode"))
    elif identity_token and key:
        problems.append(InputProblem("identity-token", "signing with a key needs no identity "
                                     "token; give one of them"))
    signature_repository = attempt(lambda: _check_signature_repository(
        input_value(env, "signature-repository")), None)
    show_summary = attempt(lambda: parse_bool(env, "show-summary", True), True)

    annotations = attempt(lambda: parse_annotations(env.get("INPUT_ANNOTATIONS", "")), ())
    recursive = attempt(lambda: parse_bool(env, "recursive", False), False)
    tlog_upload = attempt(lambda: parse_bool(env, "tlog-upload", True), True)
    ignore_tlog = attempt(lambda: parse_bool(env, "insecure-ignore-tlog", False), False)
    verify_after = attempt(lambda: parse_bool(env, "verify-after-sign", True), True)
    if mode == "sign" and not key and not tlog_upload:
        problems.append(InputProblem("tlog-upload", "keyless signing requires the transparency "
                                     "log; tlog-upload: false needs a key"))

    fulcio = attempt(lambda: _check_url("fulcio-url", input_value(env, "fulcio-url")), None)
    rekor = attempt(lambda: _check_url("rekor-url", input_value(env, "rekor-url")), None)
    trusted_root = attempt(lambda: _check_path("trusted-root", input_value(env, "trusted-root"),
                                               workspace), None)
    tuf_mirror = attempt(lambda: _check_url("tuf-mirror", input_value(env, "tuf-mirror")), None)
    tuf_root = attempt(lambda: _check_path("tuf-root", input_value(env, "tuf-root"), workspace),
                       None)
    staging = attempt(lambda: parse_bool(env, "staging", False), False)
    if trusted_root and (tuf_mirror or tuf_root or staging):
        problems.append(InputProblem("trusted-root", "give either trusted-root or the TUF "
                                     "inputs (tuf-mirror, tuf-root, staging), not both"))
    policy = attempt(lambda: _verify_policy(env, mode, workspace), None)
    ca_bundle = attempt(lambda: _check_path("registry-ca-bundle",
                                            input_value(env, "registry-ca-bundle"), workspace),
                        None)
    insecure = tuple(h for h in _IMAGE_SEPARATORS.split(input_value(env, "allow-insecure-registry"))
                     if h)

    if problems:
        return None, problems
    return Inputs(
        mode=mode, images=tuple(images), references=references, digest=digest,
        push_from=push_from, registry=registry,
        registry_username=username, registry_password=password, key=key,
        key_password=key_password, annotations=annotations, recursive=recursive,
        tlog_upload=tlog_upload, fulcio_url=fulcio, rekor_url=rekor,
        trusted_root=trusted_root, tuf_mirror=tuf_mirror, tuf_root=tuf_root, staging=staging,
        policy=policy, insecure_ignore_tlog=ignore_tlog,
        verify_after_sign=verify_after, insecure_registries=insecure,
        registry_ca_bundle=ca_bundle, github_token=env.get("INPUT_GITHUB_TOKEN") or None,
        signature_repository=signature_repository, identity_token=identity_token,
        show_summary=show_summary,
    ), []


def _check_signature_repository(value: str) -> str | None:
    """A ``REGISTRY/REPOSITORY`` without tag or digest (as cosign's COSIGN_REPOSITORY)."""
    from signer.errors import Error
    from signer.fetch import signature_repository_reference
    from signer.reference import parse_reference

    if not value:
        return None
    try:
        return signature_repository_reference(parse_reference("r/r"), value).repository_name
    except Error as err:
        raise InputProblem("signature-repository", err.message) from None


def credentials_registry(value: str, has_credentials: bool,
                         references: Sequence[Reference]) -> str | None:
    """The one registry that typed-in credentials are for: the ``registry`` input, else
    the only registry of the images. Raises :class:`InputProblem` (``registry``) when
    that is not clear, so that a password is never offered to another registry."""
    from signer.errors import Error
    from signer.reference import parse_reference

    registries = sorted({ref.registry for ref in references})
    if value:
        host = value.removeprefix("https://").removeprefix("http://").rstrip("/")
        try:
            if not host or "/" in host:
                raise ValueError
            named = parse_reference(f"{host}/r/r").registry
        except (Error, ValueError):
            raise InputProblem("registry", f"expected a registry host such as ghcr.io or "
                               f"HOST:PORT, got {value!r}") from None
        if not has_credentials:
            raise InputProblem("registry", "only used with registry-username and "
                               "registry-password")
        if registries and named not in registries:
            raise InputProblem("registry", f"{named} is not the registry of any image "
                               f"({', '.join(registries)})")
        return named
    if not has_credentials:
        return None
    if len(registries) > 1:
        raise InputProblem("registry", "registry-username and registry-password are for one "
                           f"registry, and the images are on {', '.join(registries)}: name "
                           "theirs with registry (the others use Docker's config, credential "
                           "helpers or, for ghcr.io, github-token)")
    return registries[0] if registries else None


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Every secret the action may see: passwords, tokens and an inline private key."""
    values = [env.get(name, "") for name in SECRET_VARIABLES]
    key = env.get("INPUT_KEY", "")
    if is_pem(key):
        values.append(key)
    return [value for value in values if value.strip()]


# --------------------------------------------------------------------------- results


@dataclass
class ImageResult:
    """What happened to one image; one row group of the summary and the report."""

    image: str
    digest: str | None = None
    #: the signature made, or the first that passed (the signature-ref output)
    signature_ref: str | None = None
    #: every signature made or passing (``.sig`` tags and bundle referrers)
    signature_refs: list[str] = field(default_factory=list)
    identity: str | None = None
    issuer: str | None = None
    rekor_log_index: int | None = None
    rekor_entry_url: str | None = None
    signed: bool = False
    verified: bool | None = None
    error: str | None = None
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        """True if nothing failed for this image."""
        return self.error is None and self.verified is not False

    def result_text(self) -> str:
        """The summary's result cell."""
        if self.error:
            return f"❌ failed: {self.error}"
        parts = []
        if self.signed:
            parts.append("signed")
        if self.verified:
            parts.append("verified")
        return "✅ " + " and ".join(parts) if parts else "-"

    def as_json(self) -> dict[str, Any]:
        """The entry of the ``results`` output and of the report."""
        refs = self.signature_refs or ([self.signature_ref] if self.signature_ref else [])
        return {
            "image": self.image, "digest": self.digest, "signed": self.signed,
            "verified": bool(self.verified), "signature_refs": refs,
            "certificate_identity": self.identity, "certificate_oidc_issuer": self.issuer,
            "rekor_log_index": self.rekor_log_index, "rekor_entry_url": self.rekor_entry_url,
            "error": self.error, "exit_code": self.exit_code,
        }


def rekor_entry_url(rekor_url: str | None, log_index: int | None) -> str | None:
    """A link to a Rekor entry: search.sigstore.dev for the public log, else the API."""
    if log_index is None:
        return None
    base = (rekor_url or PUBLIC_REKOR_URL).rstrip("/")
    if base == PUBLIC_REKOR_URL:
        return f"{PUBLIC_SEARCH_URL}/?logIndex={log_index}"
    return f"{base}/api/v1/log/entries?logIndex={log_index}"


def _cell(value: object) -> str:
    return output.markdown_text("-" if value is None or value == "" else value,
                                output.SUMMARY_CELL_LIMIT)


def _code(value: object) -> str:
    return ("-" if value is None or value == ""
            else output.markdown_code(value, output.SUMMARY_CELL_LIMIT))


def render_summary(mode: str, results: Sequence[ImageResult],
                   policy: VerifyPolicy | None) -> str:
    """The Markdown job summary: a heading, the policy, a table per image.

    Every value goes through the output boundary: it cannot break the table, open a
    code span, a link or an HTML tag.
    """
    ok = all(r.ok for r in results)
    lines = [f"## signer {mode}: {'✅ success' if ok else '❌ failure'}", ""]
    if policy is not None:
        lines += [f"Verification policy: {policy.describe()}.", ""]
    for result in results:
        link = (output.markdown_link(result.rekor_log_index, result.rekor_entry_url)
                if result.rekor_entry_url else _cell(result.rekor_log_index))
        lines += [
            f"### {_code(result.image)}", "",
            "| | |", "|---|---|",
            f"| Digest | {_code(result.digest)} |",
            f"| Signature | {_code(result.signature_ref)} |",
            f"| Identity | {_cell(result.identity)} |",
            f"| Issuer | {_cell(result.issuer)} |",
            f"| Rekor entry | {link} |",
            f"| Result | {_cell(result.result_text())} |",
            "",
        ]
    return "\n".join(lines)


def write_report(directory: Path, mode: str, results: Sequence[ImageResult],
                 policy: VerifyPolicy | None) -> Path:
    """Write the JSON report in ``directory`` and return its path."""
    report = {
        "mode": mode,
        "success": all(r.ok for r in results),
        "policy": None if policy is None else policy.as_json(),
        "images": [r.as_json() for r in results],
    }
    report = output.report_value(report)
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="signer-report-", suffix=".json", dir=directory)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(report, out, indent=2)
        out.write("\n")
    return Path(name)


# --------------------------------------------------------------------------- the run


def build_keychain(inputs: Inputs, env: Mapping[str, str]) -> Keychain:
    """Registry credentials, the first that answers for a registry:

    1. ``registry-username``/``-password``, for their one registry only;
    2. Docker's ``config.json`` and its credential helpers (e.g. after
       docker/login-action), as for ``docker`` itself;
    3. for ghcr.io only, the ``github-token`` input (the workflow's GITHUB_TOKEN by
       default) as the workflow's actor: the fallback, never over a configured login.
    """
    from signer.registry.credentials import (
        ChainKeychain,
        Credentials,
        DockerConfigKeychain,
        StaticKeychain,
    )

    chain: list[Keychain] = []
    if inputs.registry_username and inputs.registry_password and inputs.registry:
        chain.append(StaticKeychain(Credentials(inputs.registry_username,
                                                inputs.registry_password),
                                    frozenset({inputs.registry})))
    chain.append(DockerConfigKeychain())
    if inputs.github_token:
        actor = env.get("SIGNER_GITHUB_ACTOR") or "github-actions"
        chain.append(StaticKeychain(Credentials(actor, inputs.github_token),
                                    frozenset({GHCR})))
    return ChainKeychain(tuple(chain))


def _first_error_exit(results: Sequence[ImageResult]) -> int:
    return next((r.exit_code or 1 for r in results if not r.ok), 0)


class ActionRun:
    """One run of the action: the steps in order, collecting a result per image."""

    def __init__(self, inputs: Inputs, env: Mapping[str, str], console: Console) -> None:
        self.inputs = inputs
        self.env = env
        self.console = console
        self.results: dict[str, ImageResult] = {}
        self.policy: VerifyPolicy | None = inputs.policy
        self._tuf_root: Any = None  # the TUF repository's trusted root, once fetched

    def fail(self, key: str, image: str, error: Exception) -> None:
        """Record ``error`` for one image and annotate it."""
        from signer.errors import Error

        hint = None
        if isinstance(error, Error):
            message, code, hint = error.message, error.exit_code, error.hint
        else:  # a bug: say so in one line, never a traceback with values in it
            message = f"internal error ({type(error).__name__})"
            code = 1
        result = self.results.setdefault(key, ImageResult(image))
        result.error, result.exit_code = message, code
        self.console.error(message, title=f"signer {self.inputs.mode}: {image}", hint=hint)

    def internal_error(self, error: Exception) -> list[ImageResult]:
        """After a bug: every image not already judged fails with it (one line, no values)."""
        message = f"internal error ({type(error).__name__})"
        images = [str(ref) for ref in self.inputs.references]
        for image in images:
            if not any(r.image == image for r in self.results.values()):
                self.results[image] = ImageResult(image)
        for result in self.results.values():
            if result.error is None and result.verified is not True:
                result.error, result.exit_code = message, 1
                result.verified = False if result.verified is None else result.verified
        return list(self.results.values())

    def run(self, client: RegistryClient) -> list[ImageResult]:
        """Push (if asked), then sign and/or verify; never raises for user errors."""
        from signer.reference import parse_reference

        targets = [(str(ref), ref) for ref in self.inputs.references]
        if self.inputs.push_from:
            pushed = self.push(client, [ref for _name, ref in targets])
            if pushed is None:
                return list(self.results.values())
            targets = [(name, ref) for (name, _old), ref in zip(targets, pushed, strict=True)]
        pinned = self.resolve(client, targets)
        if self.inputs.mode == "sign" and pinned:
            self.sign(client, pinned)
            if self.inputs.verify_after_sign:
                # every manifest signed, including an index's children with `recursive`
                known = dict(pinned)
                to_verify = [(key, known.get(key) or parse_reference(key))
                             for key, result in self.results.items() if result.signed]
                if to_verify:
                    self.verify(client, to_verify)
        elif pinned:
            self.verify(client, pinned)
        return list(self.results.values())

    def push(self, client: RegistryClient, targets: list[Reference]) -> list[Reference] | None:
        """Push ``push-from`` to every target; return them pinned to the pushed digest."""
        from signer.errors import Error
        from signer.registry.push import push_image
        from signer.registry.sources import open_source

        assert self.inputs.push_from is not None
        with self.console.group(f"Push {self.inputs.push_from}"):
            try:
                with open_source(self.inputs.push_from) as source:
                    pushed = push_image(source, targets, client, on_pushed=self._pushed)
            except Error as error:
                for ref in targets:
                    self.fail(str(ref), str(ref), error)
                return None
        return [result.target.with_digest(result.digest) for result in pushed]

    def _pushed(self, result: Any) -> None:
        self.console.line(f"pushed {result.pinned}: {result.uploaded} blobs uploaded, "
                          f"{result.existing} already present, {result.mounted} mounted")

    def resolve(self, client: RegistryClient,
                targets: Sequence[tuple[str, Reference]]) -> list[tuple[str, Reference]]:
        """Pin every target to its digest (tags resolved once); one entry per digest.

        ``targets`` pairs the name shown to the user with the reference to resolve.
        """
        from signer.errors import Error

        pinned: dict[str, Reference] = {}
        with self.console.group("Resolve digests"):
            for image, ref in targets:
                try:
                    digest = ref.digest or client.resolve_digest(ref)
                except Error as error:
                    self.fail(image, image, error)
                    continue
                exact = ref.with_digest(digest)
                key = f"{exact.repository_name}@{digest}"
                if key in pinned:
                    self.console.line(f"{image} -> {digest} (same image as above)")
                    continue
                self.console.line(f"{image} -> {digest}")
                pinned[key] = exact
                self.results[key] = ImageResult(image, digest=digest)
        return list(pinned.items())

    def sign(self, client: RegistryClient, pinned: Sequence[tuple[str, Reference]]) -> None:
        """Sign every pinned image with one identity (one token and certificate)."""
        from signer.errors import Error
        from signer.services import PUBLIC_GOOD_FULCIO_URL, PUBLIC_GOOD_REKOR_URL
        from signer.sign import SignOptions, sign_images

        inputs = self.inputs
        with self.console.group("Sign"):
            try:
                options = SignOptions(
                    key=self._private_key(), identity_token=self._identity_token(),
                    trusted_root=(self._trusted_root() if not inputs.key or inputs.tlog_upload
                                  else None),
                    annotations=dict(inputs.annotations),
                    tlog_upload=inputs.tlog_upload, recursive=inputs.recursive,
                    fulcio_url=inputs.fulcio_url or PUBLIC_GOOD_FULCIO_URL,
                    rekor_url=inputs.rekor_url or PUBLIC_GOOD_REKOR_URL,
                    signature_repository=inputs.signature_repository)
                signed = sign_images(client, [ref for _key, ref in pinned], options)
            except Error as error:
                for key, ref in pinned:
                    self.fail(key, self.results[key].image if key in self.results else str(ref),
                              error)
                return
            for item in signed:
                # keys are REPOSITORY@DIGEST, as signed_reference; --recursive adds children
                result = self.results.setdefault(item.signed_reference, ImageResult(
                    f"{item.reference} ({item.platform or 'child'})", digest=item.digest))
                result.signed = True
                result.signature_ref = item.signature_ref
                result.signature_refs = [item.signature_ref]
                result.identity, result.issuer = item.identity, item.issuer
                result.rekor_log_index = item.log_index
                result.rekor_entry_url = self._entry_link(item.log_index, item.entry_url)
                where = (f", Rekor entry {result.rekor_entry_url}"
                         if item.log_index is not None else "")
                self.console.line(f"signed {item.signed_reference}: {item.signature_ref}{where}")
        if self.policy is None:
            first = next((r for r in self.results.values() if r.signed), None)
            if first is not None and first.identity:
                self.policy = VerifyPolicy(identity=first.identity, issuer=first.issuer)
            elif inputs.key:
                self.policy = VerifyPolicy(public_key=SIGNING_KEY)

    def verify(self, client: RegistryClient, pinned: Sequence[tuple[str, Reference]]) -> None:
        """Verify every pinned image against the policy, as ``signer verify`` does."""
        from signer.errors import Error, NoMatchingSignaturesError
        from signer.fetch import VerifyOptions, verify_images
        from signer.verify.certs import certificate_subject, oidc_issuer

        with self.console.group("Verify"):
            try:
                policy = self._verification_policy()
                trust = self._trusted_root()
            except Error as error:
                for key, _ref in pinned:
                    self.results[key].verified = False
                    self.fail(key, self.results[key].image, error)
                return
            assert self.policy is not None
            self.console.line(f"policy: {self.policy.describe()}")
            outcomes = verify_images(client, [ref for _key, ref in pinned],
                                     VerifyOptions(trust=trust, policy=policy,
                                                   rekor_url=self.inputs.rekor_url,
                                                   signature_repository=(
                                                       self.inputs.signature_repository)))
            for (key, ref), outcome in zip(pinned, outcomes, strict=True):
                result = self.results[key]
                result.verified = outcome.verified
                if outcome.signature_reference is not None and not result.signature_ref:
                    result.signature_ref = outcome.signature_reference.name
                if not outcome.verified:
                    for line in outcome.failure_lines():
                        self.console.line(f"{ref.name}: {line}")
                    self.fail(key, result.image, outcome.error if outcome.error is not None
                              else NoMatchingSignaturesError(f"no matching signatures: {ref}"))
                    continue
                passing = outcome.first_passing()
                assert passing is not None  # verified: one signature or bundle passed
                if passing.reference is not None and not result.signed:
                    # sign mode keeps the signature it just made (and its log entry)
                    result.signature_ref = passing.reference
                    result.signature_refs = list(dict.fromkeys(
                        p.reference for p in outcome.passing_signatures if p.reference))
                if passing.certificate is not None:
                    result.identity = certificate_subject(passing.certificate)
                    result.issuer = oidc_issuer(passing.certificate)
                if passing.log_index is not None and result.rekor_log_index is None:
                    # link to the log that the trusted root names for this entry's log ID
                    log = trust.tlog_by_id(passing.log_id) if passing.log_id else None
                    base = (log.base_url if log is not None and log.base_url
                            else self.inputs.rekor_url)
                    result.rekor_log_index = passing.log_index
                    result.rekor_entry_url = rekor_entry_url(base, passing.log_index)
                count = len(outcome.passing) + len(outcome.passing_bundles)
                self.console.line(f"verified {ref.name}: {count} matching signature(s)"
                                  + (f", signed by {result.identity}" if result.identity else ""))

    def _verification_policy(self) -> Any:
        """The library policy for :attr:`policy` (identity, public key or signing key)."""
        from signer.errors import UsageError
        from signer.verify.policy import IdentityPolicy, identity_warnings
        from signer.verify.verifier import VerificationPolicy

        policy = self.policy
        ignore_tlog = self.inputs.insecure_ignore_tlog or (
            self.inputs.mode == "sign" and not self.inputs.tlog_upload)
        if policy is None:
            raise UsageError("no verification policy",
                             hint="give certificate-identity and certificate-oidc-issuer, "
                                  "or public-key")
        if policy.public_key:
            return VerificationPolicy(key=self._public_key(policy.public_key),
                                      ignore_tlog=ignore_tlog)
        identity = IdentityPolicy(
            identity=policy.identity, identity_regexp=policy.identity_regexp,
            issuer=policy.issuer, issuer_regexp=policy.issuer_regexp,
            github_workflow_trigger=policy.github_workflow_trigger,
            github_workflow_sha=policy.github_workflow_sha,
            github_workflow_name=policy.github_workflow_name,
            github_workflow_repository=policy.github_workflow_repository,
            github_workflow_ref=policy.github_workflow_ref,
            build=policy.build_claims())
        for warning in identity_warnings(identity):  # cosign's policy pitfalls, as inputs
            self.console.warning(warning.replace("--certificate-", "certificate-"))
        return VerificationPolicy(identity=identity, ignore_tlog=ignore_tlog)

    def _public_key(self, text: str) -> Any:
        from signer.keys import load_public_key_pem

        if text == SIGNING_KEY:
            return self._private_key().public_key()
        if is_pem(text):
            return load_public_key_pem(text.encode(), "the public-key input")
        from signer.errors import InputError

        try:
            data = Path(text).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read public-key {text}: {exc.strerror}") from None
        return load_public_key_pem(data, f"public key {text}")

    # -- option helpers ----------------------------------------------------------

    def _trusted_root(self) -> Any:
        """The trusted-root file, else the TUF repository's root (fetched once per run;
        the cache is TUF_ROOT, which action.yml puts under runner.temp)."""
        from signer.trust import TrustedRoot

        if self.inputs.trusted_root:
            return TrustedRoot.from_file(self.inputs.trusted_root)
        if self._tuf_root is None:
            from signer.services.tuf.cache import cache_base
            from signer.services.tuf.client import load_trust
            from signer.services.tuf.instances import choose_instance

            instance = choose_instance(self.inputs.tuf_mirror, self.inputs.tuf_root,
                                       self.inputs.staging)
            trust = load_trust(instance, cache_base())
            if trust.notice:
                self.console.warning(trust.notice)
            self.console.line(f"trusted root: from TUF repository {instance.mirror}")
            self._tuf_root = trust.trusted_root
        return self._tuf_root

    def _private_key(self) -> Any:
        from signer.keys import load_private_key, load_private_key_bytes

        key, password = self.inputs.key, self.inputs.key_password
        if not key:
            return None
        secret = password.encode() if password else None
        if is_pem(key):
            return load_private_key_bytes(key.encode(), secret, what="the key input")
        return load_private_key(key, secret)

    def _identity_token(self) -> str | None:
        """Keyless: fetch the OIDC token now, and mask it before anything can print it."""
        from signer.oidc import resolve_identity_token

        if self.inputs.key:
            return None
        given = self.inputs.identity_token
        token = resolve_identity_token(given, env=self.env)
        self.console.mask(token.raw)
        source = "the identity-token input" if given else token.source
        self.console.line(f"OIDC token for {token.identity} from {token.issuer} "
                          f"(via {source})")
        return token.raw

    def _entry_link(self, log_index: int | None, api_url: str | None) -> str | None:
        base = (self.inputs.rekor_url or PUBLIC_REKOR_URL).rstrip("/")
        if base == PUBLIC_REKOR_URL or api_url is None:
            return rekor_entry_url(self.inputs.rekor_url, log_index)
        return api_url


def publish(inputs: Inputs | None, mode: str, results: Sequence[ImageResult],
            policy: VerifyPolicy | None, env: Mapping[str, str], console: Console,
            summary: str | None = None) -> None:
    """Write the step outputs, the job summary (unless ``show-summary: false``) and the
    JSON report; ``summary`` replaces the per-image tables (refused inputs)."""
    report = write_report(Path(env.get("RUNNER_TEMP") or tempfile.gettempdir()), mode,
                          results, policy)
    first = results[0] if results else ImageResult("")
    verified = bool(results) and all(r.verified for r in results)
    outputs = {
        "digest": first.digest or "",
        "signature-ref": first.signature_ref or "",
        "rekor-log-index": "" if first.rekor_log_index is None else str(first.rekor_log_index),
        "rekor-entry-url": first.rekor_entry_url or "",
        "certificate-identity": first.identity or "",
        "verified": "true" if verified else "false",
        "results": json.dumps([r.as_json() for r in results]),
        "report": str(report),
    }
    if env.get("GITHUB_OUTPUT"):
        write_outputs(Path(env["GITHUB_OUTPUT"]), outputs)
    show = inputs.show_summary if inputs is not None else (
        input_value(env, "show-summary").lower() not in _FALSE - {""})
    if env.get("GITHUB_STEP_SUMMARY") and show:
        with Path(env["GITHUB_STEP_SUMMARY"]).open("a", encoding="utf-8") as handle:
            handle.write((summary or render_summary(mode, results, policy)) + "\n")
    console.line(f"report: {report}")


def refused_inputs(env: Mapping[str, str], problems: Sequence[InputProblem]
                   ) -> tuple[str, list[ImageResult], str]:
    """For inputs that were refused: the mode, one failed result per image named (or one
    without an image) carrying every problem, and the summary listing them."""
    mode = input_value(env, "mode").lower()
    mode = mode if mode in ("sign", "verify") else "sign"
    error = "invalid inputs: " + "; ".join(f"{p.name}: {p.message}" for p in problems)
    images = split_images(env.get("INPUT_IMAGES", "")) or [""]
    results = [ImageResult(image, verified=False, error=error, exit_code=2) for image in images]
    lines = [f"## signer {mode}: ❌ failure", "", "The inputs were refused; nothing ran:", ""]
    lines += [f"- input {output.markdown_code(p.name)}: {_cell(p.message)}" for p in problems]
    return mode, results, "\n".join(lines) + "\n"


def main() -> int:
    """Run the action; returns the process exit code."""
    env = dict(os.environ)
    console = Console()
    for value in secret_values(env):  # before anything else is printed
        console.mask(value)
    inputs, problems = read_inputs(env)
    for problem in problems:
        console.error(problem.message, title=f"signer: input '{problem.name}'")
    if inputs is None:
        mode, refused, summary = refused_inputs(env, problems)
        publish(None, mode, refused, None, env, console, summary=summary)
        return 2
    from signer.errors import Error
    from signer.registry.client import RegistryClient

    if inputs.policy is not None and inputs.policy.is_default:
        console.notice(f"no certificate-identity given: requiring {inputs.policy.describe()}")
    run = ActionRun(inputs, env, console)
    try:
        client = RegistryClient(credentials=build_keychain(inputs, env),
                                insecure=inputs.insecure_registries,
                                ca_bundle=inputs.registry_ca_bundle)
    except Error as error:
        console.error(error.message, title="signer", hint=error.hint)
        publish(inputs, inputs.mode, [ImageResult(str(ref), verified=False, error=error.message,
                                                  exit_code=error.exit_code)
                                      for ref in inputs.references], run.policy, env, console)
        return error.exit_code
    try:
        results = run.run(client)
    except Exception as exc:  # a bug; report it in one line, without values
        console.error(f"internal error ({type(exc).__name__}); please report it",
                      title="signer")
        results = run.internal_error(exc)
    finally:
        client.close()
    publish(inputs, inputs.mode, results, run.policy, env, console)
    return _first_error_exit(results)


if __name__ == "__main__":
    raise SystemExit(main())
