"""``signer sign [flags] IMAGE...``: sign images keyless (Sigstore) or with a key.

Identity token precedence (keyless): ``--identity-token VALUE|@FILE``, then
``SIGSTORE_ID_TOKEN``, then the GitHub Actions ambient token. The key password
(``--key``) comes from ``COSIGN_PASSWORD`` or a terminal prompt, never argv.
The signature repository defaults to the image's; ``--signature-repository`` or
``COSIGN_REPOSITORY`` changes it. ``--signature-format`` (default ``both``) writes the
cosign v3 Sigstore bundle as an OCI referrer, the cosign v2 ``.sig`` image, or both;
``--new-bundle-format=false`` is cosign's spelling of ``legacy``. Services come from
``--signing-config``, else (without ``--trusted-root``) the TUF repository's signing
config, else the embedded public-good config; ``--fulcio-url``, ``--rekor-url`` and
``--timestamp-server-url`` override it. A short summary goes to
stderr; ``--output json`` prints a JSON array on stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signer.attest import Attestation
    from signer.sign import SignOptions


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes", "t"):
        return True
    if value in ("false", "0", "no", "f"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _annotation(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"annotation {text!r} is not key=value")
    return key, value


EXAMPLES = """\
examples:
  # keyless, in a GitHub Actions job with 'permissions: id-token: write'
  signer sign ghcr.io/OWNER/IMAGE@sha256:HEX
  # keyless with a token from elsewhere (a tag is resolved and its digest signed)
  SIGSTORE_ID_TOKEN="$(cat token.jwt)" signer sign registry.example/app:1.0
  # with a key, without the transparency log
  COSIGN_PASSWORD=... signer sign --key cosign.key --tlog-upload=false registry.example/app:1.0
"""


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags naming the signer, the Sigstore services and trust (shared with
    ``sign-blob``)."""
    parser.add_argument("--key", metavar="FILE",
                        help="sign with this key (cosign.key or PKCS#8 PEM; password from "
                        "COSIGN_PASSWORD or a prompt) instead of keyless")
    parser.add_argument("--identity-token", metavar="VALUE|@FILE",
                        help="OIDC token for keyless signing (default: SIGSTORE_ID_TOKEN, "
                        "then the GitHub Actions token); prefer @FILE or the environment")
    parser.add_argument("--fulcio-url", metavar="URL",
                        help="Fulcio certificate authority that issues the signing certificate "
                             "(default: from the signing config)")
    parser.add_argument("--rekor-url", metavar="URL",
                        help="Rekor v1 transparency log that records the signature "
                             "(default: from the signing config)")
    parser.add_argument("--timestamp-server-url", metavar="URL",
                        help="RFC 3161 timestamp authority (…/api/v1/timestamp) that stamps "
                             "the bundle signature (default: from the signing config)")
    parser.add_argument("--signing-config", metavar="FILE",
                        help="signing_config.v0.2.json naming Fulcio, the Rekor logs (v1 or "
                             "v2) and timestamp authorities (default: the TUF repository's, "
                             "as the trusted root; with --trusted-root FILE the embedded "
                             "public-good config)")
    parser.add_argument("--trusted-root", metavar="FILE",
                        help="trusted_root.json to check Fulcio and Rekor answers against "
                        "(default: from the TUF repository chosen by 'signer initialize', "
                        "public good if none)")
    parser.add_argument("--tlog-upload", metavar="BOOL", type=_bool, nargs="?", const=True,
                        default=True,
                        help="upload to Rekor (default true; false only with --key)")
    parser.add_argument("--ca-bundle", metavar="FILE",
                        help="PEM CA certificates to trust for TLS (registry and services)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``sign`` (named as cosign names them)."""
    parser.add_argument("images", metavar="IMAGE", nargs="+",
                        help="image references (tags are resolved; digests are signed)")
    add_service_arguments(parser)
    parser.add_argument("--signature-format", choices=("both", "bundle", "legacy"),
                        help="bundle: a Sigstore bundle stored as an OCI referrer (cosign "
                             "v3); legacy: the .sig image (cosign v2); both (default)")
    parser.add_argument("--new-bundle-format", metavar="BOOL", type=_bool, nargs="?",
                        const=True, default=None,
                        help="cosign's flag: false means --signature-format legacy")
    parser.add_argument("--bundle", metavar="FILE",
                        help="also write the Sigstore bundle to FILE (one image only)")
    parser.add_argument("-a", "--annotations", metavar="KEY=VALUE", action="append",
                        type=_annotation, default=[],
                        help="annotation in the .sig payload's 'optional' section and the bundle "
                             "statement's subject annotations "
                             "(repeatable)")
    add_storage_arguments(parser, "sign", "signatures")


def add_storage_arguments(parser: argparse.ArgumentParser, verb: str, what: str) -> None:
    """Which manifests, where the results go, and how they are reported (shared with
    ``attest``)."""
    parser.add_argument("--recursive", "-r", action="store_true",
                        help=f"for an index, also {verb} every manifest it lists")
    parser.add_argument("--signature-repository", metavar="REPOSITORY",
                        help=f"store {what} in this repository (default: "
                        "COSIGN_REPOSITORY, else the image's)")
    parser.add_argument("--output", "-o", choices=("text", "json"), default="text",
                        help="text (default): a summary per image on stderr; json: also a "
                             "JSON array of the results on stdout")
    parser.add_argument("--insecure-registry", metavar="HOST[:PORT]", action="append",
                        default=[], help="allow plain HTTP to this registry (repeatable)")
    parser.add_argument("--yes", "-y", action="store_true",
                        help="accepted for cosign compatibility (signer never prompts to "
                        "confirm uploads)")


def read_key_password() -> bytes:
    """``COSIGN_PASSWORD``, else a terminal prompt; asked only for encrypted keys."""
    from signer.errors import UsageError

    value = os.environ.get("COSIGN_PASSWORD")
    if value is not None:
        return value.encode()
    if not sys.stdin.isatty():
        raise UsageError("the key is encrypted and no password was given",
                         hint="set COSIGN_PASSWORD or run on a terminal")
    import getpass

    return getpass.getpass("Enter password for private key: ").encode()


def _summary(result: Any, verb: str = "Signed") -> list[str]:
    what = result.signed_reference + (f" ({result.platform})" if result.platform else "")
    lines = [f"{verb} {what}" if result.added else
             f"Already signed {what}: identical signature present, nothing added"]
    if "legacy" in result.formats:
        lines.append(f"  signature: {result.signature_ref}")
    if result.referrer_ref:
        lines.append(f"  bundle referrer: {result.referrer_ref}")
    if result.log_index is not None:
        lines.append(f"  tlog entry created with index: {result.log_index} ({result.entry_url})")
    if result.identity:
        lines.append(f"  identity: {result.identity} (issuer {result.issuer})")
    return lines


def _signature_format(args: argparse.Namespace) -> str:
    """``--signature-format``, with cosign's ``--new-bundle-format`` folded in."""
    from signer.errors import UsageError

    chosen: str | None = args.signature_format
    if args.new_bundle_format is False:
        if chosen not in (None, "legacy"):
            raise UsageError(f"--new-bundle-format=false contradicts --signature-format "
                             f"{chosen}")
        return "legacy"
    if args.new_bundle_format is True and chosen == "legacy":
        raise UsageError("--new-bundle-format contradicts --signature-format legacy")
    return chosen or "both"


def write_bundle_file(path: str, bundle: bytes) -> None:
    """Write ``bundle`` to ``path`` (replacing it whole, never half-written)."""
    import tempfile
    from pathlib import Path

    from signer.errors import InputError

    target = Path(path)
    try:
        with tempfile.NamedTemporaryFile("wb", dir=target.parent or Path("."),
                                         prefix=f".{target.name}.", delete=False) as handle:
            handle.write(bundle)
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, target)
    except OSError as error:
        raise InputError(f"cannot write the bundle to {path}: {error.strerror}",
                         hint="check the directory exists and is writable") from None


def run(args: argparse.Namespace) -> int:
    """Sign every IMAGE and report."""
    return sign_and_report(args, _signature_format(args))



def sign_options(args: argparse.Namespace, **extra: Any) -> SignOptions:
    """The signing options every signing command shares (key, identity token, service
    URLs, trusted root and signing config, log upload, CA bundle), plus ``extra``."""
    from signer.cli.trust_source import signing_material
    from signer.keys import load_private_key
    from signer.sign import SignOptions

    key = load_private_key(args.key, read_key_password) if args.key else None
    # a key signature without a log entry checks nothing against a trusted root
    trust, config = signing_material(
        args.trusted_root, args.signing_config,
        services_named=bool(args.fulcio_url or args.rekor_url),
        needs_trust=key is None or args.tlog_upload, ca_bundle=args.ca_bundle)
    return SignOptions(
        key=key, identity_token=args.identity_token, fulcio_url=args.fulcio_url,
        rekor_url=args.rekor_url, timestamp_server_url=args.timestamp_server_url,
        signing_config=config, trusted_root=trust, tlog_upload=args.tlog_upload,
        ca_bundle=args.ca_bundle, **extra)

def sign_and_report(args: argparse.Namespace, signature_format: str,
                    attestation: Attestation | None = None) -> int:
    """Sign (or, with ``attestation``, attest) every IMAGE in ``signature_format`` and
    report; ``args`` holds the flags of :func:`add_arguments`."""
    import json

    from signer.errors import UsageError
    from signer.output import write_lines
    from signer.registry.client import RegistryClient
    from signer.sign import sign_images

    if args.identity_token and not args.identity_token.startswith("@") \
            and args.identity_token.count(".") == 2:
        write_lines(sys.stderr, ["Warning: a token on the command line is visible to other "
                                 "processes; prefer --identity-token @FILE or SIGSTORE_ID_TOKEN"])
    images = [part.strip() for value in args.images for part in value.split(",")
              if part.strip()]
    if args.bundle and (len(images) != 1 or args.recursive or signature_format == "legacy"):
        raise UsageError("--bundle writes one image's bundle: give one image, without "
                         "--recursive, and a format that includes the bundle")
    options = sign_options(
        args,
        signature_format=signature_format,
        annotations=dict(args.annotations),
        recursive=args.recursive,
        signature_repository=(args.signature_repository
                              or os.environ.get("COSIGN_REPOSITORY") or None),
        attestation=attestation,
    )
    with RegistryClient(insecure=tuple(args.insecure_registry),
                        ca_bundle=args.ca_bundle) as client:
        results = sign_images(client, images, options)
    if args.bundle:
        bundle = results[0].bundle
        assert bundle is not None
        write_bundle_file(args.bundle, bundle)
    for result in results:
        write_lines(sys.stderr, _summary(result, "Attested" if attestation else "Signed"))
    if args.output == "json":  # ASCII-only JSON: every control and non-ASCII escaped
        sys.stdout.write(json.dumps([r.to_json() for r in results], indent=2) + "\n")
    return 0
