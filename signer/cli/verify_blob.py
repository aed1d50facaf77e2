"""``signer verify-blob``: verify a file (or its digest) against a Sigstore bundle.

Mirrors ``cosign verify-blob --bundle``: Sigstore bundles v0.1–v0.3 (message
signatures and DSSE in-toto attestations, Rekor v1 and v2, RFC 3161 timestamps)
and cosign's legacy ``sign-blob --bundle`` JSON. Success prints ``Verified OK`` on
stderr and exits 0; a failed check prints one ``Error:`` line naming the check and
exits 1 (as ``cosign verify-blob``); bad usage exits 2. Verification is offline; the
trusted root comes from ``--trusted-root`` or the TUF repository (``--offline``: its
cache or the embedded root).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from signer.trust import TrustedRoot

_MAX_BUNDLE_BYTES = 16 * 1024 * 1024
#: flag suffix -> the extension's readable name (as cosign prints it)
_GITHUB_FLAGS = (("trigger", "githubWorkflowTrigger"), ("sha", "githubWorkflowSha"),
                 ("name", "githubWorkflowName"), ("repository", "githubWorkflowRepository"),
                 ("ref", "githubWorkflowRef"))


EXAMPLES = """\
examples:
  signer verify-blob --bundle artifact.sigstore.json \\
    --certificate-identity me@example.com \\
    --certificate-oidc-issuer https://github.com/login/oauth artifact.tar.gz
  signer verify-blob --bundle artifact.sigstore.json --key cosign.pub --digest sha256:HEX
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags named as cosign names them."""
    parser.add_argument("blob", nargs="?", metavar="BLOB",
                        help="the file to verify (or use --digest)")
    parser.add_argument("--bundle", required=True, metavar="FILE",
                        help="Sigstore bundle (or cosign's legacy sign-blob bundle)")
    parser.add_argument("--digest", metavar="ALG:HEX",
                        help="verify against this digest (sha256:<hex>) instead of a file")
    parser.add_argument("--key", metavar="FILE", help="public key (PEM) of a key-signed bundle")
    parser.add_argument("--certificate-identity", metavar="IDENTITY",
                        help="expected certificate identity (URI or e-mail SAN)")
    parser.add_argument("--certificate-identity-regexp", metavar="REGEXP",
                        help="regular expression the certificate identity must match")
    parser.add_argument("--certificate-oidc-issuer", metavar="URL",
                        help="expected OIDC issuer in the certificate")
    parser.add_argument("--certificate-oidc-issuer-regexp", metavar="REGEXP",
                        help="regular expression the OIDC issuer must match")
    for part, name in _GITHUB_FLAGS:
        parser.add_argument(f"--certificate-github-workflow-{part}", metavar="VALUE",
                            dest=f"github_{part}",
                            help=f"expected GitHub workflow {part} extension ({name}), exact")
    from signer.cli import claim_flags

    claim_flags.add_arguments(parser)
    parser.add_argument("--trusted-root", metavar="FILE",
                        help="trusted_root.json (default: from the TUF repository chosen by "
                             "'signer initialize', public good if none)")
    parser.add_argument("--offline", nargs="?", action=_OfflineFlag, default="false",
                        metavar="BOOL",
                        help="do not contact the TUF repository: use its cache (or the "
                             "embedded trusted root) and print how old it is")
    parser.add_argument("--insecure-ignore-tlog", action="store_true",
                        help="do not require a transparency log entry")
    parser.add_argument("--insecure-ignore-sct", action="store_true",
                        help="do not require an embedded SCT in the certificate")
    # accepted for cosign compatibility; bundles are always read and never fetched online
    parser.add_argument("--new-bundle-format", nargs="?", const="true", default=None,
                        choices=("true", "false"), help=argparse.SUPPRESS)


class _OfflineFlag(argparse.Action):
    """``--offline``, ``--offline=true|false``; a word after it that is not a boolean is
    the BLOB (``--offline artifact``), as cosign's boolean flags read."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        text = "true" if values is None else str(values)
        if text.lower() in ("true", "false"):
            setattr(namespace, self.dest, text.lower())
            return
        setattr(namespace, self.dest, "true")
        namespace.blob_after_offline = text  # joined to BLOB by _usage_checks


def _usage_checks(args: argparse.Namespace) -> None:
    from signer.cli import claim_flags
    from signer.errors import UsageError

    after_offline = getattr(args, "blob_after_offline", None)
    if after_offline is not None:
        if args.blob is not None:
            raise UsageError(f"unexpected argument {after_offline!r}",
                             hint="--offline takes true or false")
        args.blob = after_offline
    if (args.blob is None) == (args.digest is None):
        raise UsageError("give exactly one of BLOB and --digest")
    identity_flags = (args.certificate_identity, args.certificate_identity_regexp,
                      args.certificate_oidc_issuer, args.certificate_oidc_issuer_regexp,
                      *(getattr(args, f"github_{part}") for part, _ in _GITHUB_FLAGS))
    if args.key is not None:
        if any(flag is not None for flag in identity_flags) or claim_flags.given(args):
            raise UsageError("--key cannot be combined with --certificate-identity/-issuer flags")
        return
    if args.certificate_identity is None and args.certificate_identity_regexp is None \
            and not (args.source_repository or args.signer_workflow):
        raise UsageError("--certificate-identity or --certificate-identity-regexp is required "
                         "for verification in keyless mode",
                         hint="or give --source-repository OWNER/REPO or --signer-workflow")
    if args.certificate_oidc_issuer is None and args.certificate_oidc_issuer_regexp is None:
        raise UsageError("--certificate-oidc-issuer or --certificate-oidc-issuer-regexp is "
                         "required for verification in keyless mode")


def _file_chunks(path: str) -> Callable[[], Iterator[bytes]]:
    """A re-readable chunk stream of ``path`` (large files are hashed piecewise)."""
    from signer.errors import InputError

    try:  # fail early, with a one-line error, if the file cannot be read
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputError(f"cannot read artifact {path}: {exc.strerror}") from None

    def chunks() -> Iterator[bytes]:
        try:
            with open(path, "rb") as handle:
                while block := handle.read(1 << 20):
                    yield block
        except OSError as exc:
            raise InputError(f"cannot read artifact {path}: {exc.strerror}") from None

    return chunks


def _load_trust(args: argparse.Namespace) -> TrustedRoot:
    from signer import trust
    from signer.cli.trust_source import trusted_root

    base = trusted_root(args.trusted_root, offline=args.offline == "true")
    overrides = trust.LegacyTrustOptions.from_environment(os.environ)
    return trust.apply_legacy_overrides(base, overrides) if overrides.any else base


def run(args: argparse.Namespace) -> int:
    """Verify and report; raises :class:`signer.errors.Error` on failure."""
    _usage_checks(args)
    import json
    import warnings

    # cryptography warns (on stderr) about certificate names with over-long country
    # codes, as some private-deployment CAs have; it is noise for a verify command
    warnings.filterwarnings("ignore", message="Attribute's length must be",
                            category=UserWarning)

    from signer.cli import claim_flags
    from signer.digest import parse_digest
    from signer.errors import InputError, UsageError, VerificationError
    from signer.formats.bundle import (
        is_legacy_blob_bundle,
        parse_bundle,
        parse_legacy_blob_bundle,
    )
    from signer.keys import load_public_key_pem
    from signer.localfile import read_local_file
    from signer.verify.bundle import (
        Artifact,
        BundleOptions,
        KeyPolicy,
        Policy,
        verify_bundle,
        verify_legacy_blob_bundle,
    )
    from signer.verify.policy import IdentityPolicy

    if args.digest is not None:
        try:
            artifact = Artifact.from_digest(parse_digest(args.digest))
        except InputError as err:
            raise UsageError(f"--digest: {err.message}", hint=err.hint) from None
    else:
        artifact = Artifact.from_chunks(_file_chunks(args.blob))
    policy: Policy
    if args.key is not None:
        policy = KeyPolicy(load_public_key_pem(read_local_file(args.key, "key", limit=1 << 20),
                                               f"key {args.key}"))
    else:
        github = {f"github_workflow_{part}": getattr(args, f"github_{part}")
                  for part, _name in _GITHUB_FLAGS}
        policy = IdentityPolicy(identity=args.certificate_identity,
                                identity_regexp=args.certificate_identity_regexp,
                                issuer=args.certificate_oidc_issuer,
                                issuer_regexp=args.certificate_oidc_issuer_regexp,
                                build=claim_flags.build_claims(args), **github)
    options = BundleOptions(require_tlog=not args.insecure_ignore_tlog,
                            require_sct=not args.insecure_ignore_sct)
    raw = read_local_file(args.bundle, "bundle", limit=_MAX_BUNDLE_BYTES)
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InputError(f"bundle: {args.bundle} is not valid JSON") from None
    trust = _load_trust(args)
    try:
        if is_legacy_blob_bundle(document):
            verify_legacy_blob_bundle(parse_legacy_blob_bundle(document), artifact, trust,
                                      policy, options)
        else:
            verify_bundle(parse_bundle(document), artifact, trust, policy, options)
    except VerificationError as err:
        err.exit_code = 1  # cosign verify-blob exits 1 on a failed check
        raise
    sys.stderr.write("Verified OK\n")
    return 0
