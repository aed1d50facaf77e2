"""``signer sign-blob --bundle OUT FILE``: sign a file into a Sigstore bundle v0.3.

As ``cosign sign-blob --bundle`` (v3) and ``sigstore sign`` do: a messageSignature
over the file's SHA-256, keyless (Fulcio certificate) or with ``--key`` (a public-key
hint), with the log entries and timestamps the signing config selects
(``--signing-config``, else the embedded public-good config; ``--fulcio-url``,
``--rekor-url`` and ``--timestamp-server-url`` override it). The bundle is verified
offline against the trusted root before it is written. ``signer verify-blob
--bundle OUT FILE`` checks it.
"""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  signer sign-blob --bundle app.tar.gz.sigstore.json app.tar.gz
  COSIGN_PASSWORD=... signer sign-blob --key cosign.key --bundle out.sigstore.json file
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``sign-blob`` (named as cosign names them)."""
    from signer.cli.sign import add_service_arguments

    parser.add_argument("file", metavar="FILE", help="the file to sign")
    parser.add_argument("--bundle", metavar="OUT", required=True,
                        help="where to write the Sigstore bundle (e.g. FILE.sigstore.json)")
    add_service_arguments(parser)
    parser.add_argument("--yes", "-y", action="store_true",
                        help="accepted for cosign compatibility (never prompts)")


def file_sha256(path: str) -> bytes:
    """SHA-256 of the file at ``path``, read in pieces (InputError if unreadable)."""
    import hashlib

    from signer.errors import InputError

    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}",
                         hint="give an existing, readable file") from None
    return digest.digest()


def run(args: argparse.Namespace) -> int:
    """Sign FILE and write the bundle."""
    import sys

    from signer.cli.sign import read_key_password, write_bundle_file
    from signer.cli.trust_source import signing_material
    from signer.keys import load_private_key
    from signer.sign import SignOptions, sign_blob

    sha256 = file_sha256(args.file)
    key = load_private_key(args.key, read_key_password) if args.key else None
    # a key signature without a log entry checks nothing against a trusted root
    trust, config = signing_material(
        args.trusted_root, args.signing_config,
        services_named=bool(args.fulcio_url or args.rekor_url),
        needs_trust=key is None or args.tlog_upload, ca_bundle=args.ca_bundle)
    options = SignOptions(
        key=key,
        identity_token=args.identity_token,
        fulcio_url=args.fulcio_url,
        rekor_url=args.rekor_url,
        timestamp_server_url=args.timestamp_server_url,
        signing_config=config,
        trusted_root=trust,
        tlog_upload=args.tlog_upload,
        ca_bundle=args.ca_bundle,
    )
    signed = sign_blob(sha256, options)
    write_bundle_file(args.bundle, signed.data)
    index = f" (tlog entry index {signed.log_index})" if signed.log_index is not None else ""
    from signer.output import write_lines

    write_lines(sys.stderr, [f"Wrote bundle to {args.bundle}{index}"])
    return 0
