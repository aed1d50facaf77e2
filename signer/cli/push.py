"""``signer push SOURCE IMAGE[,IMAGE…]``: push a local image to registries.

SOURCE is an OCI image layout (``oci:DIR[:TAG]`` or a directory with ``oci-layout``),
an OCI layout in a tar (``oci-archive:FILE[:TAG]``) or a ``docker save`` tar
(``docker-archive:FILE``); a bare tar path is recognised by its contents. Prints
``REGISTRY/REPOSITORY@sha256:…`` per target on stdout, in the order given, each as
soon as that target is complete. A target without a tag gets the image by digest only
(no implicit ``latest``).

Passwords never come from argv: ``--password-stdin``, or the environment
(``SIGNER_REGISTRY_PASSWORD`` / ``REGISTRY_PASSWORD``) with ``--username``; without
``--username`` the registry client's usual sources apply (Docker config, helpers).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signer.reference import Reference
    from signer.registry.client import RegistryClient

PASSWORD_ENV_VARS = ("SIGNER_REGISTRY_PASSWORD", "REGISTRY_PASSWORD")


EXAMPLES = """\
examples:
  signer push oci:./layout:1.0 ghcr.io/OWNER/IMAGE:1.0
  docker save app:1.0 -o app.tar
  signer push app.tar registry.example/app:1.0 registry.example/app:latest
  printf '%s' "$PASSWORD" | signer push -u me --password-stdin app.tar registry.example/app:1.0
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``signer push``'s arguments."""
    # No prefix matching: "--password X" must not become "--password-stdin" + SOURCE X.
    parser.allow_abbrev = False
    parser.add_argument("source", metavar="SOURCE",
                        help="oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE, "
                        "or a layout directory / image tar")
    parser.add_argument("images", metavar="IMAGE", nargs="+",
                        help="target REGISTRY/REPOSITORY[:TAG]; several allowed, also "
                        "comma-separated; without a tag the image is pushed by digest only")
    parser.add_argument("--username", "-u", metavar="NAME",
                        help="registry user name (password from --password-stdin or "
                        "SIGNER_REGISTRY_PASSWORD / REGISTRY_PASSWORD)")
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the registry password from standard input")
    parser.add_argument("--password", dest="password_in_argv", metavar="-",
                        help=argparse.SUPPRESS)
    parser.add_argument("--insecure-registry", metavar="HOST[:PORT]", action="append",
                        default=[], help="allow plain HTTP to this registry (repeatable)")
    parser.add_argument("--ca-bundle", metavar="FILE",
                        help="PEM file of CA certificates to trust for registry TLS")
    parser.add_argument("--jobs", type=int, default=4, metavar="N",
                        help="concurrent blob uploads per target (default 4)")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="print only the pushed references")


def _targets(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _password(args: argparse.Namespace) -> str | None:
    import os
    import sys

    from signer.errors import UsageError

    if getattr(args, "password_in_argv", None) is not None:
        raise UsageError("passwords are not accepted on the command line",
                         hint="use --password-stdin or SIGNER_REGISTRY_PASSWORD; "
                         "consider the password exposed and change it")
    if args.password_stdin:
        if not args.username:
            raise UsageError("--password-stdin needs --username",
                             hint="give the registry user name with --username")
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("--password-stdin given but standard input is empty",
                             hint="pipe the password in, e.g. printenv PASS | signer push ...")
        return password
    if args.username:
        for name in PASSWORD_ENV_VARS:
            value = os.environ.get(name)
            if value:
                return value
        raise UsageError("--username given without a password",
                         hint="use --password-stdin or set SIGNER_REGISTRY_PASSWORD")
    return None


def run(args: argparse.Namespace) -> int:
    """Push SOURCE to every IMAGE; print one pinned reference per target."""
    import gc
    import os

    from signer.errors import InputError, UsageError
    from signer.reference import parse_reference

    if args.jobs < 1 or args.jobs > 32:
        raise UsageError(f"--jobs {args.jobs} is out of range", hint="use 1 to 32")
    names = _targets(args.images)
    if not names:
        raise UsageError("no target image given", hint="name at least one REGISTRY/REPO[:TAG]")
    targets = [parse_reference(name) for name in names]
    password = _password(args)
    if args.ca_bundle and not os.path.isfile(args.ca_bundle):
        raise InputError(f"CA bundle {args.ca_bundle} does not exist or is not a file",
                         hint="give a PEM file of CA certificates")

    # Importing requests and the registry modules makes ~100k objects that live as long
    # as the process; the push itself is short, and the cycle collector would spend
    # several milliseconds walking them again and again. So they load with the
    # collector paused and are then frozen out of its sight (reference counting still
    # frees them); the freeze is undone when the push returns, for in-process callers.
    collecting, thaw = gc.isenabled(), gc.get_freeze_count() == 0
    gc.disable()
    try:
        _import_push_modules()
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    try:
        return _push(args, targets, password)
    finally:
        if thaw:
            gc.unfreeze()


def _import_push_modules() -> None:
    import signer.registry.client
    import signer.registry.credentials
    import signer.registry.push
    import signer.registry.sources  # noqa: F401


def _push(args: argparse.Namespace, targets: list[Reference], password: str | None) -> int:
    import sys

    from signer.output import write_lines
    from signer.registry.push import PushResult, check_targets, push_image
    from signer.registry.sources import open_source

    def pushed(result: PushResult) -> None:
        # Each target is reported as soon as it is complete, so a later failure
        # still leaves the finished ones on stdout.
        if not args.quiet:
            write_lines(sys.stderr, [result.summary()])
        write_lines(sys.stdout, [str(result.pinned)])

    with open_source(args.source) as source:
        check_targets(source, targets)
        client = _client(args, password, targets)
        try:
            push_image(source, targets, client, workers=args.jobs, on_pushed=pushed)
        finally:
            client.close()
    return 0


def _client(args: argparse.Namespace, password: str | None,
            targets: list[Reference]) -> RegistryClient:
    """One client for every target: explicit credentials only for the targets' hosts."""
    from signer.registry.client import RegistryClient
    from signer.registry.credentials import Credentials, default_keychain

    explicit = Credentials(args.username, password or "") if args.username else None
    keychain = default_keychain(explicit, {target.registry for target in targets})
    return RegistryClient(credentials=keychain, insecure=tuple(args.insecure_registry),
                          ca_bundle=args.ca_bundle)
