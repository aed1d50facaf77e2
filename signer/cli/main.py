"""The ``signer`` command: dispatch to one sub-command module, print errors, exit.

Each sub-command lives in its own module under :mod:`signer.cli` and exposes
``add_arguments(parser)`` and ``run(args) -> int``. Only the module of the command
being run is imported, so start-up stays light.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, Protocol, cast

from signer import __version__

#: command name -> (module, one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "push": ("signer.cli.push", "push an OCI layout or image tar to a registry"),
    "sign": ("signer.cli.sign", "sign images (keyless with Sigstore, or with a key)"),
    "sign-blob": ("signer.cli.sign_blob", "sign a file into a Sigstore bundle"),
    "verify": ("signer.cli.verify", "verify image signatures as cosign verify does"),
    "verify-blob": ("signer.cli.verify_blob", "verify a file against a Sigstore bundle"),
    "attest": ("signer.cli.attest",
               "attest images: sign an in-toto statement (SLSA provenance, SBOM...)"),
    "attest-blob": ("signer.cli.attest_blob", "attest a file into a Sigstore bundle"),
    "verify-attestation": ("signer.cli.verify_attestation",
                           "verify in-toto attestations of images (SLSA provenance, SBOMs...)"),
    "generate-key-pair": ("signer.cli.generate_key_pair",
                          "write cosign.key (encrypted) and cosign.pub"),
    "gate": ("signer.cli.gate",
             "check every image that files deploy against a Connaisseur policy"),
    "initialize": ("signer.cli.initialize",
                   "choose and cache the TUF repository that supplies the trusted root"),
}


TOP_LEVEL_EPILOG = """\
Run 'signer COMMAND --help' for the options of one command.

exit codes (as cosign's):
  0   success
  1   failure (network, registry, input, a check other than the ones below)
  2   usage error (unknown flag, missing argument)
  10  verify: the image has no signatures
  11  verify: the image or tag was not found
  12  verify: signatures exist but none passed every check

environment:
  SIGSTORE_ID_TOKEN   OIDC token for keyless signing
  COSIGN_PASSWORD     password of a cosign.key (sign --key, generate-key-pair)
  COSIGN_REPOSITORY   repository that holds signatures (sign, verify)
  SIGNER_CA_BUNDLE    extra PEM CA certificates trusted for TLS
  DOCKER_CONFIG       directory of the config.json that holds registry credentials
  GITHUB_TOKEN        registry password for ghcr.io (as in GitHub Actions)
  TUF_ROOT            cache directory of the TUF metadata (default: the user cache)
"""


class CommandModule(Protocol):
    """What a sub-command module provides."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class _Parser(argparse.ArgumentParser):
    """argparse with cosign's usage exit code (2) and a one-line error."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and a one-line error (it may quote argv); exit 2."""
        from signer.output import write_lines

        self.print_usage(sys.stderr)
        write_lines(sys.stderr, [f"Error: {message}"])
        raise SystemExit(2)


def _load(name: str) -> CommandModule:
    return cast(CommandModule, importlib.import_module(COMMANDS[name][0]))


def build_parser(selected: str | None) -> argparse.ArgumentParser:
    """The top-level parser; only ``selected``'s arguments are loaded."""
    parser = _Parser(prog="signer", description="Sign and verify container images with Sigstore.",
                     epilog=TOP_LEVEL_EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"signer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (_module, summary) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=summary, description=summary,
                                        formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == selected:
            module = _load(name)
            module.add_arguments(command_parser)
            command_parser.epilog = getattr(module, "EXAMPLES", None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; never raises for user errors."""
    from signer.errors import Error
    from signer.output import error_lines, write_lines

    args_list = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in args_list if not a.startswith("-")), None)
    if selected not in COMMANDS:
        selected = None
    try:
        parser = build_parser(selected)
        args = parser.parse_args(args_list)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        return _load(args.command).run(args)
    except Error as err:
        write_lines(sys.stderr, error_lines(err))
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("Error: interrupted\n")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a bug: report one line, not a traceback
        if os.environ.get("SIGNER_DEBUG"):
            raise
        sys.stderr.write(
            f"Error: internal error: {type(exc).__name__}\n"
            "  hint: this is a bug in signer; rerun with SIGNER_DEBUG=1 for details\n"
        )
        return 1


def entry() -> None:
    """Console-script entry point."""
    code = main()
    # The process ends here. Interpreter shutdown runs the cycle collector over every
    # object still alive -- every module, class and function the command imported,
    # ~15-20 ms once requests is loaded, longer than a whole push to a local
    # registry takes. Nothing the command needs is left to collect: the work is done,
    # streams are flushed at exit as usual, atexit handlers still run.
    gc.freeze()
    raise SystemExit(code)
