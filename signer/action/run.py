"""One run of the action (layer L5): push, resolve, sign, verify, then report.

:func:`main` is what ``entrypoint.py`` calls. The steps use the same flows as the CLI
(:func:`signer.registry.push.push_image`, :func:`signer.sign.sign_images`,
:func:`signer.fetch.verify_images`); this module only sequences them, keeps a result
per image and turns errors into annotations -- never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from signer.action.console import Console
from signer.action.credentials import build_keychain
from signer.action.gate import GateRun, publish_refused
from signer.action.inputs import Inputs, read_inputs, secret_values
from signer.action.material import RunMaterial
from signer.action.policy import SIGNING_KEY, VerifyPolicy
from signer.action.report import (
    PUBLIC_REKOR_URL,
    ImageResult,
    exit_code_of,
    publish,
    refused_inputs,
    rekor_entry_url,
)

if TYPE_CHECKING:
    from signer.attest import Attestation
    from signer.errors import Error
    from signer.fetch import VerifyOptions
    from signer.reference import Reference
    from signer.registry.client import RegistryClient
    from signer.sign import SignOptions


class ActionRun:
    """One run of the action: the steps in order, collecting a result per image."""

    def __init__(self, inputs: Inputs, env: Mapping[str, str], console: Console) -> None:
        self.inputs = inputs
        self.env = env
        self.console = console
        self.results: dict[str, ImageResult] = {}
        self.policy: VerifyPolicy | None = inputs.policy
        self.material = RunMaterial(inputs, env, console)

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
            if self.inputs.attest:
                signed = [(key, ref) for key, ref in pinned
                          if key in self.results and self.results[key].signed]
                if signed:
                    self.attest(client, signed)
            if self.inputs.verify_after_sign:
                # every manifest signed, including an index's children with `recursive`
                known = dict(pinned)
                to_verify = [(key, known.get(key) or parse_reference(key))
                             for key, result in self.results.items() if result.signed]
                # every format written must verify on its own (the bundle referrer is
                # preferred when present, so the .sig is checked with bundles off)
                formats = self.inputs.signature_format
                if to_verify and formats in ("both", "bundle"):
                    self.verify(client, to_verify, require="bundle")
                if to_verify and formats in ("both", "legacy"):
                    self.verify(client, to_verify, require="legacy")
                attested = [(key, ref) for key, ref in to_verify
                            if self.results[key].attestation_ref]
                if attested:  # the provenance just stored must verify too
                    from signer.formats.attestation import SLSA_PROVENANCE_V1

                    self.verify_attestations(client, attested, SLSA_PROVENANCE_V1,
                                             just_attested=True)
        elif pinned and self.inputs.mode == "verify-attestation":
            self.verify_attestations(client, pinned)
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
        from signer.fetch import resolve_image_digest

        pinned: dict[str, Reference] = {}
        with self.console.group("Resolve digests"):
            for image, ref in targets:
                try:
                    digest = resolve_image_digest(client, ref)
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

    def sign_options(self, attestation: Attestation | None = None) -> SignOptions:
        """How the action signs (and, with ``attestation``, attests)."""
        from signer.sign import SignOptions

        inputs, material = self.inputs, self.material
        uses_services = not inputs.key or inputs.tlog_upload
        return SignOptions(
            key=material.private_key(), identity_token=material.identity_token(),
            trusted_root=material.trusted_root() if uses_services else None,
            signing_config=material.signing_config() if uses_services else None,
            annotations={} if attestation else dict(inputs.annotations),
            tlog_upload=inputs.tlog_upload, recursive=inputs.recursive,
            fulcio_url=inputs.fulcio_url, rekor_url=inputs.rekor_url,
            timestamp_server_url=inputs.timestamp_server_url,
            signature_format="bundle" if attestation else inputs.signature_format,
            signature_repository=inputs.signature_repository, attestation=attestation)

    def attest(self, client: RegistryClient, pinned: Sequence[tuple[str, Reference]]) -> None:
        """Attest SLSA build provenance of this run for every image signed (``attest:
        provenance``): a bundle referrer each, its bundle written under RUNNER_TEMP."""
        from signer.attest import Attestation
        from signer.errors import Error
        from signer.sign import sign_images

        with self.console.group("Attest build provenance"):
            try:
                attested = sign_images(client, [ref for _key, ref in pinned], self.sign_options(
                    Attestation(provenance=True, environment=self.env)))
            except Error as error:
                for key, ref in pinned:
                    self.fail(key, self.results[key].image if key in self.results else str(ref),
                              error)
                return
            for item in attested:
                result = self.results.get(item.signed_reference)
                if result is None or item.bundle is None:
                    continue
                result.attestation_ref = item.referrer_ref
                result.attestation_bundle_path = self._write_bundle(
                    item.digest, item.bundle, "signer-attestations")
                self.console.line(f"attested build provenance of {item.signed_reference}: "
                                  f"{item.referrer_ref}")

    def sign(self, client: RegistryClient, pinned: Sequence[tuple[str, Reference]]) -> None:
        """Sign every pinned image with one identity (one token and certificate)."""
        from signer.errors import Error
        from signer.sign import sign_images

        inputs = self.inputs
        with self.console.group("Sign"):
            try:
                signed = sign_images(client, [ref for _key, ref in pinned],
                                     self.sign_options())
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
                if item.referrer_ref and item.referrer_ref != item.signature_ref:
                    result.signature_refs.append(item.referrer_ref)
                if item.bundle is not None:
                    result.bundle_path = self._write_bundle(item.digest, item.bundle)
                where = (f", Rekor entry {result.rekor_entry_url}"
                         if item.log_index is not None else "")
                self.console.line(f"signed {item.signed_reference}: {item.signature_ref}{where}")
        if self.policy is None:
            first = next((r for r in self.results.values() if r.signed), None)
            if first is not None and first.identity:
                self.policy = VerifyPolicy(identity=first.identity, issuer=first.issuer)
            elif inputs.key:
                self.policy = VerifyPolicy(public_key=SIGNING_KEY)

    def verify_options(self, pinned: Sequence[tuple[str, Reference]]) -> VerifyOptions | None:
        """The library policy and trusted root for verifying; None (every image failed
        with the reason) when they cannot be had."""
        from signer.errors import Error
        from signer.fetch import VerifyOptions

        try:
            policy = self.material.verification_policy(self.policy)
            trust = self.material.trusted_root()
        except Error as error:
            for key, _ref in pinned:
                self.results[key].verified = False
                self.fail(key, self.results[key].image, error)
            return None
        assert self.policy is not None
        self.console.line(f"policy: {self.policy.describe()}")
        return VerifyOptions(trust=trust, policy=policy, rekor_url=self.inputs.rekor_url,
                             signature_repository=self.inputs.signature_repository)

    def refused(self, key: str, ref: Reference, lines: Sequence[str], error: Error | None,
                what: str) -> None:
        """An image that did not verify: why each signature (or attestation) failed,
        then the image's error."""
        from signer.errors import NoMatchingSignaturesError

        for line in lines:
            self.console.line(f"{ref.name}: {line}")
        self.fail(key, self.results[key].image, error if error is not None
                  else NoMatchingSignaturesError(f"no matching {what}: {ref}"))

    def verify_attestations(self, client: RegistryClient,
                            pinned: Sequence[tuple[str, Reference]],
                            predicate_type: str | None = None,
                            just_attested: bool = False) -> None:
        """Verify every pinned image's attestations of the predicate type (the input's,
        unless given), as ``signer verify-attestation`` does. ``just_attested`` (sign mode,
        after ``attest: provenance``): a failure fails the image, a success changes none
        of its outputs."""
        from signer.attestations import verify_attestations
        from signer.errors import NoMatchingSignaturesError
        from signer.verify.certs import certificate_subject, oidc_issuer

        predicate_type = predicate_type or self.inputs.predicate_type
        assert predicate_type is not None  # read_inputs sets it in this mode
        with self.console.group(f"Verify attestations ({predicate_type})"):
            options = self.verify_options(pinned)
            if options is None:
                return
            outcomes = verify_attestations(client, [ref for _key, ref in pinned], options,
                                           predicate_type)
            for (key, ref), outcome in zip(pinned, outcomes, strict=True):
                result = self.results[key]
                if result.verified is not False:  # after signing: every check must pass
                    result.verified = outcome.verified
                if not outcome.verified:
                    self.refused(key, ref, outcome.failure_lines(), outcome.error, "attestations")
                    continue
                if just_attested:
                    if result.attestation_ref not in outcome.passing_references():
                        result.verified = False
                        self.fail(key, result.image, NoMatchingSignaturesError(
                            f"the provenance attestation just stored does not verify: {ref}"))
                    else:
                        self.console.line(f"verified {ref.name}: the provenance attestation "
                                          f"{result.attestation_ref}")
                    continue
                where = outcome.passing_references()
                result.signature_ref, result.signature_refs = where[0], where
                first = outcome.passing[0].verified
                assert first is not None
                if first.certificate is not None:
                    result.identity = certificate_subject(first.certificate)
                    result.issuer = oidc_issuer(first.certificate)
                entry = next(iter(first.tlog_entries), None)
                if entry is not None and entry.log_index is not None:
                    log = options.trust.tlog_by_id(entry.log_id)
                    base = (log.base_url if log is not None and log.base_url
                            else self.inputs.rekor_url)
                    result.rekor_log_index = entry.log_index
                    result.rekor_entry_url = rekor_entry_url(base, entry.log_index)
                self.console.line(f"verified {ref.name}: {len(outcome.passing)} attestation(s) "
                                  f"of {predicate_type}"
                                  + (f", signed by {result.identity}" if result.identity else ""))

    def _write_bundle(self, digest: str, bundle: bytes, folder: str = "signer-bundles") -> str:
        """Write a signed image's bundle under ``RUNNER_TEMP/folder``; return its path."""
        import tempfile
        from pathlib import Path

        directory = Path(self.env.get("RUNNER_TEMP") or tempfile.gettempdir()) / folder
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{digest.replace(':', '-')}.sigstore.json"
        path.write_bytes(bundle)
        return str(path)

    def verify(self, client: RegistryClient, pinned: Sequence[tuple[str, Reference]],
               require: str | None = None) -> None:
        """Verify every pinned image against the policy, as ``signer verify`` does.

        ``require`` (after signing): ``bundle`` passes only through a bundle referrer,
        ``legacy`` only through the ``.sig`` image (bundles are not looked at then).
        """
        import dataclasses

        from signer.errors import NoMatchingSignaturesError
        from signer.fetch import verify_images
        from signer.verify.certs import certificate_subject, oidc_issuer

        with self.console.group("Verify"):
            options = self.verify_options(pinned)
            if options is None:
                return
            if require == "legacy":
                options = dataclasses.replace(options, bundle_format=False)
            trust = options.trust
            outcomes = verify_images(client, [ref for _key, ref in pinned], options)
            for (key, ref), outcome in zip(pinned, outcomes, strict=True):
                result = self.results[key]
                if outcome.verified and require == "bundle" and not outcome.passing_bundles:
                    outcome.error = NoMatchingSignaturesError(
                        f"the bundle just written does not verify: {ref}")
                if result.verified is not False:  # every format written must pass
                    result.verified = outcome.verified
                if outcome.signature_reference is not None and not result.signature_ref:
                    result.signature_ref = outcome.signature_reference.name
                if not outcome.verified:
                    self.refused(key, ref, outcome.failure_lines(), outcome.error, "signatures")
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

    def _entry_link(self, log_index: int | None, api_url: str | None) -> str | None:
        # the log that recorded the entry (a signing config from TUF may name another
        # than the rekor-url input): search.sigstore.dev for the public one
        if api_url is None or api_url.startswith(PUBLIC_REKOR_URL + "/"):
            return rekor_entry_url(self.inputs.rekor_url if api_url is None else None,
                                   log_index)
        return api_url


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
        if mode == "gate":
            publish_refused(env, console, summary, refused[0].error or "invalid inputs")
        else:
            publish(None, mode, refused, None, env, console, summary=summary)
        return 2
    from signer.errors import Error
    from signer.registry.client import RegistryClient

    if inputs.policy is not None and inputs.policy.is_default:
        console.notice(f"no certificate-identity given: requiring {inputs.policy.describe()}")
    run = ActionRun(inputs, env, console)
    gate = GateRun(inputs, env, console) if inputs.mode == "gate" else None
    try:
        client = RegistryClient(credentials=build_keychain(inputs, env),
                                insecure=inputs.insecure_registries,
                                ca_bundle=inputs.registry_ca_bundle)
    except Error as error:
        console.error(error.message, title="signer", hint=error.hint)
        if gate is not None:
            gate.publish_error(error.message)
            return error.exit_code
        publish(inputs, inputs.mode, [ImageResult(str(ref), verified=False, error=error.message,
                                                  exit_code=error.exit_code)
                                      for ref in inputs.references], run.policy, env, console)
        return error.exit_code
    if gate is not None:
        try:
            return gate.run(client)
        except Exception as exc:  # a bug; report it in one line, without values
            message = f"internal error ({type(exc).__name__}); please report it"
            console.error(message, title="signer gate")
            gate.publish_error(message)
            return 1
        finally:
            client.close()
    try:
        results = run.run(client)
    except Exception as exc:  # a bug; report it in one line, without values
        console.error(f"internal error ({type(exc).__name__}); please report it",
                      title="signer")
        results = run.internal_error(exc)
        crashed = True
    else:
        crashed = False
    finally:
        client.close()
    publish(inputs, inputs.mode, results, run.policy, env, console)
    # a bug fails the step even when every image it had judged passed
    return max(exit_code_of(results), 1) if crashed else exit_code_of(results)
