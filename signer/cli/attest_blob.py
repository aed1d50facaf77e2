"""``signer attest-blob --predicate FILE --type TYPE --bundle OUT FILE``: an in-toto
attestation about a file, as ``cosign attest-blob`` (v3) writes it.

The statement's subject is the file (its name and SHA-256); it is signed as DSSE,
logged and timestamped as ``signer sign-blob`` signs, and the Sigstore bundle is
written to ``--bundle`` after it verified offline. ``signer verify-blob --bundle OUT
FILE`` (and ``sigstore verify``) check it. ``--statement FILE`` signs a ready in-toto
statement instead, byte for byte (as ``cosign attest-blob --statement``).
"""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  signer attest-blob --provenance --bundle app.tar.gz.intoto.sigstore.json app.tar.gz
  signer attest-blob --type spdxjson --predicate sbom.json --bundle out.sigstore.json app.tgz
  signer attest-blob --statement statement.json --bundle statement.sigstore.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``attest-blob``."""
    from signer.cli.attest import add_predicate_arguments
    from signer.cli.sign import add_service_arguments

    parser.add_argument("file", metavar="FILE", nargs="?",
                        help="the file the attestation is about (not with --statement)")
    parser.add_argument("--statement", metavar="FILE",
                        help="sign this in-toto v1 statement as it is (up to 16 MiB; its "
                             "subjects name the files) instead of building one")
    parser.add_argument("--bundle", metavar="OUT", required=True,
                        help="where to write the Sigstore bundle")
    add_predicate_arguments(parser)
    add_service_arguments(parser)
    parser.add_argument("--yes", "-y", action="store_true",
                        help="accepted for cosign compatibility (never prompts)")


def run(args: argparse.Namespace) -> int:
    """Attest FILE and write the bundle."""
    import os
    import sys

    from signer.cli.attest import attestation_from_args
    from signer.cli.sign import sign_options, write_bundle_file
    from signer.cli.sign_blob import file_sha256
    from signer.output import write_lines
    from signer.sign import sign_blob, sign_statement

    statement = _read_statement(args)
    attestation = None if statement else attestation_from_args(args)
    options = sign_options(args, signature_format="bundle", attestation=attestation)
    if statement:
        signed = sign_statement(statement[0], statement[1], options)
    else:
        signed = sign_blob(file_sha256(args.file), options, name=os.path.basename(args.file))
    write_bundle_file(args.bundle, signed.data)
    index = f" (tlog entry index {signed.log_index})" if signed.log_index is not None else ""
    write_lines(sys.stderr, [f"Wrote attestation bundle to {args.bundle}{index}"])
    return 0


def _read_statement(args: argparse.Namespace) -> tuple[bytes, str] | None:
    """With ``--statement``: its bytes and the SHA-256 subject digest it names; the
    attestation flags and FILE are refused alongside it. Without: None, FILE needed."""
    from signer.errors import UsageError

    if not args.statement:
        if not args.file:
            raise UsageError("give the FILE the attestation is about (or --statement FILE)",
                             hint="signer attest-blob --predicate P --type T --bundle OUT FILE")
        return None
    if args.file or args.predicate or args.provenance or args.type:
        raise UsageError("--statement is the whole attestation: give no FILE, --predicate, "
                         "--type or --provenance with it")
    from signer.formats.attestation import MAX_PREDICATE_BYTES, statement_subject_digest
    from signer.localfile import read_local_file

    data = read_local_file(args.statement, "the statement", limit=MAX_PREDICATE_BYTES)
    return data, statement_subject_digest(data, args.statement)
