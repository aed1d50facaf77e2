"""Evaluate the images a change deploys against a Connaisseur policy (layer L4).

For each distinct image (however often and however spelled it is named): pick the
most specific rule (:mod:`signer.gate.patterns`); a ``static`` validator decides
alone; a ``cosign`` validator's trust roots are checked with the existing
verification: the tag is resolved once, the ``.sig`` signatures (or, when there are
none, the Sigstore bundle referrers) are fetched once per digest, and each trust root
needed (:func:`signer.gate.verdict.trust_roots_to_check`) runs the pure verifier over
that material with its own key or keyless identity and the validator's ``host``
trust overrides. A rule's ``with.attestations`` are looked for among the bundle
referrers: each predicate type needs a bundle that verifies under its trust root and
names the image. Distinct images are evaluated concurrently over one registry client.

Library use::

    uses, problems = discover(["deploy/"])
    with RegistryClient() as client:
        results = evaluate(client, policy, uses, GateOptions(trust=load_default()))
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from signer.digest import parse_digest
from signer.errors import Error, InputError
from signer.fetch import (
    VerifyOptions,
    attach_online_entries,
    fetch_signature_layers,
    judge_image,
    resolve_image_digest,
    signature_repository_reference,
)
from signer.formats.legacy import SignatureLayer
from signer.gate.discovery import ImageUse
from signer.gate.patterns import connaisseur_name, most_specific_rule
from signer.gate.policy import Policy, Rule, TrustRoot, Validator
from signer.gate.verdict import decide, trust_roots_to_check
from signer.reference import Reference, parse_reference
from signer.referrers import (
    ImageBundle,
    bundle_policy,
    find_image_bundles,
)
from signer.registry.client import RegistryClient
from signer.trust import TrustedRoot
from signer.verify.bundle import Artifact, BundleOptions, verify_bundle
from signer.verify.policy import IdentityPolicy
from signer.verify.verifier import VerificationPolicy

PASS, FAIL, WARN, UNRESOLVED = "pass", "fail", "warn", "unresolved"
DEFAULT_MAX_WORKERS = 32

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class GateOptions:
    """Trust and registry settings shared by every image."""

    #: the base trusted root, or a function that loads it (called once, and only when
    #: an image needs a signature check: static rules need no trust material)
    trust: TrustedRoot | Callable[[], TrustedRoot]
    signature_repository: str | None = None
    max_workers: int = DEFAULT_MAX_WORKERS
    #: unresolved references (``${VAR}`` without default) fail the run unless False
    unresolved_fails: bool = True
    #: ask a validator's ``host.rekor`` for entries a signature does not carry
    rekor_lookups: bool = True


@dataclass(frozen=True)
class TrustRootResult:
    """Signatures found valid under one trust root (and why none, if none)."""

    name: str
    valid: int
    reason: str = ""


@dataclass(frozen=True)
class AttestationResult:
    """Verified attestations of one required predicate type under one trust root."""

    predicate_type: str
    trust_root: str
    valid: int
    reason: str = ""


@dataclass
class ImageResult:
    """The verdict for one distinct image and every place that names it."""

    reference: str
    uses: list[ImageUse]
    status: str = FAIL
    reason: str = ""
    digest: str | None = None
    rule: Rule | None = None
    validator: Validator | None = None
    trust_roots: list[TrustRootResult] = field(default_factory=list)
    attestations: list[AttestationResult] = field(default_factory=list)
    #: whether an unresolved reference fails the run (GateOptions.unresolved_fails)
    unresolved_fails: bool = True

    @property
    def fails_run(self) -> bool:
        """True if this image makes the gate fail (``warn`` never does)."""
        return self.status == FAIL or (self.status == UNRESOLVED and self.unresolved_fails)

    def to_json(self) -> dict[str, Any]:
        """The JSON form of one row."""
        return {
            "image": self.reference,
            "digest": self.digest,
            "result": self.status,
            "reason": self.reason,
            "rule": None if self.rule is None else {
                "pattern": self.rule.pattern, "index": self.rule.index,
                "mode": self.rule.options.mode},
            "validator": None if self.validator is None else self.validator.name,
            "validatorType": None if self.validator is None else self.validator.type,
            "signatures": {root.name: root.valid for root in self.trust_roots},
            "trustRootReasons": {root.name: root.reason for root in self.trust_roots
                                 if root.reason},
            "attestations": [{"predicateType": a.predicate_type, "trustRoot": a.trust_root,
                              "verified": a.valid, "reason": a.reason}
                             for a in self.attestations],
            "locations": [{"file": use.file, "line": use.line, "kind": use.kind,
                           "written": use.reference} for use in self.uses],
        }


class _Once(Generic[K, V]):
    """Compute a value once per key, even when threads ask at the same time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[K, Future[V]] = {}

    def get(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if future is None:
                future = self._futures[key] = Future()
        if owner:
            try:
                future.set_result(compute())
            except BaseException as exc:  # handed to every waiter, then re-raised
                future.set_exception(exc)
        return future.result()


@dataclass(frozen=True)
class _Gathered:
    """Both signature formats of one digest, and what gathering either one raised."""

    layers: tuple[SignatureLayer, ...]
    bundles: tuple[ImageBundle, ...]
    signature_reference: Reference | None
    legacy_error: Error | None
    bundle_error: Error | None


def identity_policy(root: TrustRoot) -> IdentityPolicy | None:
    """The keyless identity of a trust root as signer's identity policy."""
    if root.keyless is None:
        return None
    github = root.keyless.github
    return IdentityPolicy(
        identity=root.keyless.subject, identity_regexp=root.keyless.subject_regex,
        issuer=root.keyless.issuer, issuer_regexp=root.keyless.issuer_regex,
        github_workflow_trigger=github.get("trigger"),
        github_workflow_sha=github.get("sha"),
        build=root.keyless.build)


def validator_trust(base: TrustedRoot, validator: Validator) -> TrustedRoot:
    """``base`` with the validator's ``host`` overrides applied."""
    host, trust = validator.host, base
    if host.fulcio:
        trust = trust.replace(certificate_authorities=host.fulcio)
    if host.rekor_log is not None:
        trust = trust.replace(tlogs=(host.rekor_log,))
    if host.ctlog is not None:
        trust = trust.replace(ctlogs=(host.ctlog,))
    return trust


class _Evaluator:
    def __init__(self, client: RegistryClient, policy: Policy, options: GateOptions) -> None:
        self.client = client
        self.policy = policy
        self.options = options
        self.digests: _Once[str, str] = _Once()
        self.gathered: _Once[tuple[str, str], _Gathered] = _Once()
        self._base: _Once[str, TrustedRoot] = _Once()
        self._trusts: _Once[str, TrustedRoot] = _Once()

    def trust_for(self, validator: Validator) -> TrustedRoot:
        """The validator's trust: the base root (loaded on first use) with its overrides."""
        def base() -> TrustedRoot:
            trust = self.options.trust
            return trust if isinstance(trust, TrustedRoot) else trust()

        return self._trusts.get(validator.name, lambda: validator_trust(
            self._base.get("", base), validator))

    def gather(self, image: Reference, digest: str) -> _Gathered:
        """Both signature formats of ``digest``, fetched once per repository and digest
        (as ``signer verify`` gathers them; a failure of one format is kept beside the
        other's material)."""
        repository = signature_repository_reference(image, self.options.signature_repository)

        def fetch() -> _Gathered:
            sig_ref: Reference | None = None
            layers: list[SignatureLayer] = []
            bundles: list[ImageBundle] = []
            legacy_error = bundle_error = None
            try:
                sig_ref, layers = fetch_signature_layers(self.client, repository, digest)
            except Error as err:
                legacy_error = err
            try:
                bundles = find_image_bundles(self.client, repository, digest)
            except Error as err:
                bundle_error = err
            return _Gathered(tuple(layers), tuple(bundles), sig_ref, legacy_error,
                             bundle_error)

        return self.gathered.get((repository.repository_name, digest), fetch)

    @staticmethod
    def verification_policy(root: TrustRoot, rule: Rule) -> VerificationPolicy:
        """What a signature under ``root`` must satisfy for ``rule``."""
        return VerificationPolicy(key=root.key, identity=identity_policy(root),
                                  ignore_tlog=not rule.options.verify_tlog,
                                  ignore_sct=not rule.options.verify_sct)

    def check_root(self, validator: Validator, root: TrustRoot, rule: Rule, image: Reference,
                   digest: str) -> TrustRootResult:
        """Valid signatures under one trust root, judged as ``signer verify`` judges
        them (every ``.sig`` layer and signature bundle, each failing alone)."""
        rekor = validator.host.rekor if self.options.rekor_lookups else None
        options = VerifyOptions(self.trust_for(validator),
                                self.verification_policy(root, rule), rekor_url=rekor)
        gathered = self.gather(image, digest)
        layers: Sequence[SignatureLayer] = gathered.layers
        if rekor and layers:
            layers = attach_online_entries(layers, options)
        verdict = judge_image(image, digest, layers, gathered.bundles, options,
                              signature_reference=gathered.signature_reference,
                              legacy_error=gathered.legacy_error,
                              bundle_error=gathered.bundle_error)
        valid = len(verdict.passing) + len(verdict.passing_bundles)
        reason = "" if valid else (verdict.error.message if verdict.error is not None
                                   else "no valid signature")
        return TrustRootResult(root.name, valid, reason)

    def check_attestations(self, validator: Validator, rule: Rule, image: Reference,
                           digest: str) -> list[AttestationResult]:
        """For each required predicate type: the image's bundle referrers that verify
        under the named trust root, name the image as subject and have that type."""
        gathered = self.gather(image, digest)
        bundles = [b.bundle for b in gathered.bundles if b.bundle is not None]
        trust = self.trust_for(validator)
        artifact = Artifact.from_digest(parse_digest(digest))
        options = BundleOptions(require_tlog=rule.options.verify_tlog,
                                require_sct=rule.options.verify_sct, require_dsse=True)
        results = []
        for required in rule.options.attestations:
            root = validator.trust_root(required.trust_root)
            assert root is not None  # parsing checked the name
            policy = bundle_policy(self.verification_policy(root, rule))
            found, problems = 0, []
            for bundle in bundles:
                try:
                    verified = verify_bundle(bundle, artifact, trust, policy, options)
                except Error as err:
                    problems.append(err.message)
                    continue
                except Exception as exc:  # hostile bundle bytes fail this bundle only
                    problems.append(f"malformed bundle ({type(exc).__name__})")
                    continue
                if (verified.statement or {}).get("predicateType") == required.predicate_type:
                    found += 1
            reason = "" if found else (
                "; ".join(dict.fromkeys(problems)) if problems
                else "no verified attestation of this type" if bundles
                else f"bundle referrers: {gathered.bundle_error.message}"
                if gathered.bundle_error is not None
                else "the image has no Sigstore bundle referrers")
            results.append(AttestationResult(required.predicate_type, root.name, found,
                                             reason))
        return results

    def evaluate(self, name: str, image: Reference, result: ImageResult) -> None:
        rule = most_specific_rule(self.policy.rules, name)
        if rule is None:
            result.status, result.reason = FAIL, "no policy rule matches (denied by default)"
            return
        validator = self.policy.validator(rule.validator)
        result.rule, result.validator = rule, validator
        roots = trust_roots_to_check(validator, rule.options)
        valid: dict[str, int] = {}
        reasons: dict[str, str] = {}
        if roots:
            try:
                digest = self.digests.get(name, lambda: resolve_image_digest(self.client, image))
                result.digest = digest
                for root_name in roots:
                    root = validator.trust_root(root_name)
                    assert root is not None  # parsing checked every name
                    outcome = self.check_root(validator, root, rule, image, digest)
                    result.trust_roots.append(outcome)
                    valid[root_name] = outcome.valid
                    if outcome.reason:
                        reasons[root_name] = outcome.reason
                if rule.options.attestations:
                    result.attestations = self.check_attestations(validator, rule, image,
                                                                  digest)
            except Error as err:
                self._finish(result, rule, False, err.message)
                return
        verdict = decide(validator, rule.options, valid, reasons)
        allowed, reason = verdict.allowed, verdict.reason
        missing = [a for a in result.attestations if not a.valid]
        if allowed and missing:
            allowed, reason = False, "; ".join(
                f"no {a.predicate_type} attestation by trust root {a.trust_root!r}: {a.reason}"
                for a in missing)
        self._finish(result, rule, allowed, reason)

    @staticmethod
    def _finish(result: ImageResult, rule: Rule, allowed: bool, reason: str) -> None:
        if allowed:
            result.status = PASS
        else:
            result.status = WARN if rule.options.mode == "warn" else FAIL
        result.reason = reason


def group_uses(uses: Sequence[ImageUse], unresolved_fails: bool = True
               ) -> list[tuple[str, Reference | None, ImageResult]]:
    """One entry per distinct image: (match name, parsed reference, empty result)."""
    groups: dict[str, tuple[str, Reference | None, ImageResult]] = {}
    for use in uses:
        if use.unresolved is not None:
            key = f"unresolved:{use.reference}"
            entry = groups.get(key)
            if entry is None:
                result = ImageResult(use.reference, [], UNRESOLVED,
                                     f"cannot be resolved before deployment: {use.unresolved}")
                result.unresolved_fails = unresolved_fails
                entry = groups[key] = (use.reference, None, result)
            entry[2].uses.append(use)
            continue
        try:
            image = parse_reference(use.reference)
        except InputError as err:
            key = f"invalid:{use.reference}"
            entry = groups.get(key)
            if entry is None:
                entry = groups[key] = (use.reference, None, ImageResult(
                    use.reference, [], FAIL, err.message))
            entry[2].uses.append(use)
            continue
        name = connaisseur_name(image)
        entry = groups.get(name)
        if entry is None:
            entry = groups[name] = (name, image, ImageResult(name, []))
        entry[2].uses.append(use)
    return list(groups.values())


def evaluate(client: RegistryClient, policy: Policy, uses: Sequence[ImageUse],
             options: GateOptions) -> list[ImageResult]:
    """The verdict for every distinct image named in ``uses``, in first-seen order."""
    entries = group_uses(uses, options.unresolved_fails)
    evaluator = _Evaluator(client, policy, options)
    pending = [(name, image, result) for name, image, result in entries if image is not None]

    def run(entry: tuple[str, Reference | None, ImageResult]) -> None:
        name, image, result = entry
        assert image is not None
        try:
            evaluator.evaluate(name, image, result)
        except Error as err:  # anything unexpected from the registry or verification
            result.status, result.reason = FAIL, err.message

    workers = max(1, min(options.max_workers, len(pending)))
    if workers == 1:
        for entry in pending:
            run(entry)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gate") as pool:
            list(pool.map(run, pending))
    return [result for _, _, result in entries]
