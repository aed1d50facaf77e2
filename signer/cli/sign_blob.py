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

    from signer.cli.sign import sign_options, write_bundle_file
    from signer.sign import sign_blob

    sha256 = file_sha256(args.file)
    options = sign_options(args)
    signed = sign_blob(sha256, options)
    write_bundle_file(args.bundle, signed.data)
    index = f" (tlog entry index {signed.log_index})" if signed.log_index is not None else ""
    from signer.output import write_lines

    write_lines(sys.stderr, [f"Wrote bundle to {args.bundle}{index}"])
    return 0
