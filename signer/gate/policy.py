"""Connaisseur's ``validators`` and ``policy`` sections as a model (layer L2, no network).

:func:`parse_policy` reads a whole Helm ``values.yaml`` (sections under
``application:``) or a file holding the bare sections, with Connaisseur 3's names
(``trustRoots``, ``with.trustRoot``, ``with.verifyInTransparencyLog``...). Supported
validator types are ``static`` and ``cosign``; another type (``notaryv1``,
``notaryv2``) is kept by name, and an image routed to it is refused at evaluation.

signer's extensions, documented in the README:

- ``trustRoots[*].keyless.github``: build claims of the certificate, as ``signer
  verify``'s claim flags check them (:mod:`signer.verify.claims`): ``repository``
  (source repository, ``OWNER/REPO`` or its URL), ``ref`` (source ref),
  ``workflow`` (signer workflow, ``OWNER/REPO/PATH[@REF]``), ``githubHosted``
  (true: GitHub-hosted runners only), and the exact legacy ``trigger`` and ``sha``;
- ``with.attestations``: in-toto predicate types that must be attested for the image
  (Sigstore bundle referrers), each signed under a named trust root;
- ``with.mode``: ``enforce`` (default) or ``warn``; Connaisseur's own values
  ``mutate`` and ``insecureValidateOnly`` mean ``enforce`` here.

Every problem is a one-line :class:`PolicyError` naming the file, the line and the
key path (``policy[2].with.trustRoot``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from signer.certificates import MalformedCertificateError, parse_pem_certificates
from signer.errors import InputError, UsageError
from signer.gate.patterns import PatternError, compile_pattern
from signer.gate.yamlfile import YamlError, YamlList, YamlMap, load_documents, read_text
from signer.keys import PublicKey, load_public_key_pem, public_key_der
from signer.trust import (
    CertificateAuthority,
    LogInstance,
    ValidityPeriod,
    authorities_from_certificates,
)
from signer.verify.claims import BuildClaims, signer_workflow_uri, source_repository_uri

DEFAULT = "default"
ALL_TRUST_ROOTS = "*"
SUPPORTED_TYPES = ("static", "cosign")
MODES = {"enforce": "enforce", "warn": "warn", "mutate": "enforce",
         "insecureValidateOnly": "enforce"}
GITHUB_CLAIMS = ("repository", "workflow", "ref", "githubHosted", "trigger", "sha")
_KMS_PREFIXES = ("awskms://", "gcpkms://", "azurekms://", "hashivault://", "k8s://")


class PolicyError(InputError):
    """A policy file that signer gate cannot use (one line: file, line, key)."""


@dataclass(frozen=True)
class KeylessIdentity:
    """Who must have signed keylessly: issuer and subject (exact or regex) and
    optional exact GitHub workflow claims."""

    issuer: str | None = None
    issuer_regex: str | None = None
    subject: str | None = None
    subject_regex: str | None = None
    #: source repository, source ref, signer workflow, GitHub-hosted runner
    build: BuildClaims = field(default_factory=BuildClaims)
    #: exact legacy GitHub workflow extensions: "trigger" (1.2), "sha" (1.3)
    github: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrustRoot:
    """One named trust root of a cosign validator: a public key or a keyless identity."""

    name: str
    line: int
    key: PublicKey | None = None
    keyless: KeylessIdentity | None = None


@dataclass(frozen=True)
class HostOverrides:
    """A validator's ``host`` section: Rekor URL and replacement trust material."""

    rekor: str | None = None
    rekor_log: LogInstance | None = None
    fulcio: tuple[CertificateAuthority, ...] = ()
    ctlog: LogInstance | None = None

    @property
    def any(self) -> bool:
        """True if anything is overridden."""
        return bool(self.rekor or self.rekor_log or self.fulcio or self.ctlog)


@dataclass(frozen=True)
class Validator:
    """A validator: ``static`` (approve or deny), ``cosign`` or an unsupported type."""

    name: str
    type: str
    line: int
    approve: bool = False
    trust_roots: tuple[TrustRoot, ...] = ()
    host: HostOverrides = field(default_factory=HostOverrides)

    def trust_root(self, name: str) -> TrustRoot | None:
        """The trust root called ``name``, if any."""
        return next((root for root in self.trust_roots if root.name == name), None)


@dataclass(frozen=True)
class AttestationRequirement:
    """An in-toto predicate type that must be attested, signed by ``trust_root``."""

    predicate_type: str
    trust_root: str


@dataclass(frozen=True)
class RuleOptions:
    """A rule's ``with`` section."""

    trust_root: str = DEFAULT
    threshold: int | None = None
    required: tuple[str, ...] = ()
    verify_tlog: bool = True
    verify_sct: bool = True
    mode: str = "enforce"
    attestations: tuple[AttestationRequirement, ...] = ()


@dataclass(frozen=True)
class Rule:
    """One ``policy`` entry: a glob pattern, the validator it names and options."""

    pattern: str
    index: int
    line: int
    validator: str = DEFAULT
    options: RuleOptions = field(default_factory=RuleOptions)
    matcher: re.Pattern[str] = field(default=re.compile(""), compare=False, repr=False)


@dataclass(frozen=True)
class Policy:
    """Validators and rules of one policy file."""

    source: str
    validators: tuple[Validator, ...]
    rules: tuple[Rule, ...]

    def validator(self, name: str) -> Validator:
        """The validator called ``name`` (parsing guarantees rules name existing ones)."""
        return next(v for v in self.validators if v.name == name)


class _Reader:
    """Typed access to YAML nodes that turns every problem into a PolicyError."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, line: int, path: str, problem: str, hint: str | None = None) -> PolicyError:
        return PolicyError(f"{self.source}:{line}: {path}: {problem}", hint=hint)

    def mapping(self, value: Any, line: int, path: str) -> YamlMap:
        if not isinstance(value, YamlMap):
            raise self.error(line, path, f"must be a mapping, not {_kind(value)}")
        return value

    def sequence(self, value: Any, line: int, path: str) -> YamlList:
        if not isinstance(value, YamlList):
            raise self.error(line, path, f"must be a list, not {_kind(value)}")
        return value

    def text(self, node: YamlMap, key: str, path: str, *, required: bool = False) -> str | None:
        value = node.get(key)
        if value is None:
            if required:
                raise self.error(node.line, f"{path}.{key}", "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(node.line_of(key), f"{path}.{key}",
                             f"must be a non-empty string, not {_kind(value)}")
        return value

    def boolean(self, node: YamlMap, key: str, path: str, default: bool) -> bool:
        value = node.get(key, default)
        if not isinstance(value, bool):
            raise self.error(node.line_of(key), f"{path}.{key}",
                             f"must be true or false, not {_kind(value)}")
        return value

    def known_keys(self, node: YamlMap, path: str, allowed: tuple[str, ...],
                   hints: Mapping[str, str] | None = None) -> None:
        for key in node:
            if key not in allowed:
                hint = (hints or {}).get(key) or f"known keys: {', '.join(allowed)}"
                raise self.error(node.line_of(key), f"{path}.{key}", "unknown key", hint=hint)


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string" if value.strip() else "an empty string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_SNAKE_HINTS = {"trust_roots": "Connaisseur 3 calls it trustRoots",
                "trust_root": "Connaisseur 3 calls it trustRoot"}


def _compile_regex(reader: _Reader, node: YamlMap, key: str, path: str) -> str | None:
    value = reader.text(node, key, path)
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise reader.error(node.line_of(key), f"{path}.{key}",
                               f"invalid regular expression: {exc}") from None
    return value


def _pem_key(reader: _Reader, node: YamlMap, key: str, path: str) -> PublicKey | None:
    text = reader.text(node, key, path)
    if text is None:
        return None
    if text.strip().startswith(_KMS_PREFIXES):
        raise reader.error(node.line_of(key), f"{path}.{key}",
                           "KMS key references cannot be read by signer gate",
                           hint="put the PEM public key (cosign public-key --key URI) here")
    try:
        return load_public_key_pem(text.encode(), f"{path}.{key}")
    except InputError as err:
        raise reader.error(node.line_of(key), f"{path}.{key}",
                           f"not a PEM public key ({err.message})") from None


def _log(key: PublicKey, url: str = "") -> LogInstance:
    return LogInstance(hashlib.sha256(public_key_der(key)).digest(), key, url,
                       ValidityPeriod.always())


def _host(reader: _Reader, value: Any, line: int, path: str) -> HostOverrides:
    if value is None:
        return HostOverrides()
    node = reader.mapping(value, line, path)
    reader.known_keys(node, path, ("rekor", "rekorPubkey", "fulcioCert", "ctLogPubkey"))
    rekor = reader.text(node, "rekor", path)
    if rekor is not None and "://" not in rekor:
        rekor = f"https://{rekor}"
    rekor_key = _pem_key(reader, node, "rekorPubkey", path)
    ct_key = _pem_key(reader, node, "ctLogPubkey", path)
    fulcio: tuple[CertificateAuthority, ...] = ()
    fulcio_text = reader.text(node, "fulcioCert", path)
    if fulcio_text is not None:
        try:
            certs: list[x509.Certificate] = parse_pem_certificates(fulcio_text.encode())
            fulcio = authorities_from_certificates(certs)
        except (MalformedCertificateError, InputError) as err:
            problem = getattr(err, "message", "no valid PEM certificate")
            raise reader.error(node.line_of("fulcioCert"), f"{path}.fulcioCert",
                               f"not usable as Fulcio CA certificates ({problem})") from None
    return HostOverrides(rekor=rekor, rekor_log=_log(rekor_key, rekor or "") if rekor_key else None,
                         fulcio=fulcio, ctlog=_log(ct_key) if ct_key else None)


def _keyless(reader: _Reader, value: Any, line: int, path: str) -> KeylessIdentity:
    node = reader.mapping(value, line, path)
    reader.known_keys(node, path, ("issuer", "issuerRegex", "subject", "subjectRegex", "github"))
    issuer = reader.text(node, "issuer", path)
    issuer_regex = _compile_regex(reader, node, "issuerRegex", path)
    subject = reader.text(node, "subject", path)
    subject_regex = _compile_regex(reader, node, "subjectRegex", path)
    if (issuer is None) == (issuer_regex is None):
        raise reader.error(node.line, path, "needs exactly one of issuer and issuerRegex")
    if (subject is None) == (subject_regex is None):
        raise reader.error(node.line, path, "needs exactly one of subject and subjectRegex")
    build, github = BuildClaims(), dict[str, str]()
    if "github" in node:
        build, github = _github_claims(reader, node["github"], node.line_of("github"),
                                       f"{path}.github")
    return KeylessIdentity(issuer, issuer_regex, subject, subject_regex, build, github)


def _github_claims(reader: _Reader, value: Any, line: int, path: str
                   ) -> tuple[BuildClaims, dict[str, str]]:
    claims = reader.mapping(value, line, path)
    reader.known_keys(claims, path, GITHUB_CLAIMS)
    texts = {name: reader.text(claims, name, path)
             for name in GITHUB_CLAIMS if name != "githubHosted"}
    try:
        repository = texts["repository"]
        workflow = texts["workflow"]
        build = BuildClaims(
            source_repository=source_repository_uri(repository) if repository else None,
            source_ref=texts["ref"],
            signer_workflow=signer_workflow_uri(workflow) if workflow else None,
            github_hosted_only=reader.boolean(claims, "githubHosted", path, False))
    except UsageError as err:
        key = "repository" if "source repository" in err.message else "workflow"
        raise reader.error(claims.line_of(key), f"{path}.{key}", err.message,
                           hint=err.hint) from None
    legacy = {name: text for name in ("trigger", "sha") if (text := texts[name]) is not None}
    return build, legacy


def _trust_roots(reader: _Reader, node: YamlMap, path: str) -> tuple[TrustRoot, ...]:
    if "trustRoots" not in node:
        raise reader.error(node.line, f"{path}.trustRoots", "is required for a cosign validator")
    items = reader.sequence(node["trustRoots"], node.line_of("trustRoots"), f"{path}.trustRoots")
    if not items:
        raise reader.error(items.line, f"{path}.trustRoots", "needs at least one trust root")
    roots: list[TrustRoot] = []
    for index, item, line in items.entries():
        where = f"{path}.trustRoots[{index}]"
        root = reader.mapping(item, line, where)
        reader.known_keys(root, where, ("name", "key", "keyless"))
        name = reader.text(root, "name", where, required=True)
        assert name is not None
        if any(r.name == name for r in roots):
            raise reader.error(root.line_of("name"), f"{where}.name",
                               f"duplicate trust root name {name!r}")
        if (root.get("key") is None) == (root.get("keyless") is None):
            raise reader.error(root.line, where, "needs exactly one of key and keyless")
        key = _pem_key(reader, root, "key", where)
        keyless = (_keyless(reader, root["keyless"], root.line_of("keyless"), f"{where}.keyless")
                   if root.get("keyless") is not None else None)
        roots.append(TrustRoot(name, root.line, key, keyless))
    return tuple(roots)


def _validator(reader: _Reader, item: Any, line: int, path: str) -> Validator:
    node = reader.mapping(item, line, path)
    name = reader.text(node, "name", path, required=True)
    kind = reader.text(node, "type", path, required=True)
    assert name is not None and kind is not None
    if kind == "static":
        reader.known_keys(node, path, ("name", "type", "approve"))
        if "approve" not in node:
            raise reader.error(node.line, f"{path}.approve", "is required for a static validator")
        return Validator(name, kind, node.line,
                         approve=reader.boolean(node, "approve", path, False))
    if kind == "cosign":
        reader.known_keys(node, path, ("name", "type", "trustRoots", "host", "auth", "cert"),
                          _SNAKE_HINTS)
        return Validator(name, kind, node.line, trust_roots=_trust_roots(reader, node, path),
                         host=_host(reader, node.get("host"), node.line_of("host"),
                                    f"{path}.host"))
    return Validator(name, kind, node.line)  # notaryv1, notaryv2: refused at evaluation


def _attestations(reader: _Reader, value: Any, line: int, path: str, validator: Validator,
                  default_root: str) -> tuple[AttestationRequirement, ...]:
    items = reader.sequence(value, line, path)
    result = []
    for index, item, item_line in items.entries():
        where = f"{path}[{index}]"
        node = reader.mapping(item, item_line, where)
        reader.known_keys(node, where, ("predicateType", "trustRoot"))
        predicate = reader.text(node, "predicateType", where, required=True)
        root = reader.text(node, "trustRoot", where) or default_root
        assert predicate is not None
        if root == ALL_TRUST_ROOTS or validator.trust_root(root) is None:
            raise reader.error(node.line_of("trustRoot"), f"{where}.trustRoot",
                               f"unknown trust root {root!r} of validator {validator.name!r}",
                               hint="name one trust root of the rule's validator")
        result.append(AttestationRequirement(predicate, root))
    return tuple(result)


_WITH_KEYS = ("trustRoot", "threshold", "required", "verifyInTransparencyLog", "verifySCT",
              "mode", "attestations", "delegations", "verificationLevel", "verifyTimestamp")


def _options(reader: _Reader, value: Any, line: int, path: str,
             validator: Validator) -> RuleOptions:
    if value is None:
        node = YamlMap()
        node.line, node.key_lines = line, {}
    else:
        node = reader.mapping(value, line, path)
    reader.known_keys(node, path, _WITH_KEYS, _SNAKE_HINTS)
    trust_root = reader.text(node, "trustRoot", path) or DEFAULT
    threshold = node.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int)
                                  or threshold < 1):
        raise reader.error(node.line_of("threshold"), f"{path}.threshold",
                           "must be a whole number of at least 1")
    required: tuple[str, ...] = ()
    if node.get("required") is not None:
        items = reader.sequence(node["required"], node.line_of("required"), f"{path}.required")
        if not all(isinstance(item, str) and item for item in items):
            raise reader.error(items.line, f"{path}.required", "must list trust root names")
        required = tuple(items)
    mode_text = reader.text(node, "mode", path) or "enforce"
    if mode_text not in MODES:
        raise reader.error(node.line_of("mode"), f"{path}.mode", f"unknown mode {mode_text!r}",
                           hint="use enforce or warn")
    if validator.type == "cosign":
        roots = [r.name for r in validator.trust_roots]
        if trust_root != ALL_TRUST_ROOTS and trust_root not in roots:
            given = "trustRoot" in node
            raise reader.error(node.line_of("trustRoot") if given else node.line,
                               f"{path}.trustRoot",
                               f"unknown trust root {trust_root!r} of validator "
                               f"{validator.name!r}"
                               + ("" if given else " (no trustRoot given: 'default' is used)"),
                               hint=f"its trust roots: {', '.join(roots)}, or '*' for all")
        for name in required:
            if name not in roots:
                raise reader.error(node.line_of("required"), f"{path}.required",
                                   f"unknown trust root {name!r} of validator "
                                   f"{validator.name!r}")
        if threshold is not None and threshold > len(roots):
            raise reader.error(node.line_of("threshold"), f"{path}.threshold",
                               f"{threshold} is more than the {len(roots)} trust roots of "
                               f"validator {validator.name!r}")
    attestations: tuple[AttestationRequirement, ...] = ()
    if node.get("attestations") is not None:
        if validator.type != "cosign":
            raise reader.error(node.line_of("attestations"), f"{path}.attestations",
                               "needs a cosign validator")
        default_root = trust_root if trust_root != ALL_TRUST_ROOTS else DEFAULT
        attestations = _attestations(reader, node["attestations"], node.line_of("attestations"),
                                     f"{path}.attestations", validator, default_root)
    return RuleOptions(
        trust_root=trust_root, threshold=threshold, required=required,
        verify_tlog=reader.boolean(node, "verifyInTransparencyLog", path, True),
        verify_sct=reader.boolean(node, "verifySCT", path, True),
        mode=MODES[mode_text], attestations=attestations)


def _rule(reader: _Reader, item: Any, line: int, index: int,
          validators: Mapping[str, Validator]) -> Rule:
    path = f"policy[{index}]"
    node = reader.mapping(item, line, path)
    reader.known_keys(node, path, ("pattern", "validator", "with"))
    pattern = reader.text(node, "pattern", path, required=True)
    assert pattern is not None
    try:
        matcher = compile_pattern(pattern)
    except PatternError as exc:
        raise reader.error(node.line_of("pattern"), f"{path}.pattern", str(exc)) from None
    name = reader.text(node, "validator", path) or DEFAULT
    validator = validators.get(name)
    if validator is None:
        given = "validator" in node
        raise reader.error(node.line_of("validator") if given else node.line,
                           f"{path}.validator",
                           f"unknown validator {name!r}"
                           + ("" if given else " (no validator given: 'default' is used)"),
                           hint=f"defined validators: {', '.join(validators) or 'none'}")
    options = _options(reader, node.get("with"), node.line_of("with"), f"{path}.with", validator)
    return Rule(pattern, index, node.line, name, options, matcher)


def parse_policy(text: str, source: str) -> Policy:
    """Parse a policy file's text; ``source`` names it in errors."""
    reader = _Reader(source)
    try:
        documents = load_documents(text, source)
    except YamlError as err:
        raise PolicyError(err.message, hint=err.hint) from None
    if len(documents) != 1:
        raise PolicyError(f"{source}: expected one YAML document with validators and policy, "
                          f"found {len(documents)}")
    root = reader.mapping(documents[0], 1, "(top level)")
    base, prefix = root, ""
    if "application" in root:
        base = reader.mapping(root["application"], root.line_of("application"), "application")
        prefix = "application."
    for section in ("validators", "policy"):
        if section not in base:
            raise reader.error(base.line, f"{prefix}{section}", "is missing",
                               hint="give Connaisseur's validators and policy sections, "
                                    "bare or under application:")
    items = reader.sequence(base["validators"], base.line_of("validators"), f"{prefix}validators")
    validators: dict[str, Validator] = {}
    for index, item, line in items.entries():
        validator = _validator(reader, item, line, f"{prefix}validators[{index}]")
        if validator.name in validators:
            raise reader.error(validator.line, f"{prefix}validators[{index}].name",
                               f"duplicate validator name {validator.name!r}")
        validators[validator.name] = validator
    rules_node = reader.sequence(base["policy"], base.line_of("policy"), f"{prefix}policy")
    rules = tuple(_rule(reader, item, line, index, validators)
                  for index, item, line in rules_node.entries())
    if not rules:
        raise reader.error(rules_node.line, f"{prefix}policy", "has no rules",
                           hint="every image would be denied; add at least one rule")
    return Policy(source, tuple(validators.values()), rules)


def load_policy(path: str, name: str | None = None) -> Policy:
    """Read and parse a policy file; errors call it ``name`` (default: ``path``)."""
    shown = name if name is not None else path
    try:
        text = read_text(path)
    except InputError as err:  # cannot read: name it as the user did
        raise PolicyError(err.message.replace(path, shown), hint=err.hint) from None
    try:
        return parse_policy(text, shown)
    except PolicyError:
        raise
    except InputError as err:  # YAML problems already name the file and line
        raise PolicyError(err.message, hint=err.hint) from None
