"""``signer attest-blob --predicate FILE --type TYPE --bundle OUT FILE``: an in-toto
attestation about a file, as ``cosign attest-blob`` (v3) writes it.

The statement's subject is the file (its name and SHA-256); it is signed as DSSE,
logged and timestamped as ``signer sign-blob`` signs, and the Sigstore bundle is
written to ``--bundle`` after it verified offline. ``signer verify-blob --bundle OUT
FILE`` (and ``sigstore verify``) check it.
"""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  signer attest-blob --provenance --bundle app.tar.gz.intoto.sigstore.json app.tar.gz
  signer attest-blob --type spdxjson --predicate sbom.json --bundle out.sigstore.json app.tgz
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``attest-blob``."""
    from signer.cli.attest import add_predicate_arguments
    from signer.cli.sign import add_service_arguments

    parser.add_argument("file", metavar="FILE", help="the file the attestation is about")
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
    from signer.cli.sign import read_key_password, write_bundle_file
    from signer.cli.sign_blob import file_sha256
    from signer.cli.trust_source import signing_material
    from signer.keys import load_private_key
    from signer.output import write_lines
    from signer.sign import SignOptions, sign_blob

    attestation = attestation_from_args(args)
    sha256 = file_sha256(args.file)
    key = load_private_key(args.key, read_key_password) if args.key else None
    # a key signature without a log entry checks nothing against a trusted root
    trust, config = signing_material(
        args.trusted_root, args.signing_config,
        services_named=bool(args.fulcio_url or args.rekor_url),
        needs_trust=key is None or args.tlog_upload, ca_bundle=args.ca_bundle)
    options = SignOptions(
        key=key, identity_token=args.identity_token, fulcio_url=args.fulcio_url,
        rekor_url=args.rekor_url, timestamp_server_url=args.timestamp_server_url,
        signing_config=config, trusted_root=trust,
        tlog_upload=args.tlog_upload, ca_bundle=args.ca_bundle, signature_format="bundle",
        attestation=attestation)
    signed = sign_blob(sha256, options, name=os.path.basename(args.file))
    write_bundle_file(args.bundle, signed.data)
    index = f" (tlog entry index {signed.log_index})" if signed.log_index is not None else ""
    write_lines(sys.stderr, [f"Wrote attestation bundle to {args.bundle}{index}"])
    return 0
