"""All of the action's inputs, read and validated at once (layer L5).

:func:`read_inputs` returns :class:`Inputs` or every problem found (one per input, each
naming it), so that a workflow author fixes them in one go; nothing runs then.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signer.action.gate_inputs import NOT_FOR_GATE, GateInputs, read_gate_inputs
from signer.action.policy import VerifyPolicy, verify_policy
from signer.action.values import (
    IMAGE_SEPARATORS,
    InputProblem,
    check_path,
    check_url,
    input_value,
    is_pem,
    parse_bool,
    split_images,
)

if TYPE_CHECKING:
    from signer.reference import Reference


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


#: what the mode input takes
MODES = ("sign", "verify", "verify-attestation", "gate")
#: verify-attestation mode without predicate-type: SLSA v1 build provenance
DEFAULT_PREDICATE_TYPE = "slsaprovenance1"


_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


_ANNOTATION_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


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
    registry_password: str | None = field(default=None, repr=False)  # a secret
    key: str | None = None
    key_password: str | None = field(default=None, repr=False)  # a secret
    annotations: tuple[tuple[str, str], ...] = ()
    recursive: bool = False
    tlog_upload: bool = True
    fulcio_url: str | None = None
    rekor_url: str | None = None
    #: an RFC 3161 timestamp authority overriding the signing config's
    timestamp_server_url: str | None = None
    #: a signing_config.v0.2.json in the workspace naming the services to sign with
    signing_config: str | None = None
    trusted_root: str | None = None
    tuf_mirror: str | None = None
    tuf_root: str | None = None
    staging: bool = False
    policy: VerifyPolicy | None = None
    insecure_ignore_tlog: bool = False
    verify_after_sign: bool = True
    signature_format: str = "both"  # both | bundle | legacy
    insecure_registries: tuple[str, ...] = ()
    registry_ca_bundle: str | None = None
    #: the fallback credential for ghcr.io (the github-token input)
    github_token: str | None = field(default=None, repr=False)  # a secret
    #: where signatures are stored and looked for (cosign's COSIGN_REPOSITORY)
    signature_repository: str | None = None
    #: an OIDC token to sign with instead of the job's (the identity-token input)
    identity_token: str | None = field(default=None, repr=False)  # a secret
    show_summary: bool = True
    #: sign mode: "provenance" also attests SLSA build provenance of the run
    attest: str | None = None
    #: verify-attestation mode: the predicate type URI required
    predicate_type: str | None = None
    #: gate mode: the policy file, the paths searched and the base ref
    gate: GateInputs | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


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
    if mode not in MODES:
        problems.append(InputProblem("mode", f"expected sign, verify, verify-attestation or "
                                     f"gate, got {mode!r}"))
        mode = "sign"
    verifying = mode in ("verify", "verify-attestation")
    gate, gate_problems = read_gate_inputs(env, mode, workspace)
    problems += gate_problems

    images = split_images(env.get("INPUT_IMAGES", ""))
    if not images and mode != "gate":
        problems.append(InputProblem("images", "required: give at least one image reference"))

    digest = input_value(env, "digest") or None
    if digest and not _DIGEST_RE.match(digest):
        problems.append(InputProblem("digest", f"expected sha256:<64 hex digits>, got {digest!r}"))
        digest = None
    references = attempt(lambda: parse_images(images, digest), ())

    push_from = attempt(lambda: check_path("push-from", input_value(env, "push-from"),
                                            workspace), None)
    if push_from and verifying:
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
    if mode == "gate" and username and password and not input_value(env, "registry"):
        problems.append(InputProblem("registry", "required with registry-username and "
                                     "registry-password in gate mode: the images are only "
                                     "known from the files, so name the registry they are "
                                     "for"))

    key = input_value(env, "key") or None
    if key and verifying:
        problems.append(InputProblem("key", "in verify mode give the public key as public-key"))
    elif key and not is_pem(key):
        key = attempt(lambda: check_path("key", key or "", workspace), None)
    key_password = env.get("INPUT_KEY_PASSWORD", "") or None
    identity_token = env.get("INPUT_IDENTITY_TOKEN", "").strip() or None
    if identity_token and verifying:
        problems.append(InputProblem("identity-token", "only used in sign mode"))
    elif identity_token and key:
        problems.append(InputProblem("identity-token", "signing with a key needs no identity "
                                     "token; give one of them"))
    signature_repository = attempt(lambda: _check_signature_repository(
        input_value(env, "signature-repository")), None)
    show_summary = attempt(lambda: parse_bool(env, "show-summary", True), True)
    attest = input_value(env, "attest").lower() or None
    if attest not in (None, "provenance"):
        problems.append(InputProblem("attest", f"expected provenance (or nothing), got "
                                     f"{attest!r}"))
    elif attest and mode != "sign":
        problems.append(InputProblem("attest", "only used in sign mode"))

    annotations = attempt(lambda: parse_annotations(env.get("INPUT_ANNOTATIONS", "")), ())
    recursive = attempt(lambda: parse_bool(env, "recursive", False), False)
    tlog_upload = attempt(lambda: parse_bool(env, "tlog-upload", True), True)
    ignore_tlog = attempt(lambda: parse_bool(env, "insecure-ignore-tlog", False), False)
    verify_after = attempt(lambda: parse_bool(env, "verify-after-sign", True), True)
    signature_format = input_value(env, "signature-format").lower() or "both"
    if signature_format not in ("both", "bundle", "legacy"):
        problems.append(InputProblem("signature-format", "expected both, bundle or legacy"))
    if mode == "sign" and not key and not tlog_upload:
        problems.append(InputProblem("tlog-upload", "keyless signing requires the transparency "
                                     "log; tlog-upload: false needs a key"))

    fulcio = attempt(lambda: check_url("fulcio-url", input_value(env, "fulcio-url")), None)
    rekor = attempt(lambda: check_url("rekor-url", input_value(env, "rekor-url")), None)
    timestamp_server = attempt(lambda: check_url("timestamp-server-url",
                                                 input_value(env, "timestamp-server-url")), None)
    signing_config = attempt(lambda: check_path("signing-config",
                                                input_value(env, "signing-config"), workspace),
                             None)
    for name, given in (("signing-config", signing_config),
                        ("timestamp-server-url", timestamp_server)):
        if given and mode != "sign":
            problems.append(InputProblem(name, "only used in sign mode"))
    trusted_root = attempt(lambda: check_path("trusted-root", input_value(env, "trusted-root"),
                                               workspace), None)
    tuf_mirror = attempt(lambda: check_url("tuf-mirror", input_value(env, "tuf-mirror")), None)
    tuf_root = attempt(lambda: check_path("tuf-root", input_value(env, "tuf-root"), workspace),
                       None)
    staging = attempt(lambda: parse_bool(env, "staging", False), False)
    if trusted_root and (tuf_mirror or tuf_root or staging):
        problems.append(InputProblem("trusted-root", "give either trusted-root or the TUF "
                                     "inputs (tuf-mirror, tuf-root, staging), not both"))
    policy = (None if mode == "gate" else
              attempt(lambda: verify_policy(env, "verify" if verifying else mode, workspace),
                      None))
    predicate_type = attempt(lambda: _predicate_type(input_value(env, "predicate-type"),
                                                     mode), None)
    ca_bundle = attempt(lambda: check_path("registry-ca-bundle",
                                            input_value(env, "registry-ca-bundle"), workspace),
                        None)
    insecure = tuple(h for h in IMAGE_SEPARATORS.split(input_value(env, "allow-insecure-registry"))
                     if h)

    if problems:
        if mode == "gate":  # an input refused as not for gate mode needs no second reason
            problems = [p for index, p in enumerate(problems)
                        if p.name not in NOT_FOR_GATE or
                        all(q.name != p.name for q in problems[:index])]
        return None, problems
    return Inputs(
        mode=mode, images=tuple(images), references=references, digest=digest,
        push_from=push_from, registry=registry,
        registry_username=username, registry_password=password, key=key,
        key_password=key_password, annotations=annotations, recursive=recursive,
        tlog_upload=tlog_upload, fulcio_url=fulcio, rekor_url=rekor,
        timestamp_server_url=timestamp_server, signing_config=signing_config,
        trusted_root=trusted_root, tuf_mirror=tuf_mirror, tuf_root=tuf_root, staging=staging,
        policy=policy, insecure_ignore_tlog=ignore_tlog,
        verify_after_sign=verify_after, signature_format=signature_format,
        insecure_registries=insecure,
        registry_ca_bundle=ca_bundle, github_token=env.get("INPUT_GITHUB_TOKEN") or None,
        signature_repository=signature_repository, identity_token=identity_token,
        show_summary=show_summary, attest=attest, predicate_type=predicate_type, gate=gate,
    ), []


def _predicate_type(value: str, mode: str) -> str | None:
    """The predicate type URI verify-attestation mode requires (slsaprovenance1 unless
    named): cosign's short names or a URI."""
    from signer.errors import Error
    from signer.formats.attestation import predicate_type_uri

    if mode != "verify-attestation":
        if value:
            raise InputProblem("predicate-type", "only used in verify-attestation mode")
        return None
    try:
        return predicate_type_uri(value or DEFAULT_PREDICATE_TYPE)
    except Error as error:
        raise InputProblem("predicate-type", error.message) from None


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
