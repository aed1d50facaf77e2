"""``signer verify``: verify image signatures as ``cosign verify`` does.

Stderr gets cosign's header and check lines, stdout the JSON array of verified
payloads (or the payloads as text with ``--output text``). Exit codes as cosign:
0 verified, 10 no signatures, 11 image tag not found, 12 no matching signatures,
1 other errors, 2 usage. Only argparse and the standard library are imported here
at module level; the work happens in :func:`run`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from signer.fetch import ImageVerification, VerifyOptions
    from signer.keys import PublicKey
    from signer.reference import Reference
    from signer.trust import CertificateAuthority, TrustedRoot
    from signer.verify.verifier import VerificationPolicy

TLOG_WARNING = ("**Warning** Skipping tlog verification is an insecure practice that lacks "
                "transparency and auditability verification for the signature.")
ENV_SIGNATURE_REPOSITORY = "COSIGN_REPOSITORY"


def _parse_bool(text: str) -> bool | None:
    value = text.strip().lower()
    if value in ("1", "t", "true", "yes"):
        return True
    if value in ("0", "f", "false", "no"):
        return False
    return None


class _BoolFlag(argparse.Action):
    """cosign's boolean flags: ``--flag``, ``--flag=true`` or ``--flag=false``.

    A following word that is not a boolean is an image, not the flag's value: it is
    kept in ``images_after_flags`` and joined to the images by :func:`run`.
    """

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        if values is None:
            setattr(namespace, self.dest, True)
            return
        parsed = _parse_bool(str(values))
        if parsed is None:
            setattr(namespace, self.dest, True)
            extra = list(getattr(namespace, "images_after_flags", None) or [])
            namespace.images_after_flags = [*extra, str(values)]
        else:
            setattr(namespace, self.dest, parsed)


def _bool_flag(parser: argparse._ActionsContainer, name: str, help_text: str,
               default: bool = False) -> None:
    parser.add_argument(name, nargs="?", action=_BoolFlag, default=default, metavar="BOOL",
                        help=help_text)


EXAMPLES = """\
examples:
  # an image signed keyless by a GitHub Actions workflow run of OWNER/REPO (the
  # certificate's source repository; its SAN names the workflow file, which for a
  # reusable workflow lives in another repository)
  signer verify --source-repository OWNER/REPO \\
    --certificate-oidc-issuer https://token.actions.githubusercontent.com \\
    ghcr.io/OWNER/IMAGE:TAG
  # ... and only by its release workflow, for a tag, on GitHub-hosted runners
  signer verify --source-repository OWNER/REPO \\
    --signer-workflow OWNER/REPO/.github/workflows/release.yml \\
    --source-ref refs/tags/v1.2.3 --deny-self-hosted-runners \\
    --certificate-oidc-issuer https://token.actions.githubusercontent.com \\
    ghcr.io/OWNER/IMAGE:v1.2.3
  # an image signed with a key
  signer verify --key cosign.pub registry.example/app@sha256:HEX
"""


def add_arguments(parser: argparse.ArgumentParser, *, attestations: bool = False) -> None:
    """cosign verify's flags; with ``attestations``, those ``verify-attestation`` shares
    (no ``--signed-identity``, ``--new-bundle-format`` or ``--rekor-url``: attestations
    are read from bundle referrers only)."""
    parser.add_argument("images", nargs="*", metavar="IMAGE",
                        help="image references (tag or digest)")
    parser.add_argument("--key", metavar="FILE",
                        help="PEM public key (ECDSA, RSA, Ed25519) or certificate to verify with")
    identity = parser.add_argument_group("keyless identity (both an identity and an issuer)")
    identity.add_argument("--certificate-identity", metavar="SAN",
                          help="expected certificate subject (any SAN, exact)")
    identity.add_argument("--certificate-identity-regexp", metavar="RE",
                          help="regular expression searched in the certificate's SANs")
    identity.add_argument("--certificate-oidc-issuer", metavar="URL",
                          help="expected OIDC issuer (Fulcio extension 1.8, else 1.1)")
    identity.add_argument("--certificate-oidc-issuer-regexp", metavar="RE",
                          help="regular expression searched in the OIDC issuer")
    for part in ("trigger", "sha", "name", "repository", "ref"):
        identity.add_argument(f"--certificate-github-workflow-{part}", metavar="VALUE",
                              help=f"expected GitHub workflow {part} extension (exact)")
    from signer.cli import claim_flags

    claim_flags.add_arguments(identity)
    trust = parser.add_argument_group("trust material")
    trust.add_argument("--trusted-root", metavar="FILE",
                       help="trusted_root.json (default: from the TUF repository chosen by "
                            "'signer initialize', public good if none)")
    trust.add_argument("--certificate-chain", metavar="FILE",
                       help="PEM intermediates and root of a private CA")
    trust.add_argument("--ca-roots", metavar="FILE", help="PEM root certificates of a private CA")
    trust.add_argument("--ca-intermediates", metavar="FILE",
                       help="PEM intermediate certificates of a private CA")
    trust.add_argument("--timestamp-certificate-chain", metavar="FILE",
                       help="PEM chain (leaf to root) of the timestamp authority; implies "
                            "--use-signed-timestamps")
    checks = parser.add_argument_group("checks")
    _bool_flag(checks, "--insecure-ignore-tlog",
               "do not require a transparency-log entry (insecure)")
    _bool_flag(checks, "--insecure-ignore-sct", "do not require an embedded SCT")
    _bool_flag(checks, "--use-signed-timestamps",
               "require an RFC 3161 timestamp on each signature and verify it")
    _bool_flag(checks, "--offline", "never contact Rekor or the TUF repository: the "
               "trusted root comes from the TUF cache (or the embedded one), and its age is "
               "printed; only the registry is used")
    _bool_flag(checks, "--check-claims", "check the payload's digest and annotations",
               default=True)
    checks.add_argument("-a", "--annotations", action="append", default=[], metavar="KEY=VALUE",
                        help="annotation the signed payload must carry (repeatable)")
    if attestations:
        parser.set_defaults(signed_identity="any", new_bundle_format=True, rekor_url=None)
    else:
        checks.add_argument("--signed-identity", default="any", metavar="POLICY",
                            help="check the payload's docker-reference: any (default, as "
                                 "cosign), match-repository, match-exact, exact-reference=REF, "
                                 "exact-repository=REPO")
        _bool_flag(checks, "--new-bundle-format",
                   "verify Sigstore bundle referrers when the first image has any, as cosign "
                   "v3 (default true); false: only legacy .sig signatures", default=True)
        checks.add_argument("--rekor-url", default="https://rekor.sigstore.dev", metavar="URL",
                            help="Rekor asked for the entry of a signature that carries no "
                                 "Rekor bundle (default: %(default)s; not with --offline)")
    registry = parser.add_argument_group("registry")
    registry.add_argument("--signature-repository", metavar="REPO",
                          help="repository holding the signatures (default: $COSIGN_REPOSITORY "
                               "or the image's)")
    registry.add_argument("--insecure-registry", "--allow-insecure-registry",
                          "--allow-http-registry", dest="insecure_registry", action="append",
                          nargs="?", const="*", default=[], metavar="HOST",
                          help="registry that may use plain HTTP or unverified TLS "
                               "(repeatable; without HOST: the registries of the IMAGEs given)")
    registry.add_argument("--ca-bundle", "--registry-cacert", dest="ca_bundle", metavar="FILE",
                          help="extra CA certificates for registry TLS")
    registry.add_argument("--max-workers", type=int, default=32, metavar="N",
                          help="images verified concurrently (default 32)")
    parser.add_argument("-o", "--output", choices=("json", "text"), default="json",
                        help="stdout format (default json)")


def _read_annotations(values: list[str]) -> dict[str, str]:
    from signer.errors import UsageError

    result: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"invalid annotation {item!r}", hint="use -a key=value")
        result[name] = value
    return result


def _load_key(path: str) -> PublicKey:
    """A PEM public key, or the public key of a PEM certificate."""
    from signer.certificates import load_verification_key
    from signer.localfile import read_local_file

    return load_verification_key(read_local_file(path, "key"), f"key {path}")


def build_policy(args: argparse.Namespace) -> VerificationPolicy:
    """The verification policy the flags describe; refuses incomplete keyless policies."""
    from signer.cli import claim_flags
    from signer.errors import UsageError
    from signer.verify.policy import IdentityPolicy, SignedIdentityPolicy
    from signer.verify.verifier import VerificationPolicy

    identity = IdentityPolicy(
        identity=args.certificate_identity,
        identity_regexp=args.certificate_identity_regexp,
        issuer=args.certificate_oidc_issuer,
        issuer_regexp=args.certificate_oidc_issuer_regexp,
        github_workflow_trigger=args.certificate_github_workflow_trigger,
        github_workflow_sha=args.certificate_github_workflow_sha,
        github_workflow_name=args.certificate_github_workflow_name,
        github_workflow_repository=args.certificate_github_workflow_repository,
        github_workflow_ref=args.certificate_github_workflow_ref,
        build=claim_flags.build_claims(args),
    )
    key = None
    if args.key:
        if args.certificate_identity or args.certificate_identity_regexp or \
                claim_flags.given(args):
            raise UsageError("--key cannot be combined with --certificate-identity[-regexp] "
                             "or the build-claim flags",
                             hint="a key-signed image has no certificate identity")
        key = _load_key(args.key)
    else:
        if args.certificate_identity is None and args.certificate_identity_regexp is None \
                and not identity.build.names_signer:
            raise UsageError(
                "--certificate-identity or --certificate-identity-regexp is required for "
                "verification in keyless mode",
                hint="e.g. --source-repository OWNER/REPO "
                     "--certificate-oidc-issuer https://token.actions.githubusercontent.com")
        if args.certificate_oidc_issuer is None and args.certificate_oidc_issuer_regexp is None:
            raise UsageError(
                "--certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required "
                "for verification in keyless mode",
                hint="for GitHub Actions: --certificate-oidc-issuer "
                     "https://token.actions.githubusercontent.com")
    return VerificationPolicy(
        key=key,
        identity=None if args.key else identity,
        ignore_tlog=args.insecure_ignore_tlog,
        ignore_sct=args.insecure_ignore_sct,
        annotations=_read_annotations(args.annotations),
        signed_identity=SignedIdentityPolicy.parse(args.signed_identity),
        check_claims=args.check_claims,
        use_signed_timestamps=bool(args.use_signed_timestamps
                                   or args.timestamp_certificate_chain
                                   or os.environ.get("SIGSTORE_TSA_CERTIFICATE_FILE")),
    )


def load_trust(args: argparse.Namespace) -> TrustedRoot:
    """The trusted root with cosign's legacy overrides applied (environment and flags)."""
    from signer.cli.trust_source import trusted_root
    from signer.trust import LegacyTrustOptions, apply_legacy_overrides

    legacy = LegacyTrustOptions.from_environment(
        os.environ, certificate_chain=args.certificate_chain, ca_roots=args.ca_roots,
        ca_intermediates=args.ca_intermediates)
    # Each override replaces only the part it names (CAs, Rekor keys or CT keys); the
    # rest still comes from --trusted-root or the TUF repository.
    base = trusted_root(args.trusted_root, offline=args.offline)
    trust = apply_legacy_overrides(base, legacy) if legacy.any else base
    tsa_chain = args.timestamp_certificate_chain or os.environ.get("SIGSTORE_TSA_CERTIFICATE_FILE")
    if tsa_chain:
        trust = trust.replace(timestamp_authorities=timestamp_authorities_from_file(tsa_chain))
    return trust


def timestamp_authorities_from_file(path: str) -> tuple[CertificateAuthority, ...]:
    """A TSA from a PEM chain file (leaf first, root last), as cosign's
    ``--timestamp-certificate-chain`` / ``SIGSTORE_TSA_CERTIFICATE_FILE``."""
    from signer.errors import TrustError
    from signer.localfile import read_local_file
    from signer.trust import CertificateAuthority, ValidityPeriod, load_pem_certificates

    data = read_local_file(path, "timestamp certificate chain", error=TrustError)
    chain = load_pem_certificates(data, "timestamp certificate chain")
    return (CertificateAuthority(tuple(chain), ValidityPeriod.always()),)


def build_options(args: argparse.Namespace) -> VerifyOptions:
    """Trust, policy and registry options from the flags and environment."""
    from signer.errors import UsageError
    from signer.fetch import VerifyOptions

    if args.max_workers < 1:
        raise UsageError("--max-workers must be at least 1")
    policy = build_policy(args)  # usage errors first: loading trust may ask the network
    return VerifyOptions(
        trust=load_trust(args),
        policy=policy,
        signature_repository=args.signature_repository
        or os.environ.get(ENV_SIGNATURE_REPOSITORY) or None,
        max_workers=args.max_workers,
        bundle_format=args.new_bundle_format,
        rekor_url=None if args.offline else args.rekor_url,
        ca_bundle=args.ca_bundle,
    )


def check_lines(args: argparse.Namespace, bundle_verified: bool) -> list[str]:
    """The checks cosign lists under the header (docs/cosign-format.md §5.1)."""
    lines = []
    if args.annotations and args.check_claims:
        lines.append("The specified annotations were verified.")
    if args.check_claims:
        lines.append("The cosign claims were validated")
    if bundle_verified:
        lines.append("Existence of the claims in the transparency log was verified offline")
    if args.key:
        lines.append("The signatures were verified against the specified public key")
    else:
        lines.append("The code-signing certificate was verified using trusted certificate "
                     "authority certificates")
    return lines


def print_verified(args: argparse.Namespace, result: ImageVerification) -> None:
    """cosign's header on stderr, then the payloads on stdout; then one line per other
    signature of the image that did not verify."""
    from signer.formats.gojson import go_json_text
    from signer.output import terminal_json, write_lines
    from signer.verify.certs import certificate_subject, github_extensions, oidc_issuer

    header = ["", f"Verification for {result.reference.name} --",
              "The following checks were performed on each of these signatures:"]
    header += [f"  - {line}" for line in check_lines(args, result.tlog_verified)]
    write_lines(sys.stderr, header)
    if args.output == "json":
        sys.stdout.write("\n" + terminal_json(go_json_text(result.output_objects())) + "\n")
    else:
        # a bundle has no payload text: cosign v3 prints the element it makes of the
        # statement instead, one compact object a line (Go's map order: keys sorted)
        for bundle in result.passing_bundles:
            element = bundle.output_object(result.reference.name)
            sys.stdout.write(terminal_json(go_json_text(element, sort_keys=True)) + "\n")
        labels = {"githubWorkflowTrigger": "Trigger", "githubWorkflowSha": "SHA",
                  "githubWorkflowName": "Name", "githubWorkflowRepository": "Repository",
                  "githubWorkflowRef": "Ref"}
        for verified in result.passing:
            cert = verified.certificate
            if cert is not None:
                details = [f"Certificate subject: {certificate_subject(cert) or ''}"]
                issuer = oidc_issuer(cert)
                if issuer:
                    details.append(f"Certificate issuer URL: {issuer}")
                details += [f"GitHub Workflow {labels[name]}: {value}"
                            for name, value in github_extensions(cert).items()]
                write_lines(sys.stderr, details)
            write_lines(sys.stdout, [verified.layer.payload.decode("utf-8", errors="replace")])
    others = result.failure_lines()
    if others:
        write_lines(sys.stderr, [f"Ignored {len(others)} other signature(s) or problem(s) of "
                                 f"{result.reference.name} that did not verify:",
                                 *(f"  {line}" for line in others)])


def print_failure(result: ImageVerification) -> None:
    """One ``Error:`` line for the image, then one line per failed signature."""
    from signer.errors import NoMatchingSignaturesError
    from signer.output import error_lines, write_lines

    error = result.error
    if isinstance(error, NoMatchingSignaturesError) or (
            error is None and (result.results or result.bundle_results)):
        write_lines(sys.stderr, [f"Error: no matching signatures for {result.reference.name}:",
                                 *(f"  {line}" for line in result.failure_lines())])
        return
    if error is not None:
        write_lines(sys.stderr, error_lines(error))


def prepare(args: argparse.Namespace, command: str
            ) -> tuple[list[Reference], VerifyOptions, list[str]]:
    """What ``verify`` and ``verify-attestation`` do before asking the registry: the
    image references (a bad one is a usage error), the options (policy, then trust),
    the policy's warnings on stderr, and the registries that may use plain HTTP."""
    from signer.errors import InputError, UsageError
    from signer.reference import parse_reference

    images = [*(getattr(args, "images_after_flags", None) or []), *args.images]
    if not images:
        raise UsageError(f"{command} needs at least one IMAGE",
                         hint=f"signer {command} [flags] IMAGE...")
    references = []
    for text in images:
        try:
            references.append(parse_reference(text))
        except InputError as err:  # a bad reference on the command line is a usage error
            raise UsageError(err.message, hint=err.hint) from None  # names the text
    options = build_options(args)  # after the usage checks: it may ask the TUF repository
    from signer.output import write_lines

    if options.policy.ignore_tlog:
        write_lines(sys.stderr, [TLOG_WARNING])
    if options.policy.identity is not None:
        from signer.verify.policy import identity_warnings

        write_lines(sys.stderr, [f"WARNING: {warning}"
                                 for warning in identity_warnings(options.policy.identity)])
    insecure = [h for h in args.insecure_registry if h != "*"]
    if "*" in args.insecure_registry:
        insecure += [ref.registry for ref in references]
    return references, options, insecure


def run(args: argparse.Namespace) -> int:
    """Verify every image; the exit code is that of the first image that failed."""
    from signer.fetch import verify_images
    from signer.registry.client import RegistryClient

    references, options, insecure = prepare(args, "verify")
    with RegistryClient(insecure=insecure, ca_bundle=args.ca_bundle) as client:
        results = verify_images(client, references, options)
    return report(results, lambda result: print_verified(args, result), print_failure)


class Outcome(Protocol):
    """What :func:`report` needs of one image's result."""

    @property
    def verified(self) -> bool: ...

    @property
    def exit_code(self) -> int: ...


R = TypeVar("R", bound=Outcome)


def report(results: Sequence[R], verified: Callable[[R], None],
           failed: Callable[[R], None]) -> int:
    """Print each image's result; the exit code is that of the first image that failed."""
    exit_code = 0
    for result in results:
        if result.verified:
            verified(result)
        else:
            failed(result)
            exit_code = exit_code or result.exit_code
    return exit_code
