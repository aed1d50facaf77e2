"""``signer generate-key-pair``: write cosign.key (encrypted) and cosign.pub.

The password comes from ``COSIGN_PASSWORD`` (an empty value is allowed, as in
cosign) or, on a terminal, from a prompt asked twice. It is never an argument.
"""

from __future__ import annotations

import argparse
import os
import sys

EXAMPLES = """\
examples:
  COSIGN_PASSWORD=... signer generate-key-pair --dir keys   # keys/cosign.key, keys/cosign.pub
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``generate-key-pair``."""
    parser.add_argument("--output-key-prefix", default="cosign", metavar="PREFIX",
                        help="write PREFIX.key and PREFIX.pub (default: cosign)")
    parser.add_argument("--dir", default=".", metavar="DIR",
                        help="directory to write the files in (default: current)")
    parser.add_argument("-f", "--force", action="store_true",
                        help="overwrite existing key files")


def read_new_password() -> bytes:
    """``COSIGN_PASSWORD``, else a confirmed prompt on a TTY; otherwise a usage error."""
    from signer.errors import UsageError

    value = os.environ.get("COSIGN_PASSWORD")
    if value is not None:
        return value.encode()
    if not sys.stdin.isatty():
        raise UsageError("no password for the new key",
                         hint="set COSIGN_PASSWORD (it may be empty) or run on a terminal")
    import getpass

    first = getpass.getpass("Enter password for private key: ")
    second = getpass.getpass("Enter password for private key again: ")
    if first != second:
        raise UsageError("the two passwords differ")
    return first.encode()


def run(args: argparse.Namespace) -> int:
    """Generate a P-256 key pair and write it in cosign's formats."""
    from signer.keys import write_cosign_key_pair
    from signer.output import write_lines

    password = read_new_password()
    key_path, pub_path = write_cosign_key_pair(args.dir, password, force=args.force,
                                               prefix=args.output_key_prefix)
    write_lines(sys.stderr, [f"Private key written to {key_path}",
                             f"Public key written to {pub_path}"])
    return 0
