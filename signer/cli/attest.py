"""``signer attest --predicate FILE --type TYPE IMAGE...``: attest images, as
``cosign attest`` (v3) does.

The in-toto v1 statement (subject: the image and its digest; ``--type``: cosign's
short names or a URI) is signed as DSSE, logged and timestamped exactly as ``signer
sign`` signs (keyless or ``--key``, the same service and trust flags), and stored as a
Sigstore bundle referrer of the image with the ``dev.sigstore.bundle.predicateType``
annotation -- what ``signer verify-attestation``, ``cosign verify-attestation`` and
``gh attestation verify --bundle-from-oci`` read. ``--provenance`` signs SLSA v1 build
provenance of the GitHub Actions run instead of a predicate file (see
:mod:`signer.attest`). ``--signature-format legacy`` (or ``both``) writes cosign v2's
``sha256-<hex>.att`` image layer instead (or too): the DSSE envelope, logged as a Rekor
v1 ``dsse`` entry, with the certificate, chain, SET and predicate type as annotations.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signer.attest import Attestation

EXAMPLES = """\
examples:
  # SLSA build provenance of this GitHub Actions run (id-token: write)
  signer attest --provenance ghcr.io/OWNER/IMAGE@sha256:HEX
  # an SPDX SBOM, signed with a key
  COSIGN_PASSWORD=... signer attest --key cosign.key --type spdxjson \\
    --predicate sbom.spdx.json registry.example/app:1.0
"""


def add_predicate_arguments(parser: argparse.ArgumentParser) -> None:
    """``--predicate``, ``--type`` and ``--provenance`` (shared with ``attest-blob``)."""
    parser.add_argument("--predicate", metavar="FILE",
                        help="the predicate: a JSON file (up to 16 MiB)")
    parser.add_argument("--type", default=None, metavar="TYPE",
                        help="predicate type: slsaprovenance, slsaprovenance02, "
                             "slsaprovenance1, link, spdx, spdxjson, cyclonedx, vuln, openvex, "
                             "custom (default; slsaprovenance1 with --provenance), or a URI")
    parser.add_argument("--provenance", action="store_true",
                        help="attest SLSA v1 build provenance of this GitHub Actions run (from "
                             "the OIDC token's claims, else the runner environment), as "
                             "actions/attest-build-provenance")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``attest``."""
    from signer.cli.sign import add_service_arguments, add_storage_arguments

    parser.add_argument("images", metavar="IMAGE", nargs="+",
                        help="image references (tags are resolved; digests are attested)")
    add_predicate_arguments(parser)
    add_service_arguments(parser)
    parser.add_argument("--signature-format", choices=("bundle", "both", "legacy"),
                        default="bundle",
                        help="bundle (default): a Sigstore bundle referrer (cosign v3); "
                             "legacy: a layer of the sha256-<hex>.att image (cosign v2; needs "
                             "a Rekor v1 log); both")
    parser.add_argument("--bundle", metavar="FILE",
                        help="also write the Sigstore bundle to FILE (one image only)")
    add_storage_arguments(parser, "attest", "attestations")
    parser.set_defaults(annotations=[])


def attestation_from_args(args: argparse.Namespace) -> Attestation:
    """The :class:`signer.attest.Attestation` the flags describe."""
    import os

    from signer.attest import Attestation
    from signer.errors import InputError, UsageError
    from signer.formats.attestation import SLSA_PROVENANCE_V1, parse_predicate, predicate_type_uri

    if args.provenance:
        if args.predicate:
            raise UsageError("--provenance builds the predicate; do not give --predicate too")
        predicate_type = predicate_type_uri(args.type or "slsaprovenance1")
        if predicate_type != SLSA_PROVENANCE_V1:
            raise UsageError(f"--provenance makes {SLSA_PROVENANCE_V1}, not {predicate_type}")
        return Attestation(predicate_type, provenance=True, environment=dict(os.environ))
    if not args.predicate:
        raise UsageError("give --predicate FILE (or --provenance)",
                         hint="signer attest --predicate FILE --type TYPE IMAGE...")
    predicate_type = predicate_type_uri(args.type or "custom")
    try:
        with open(args.predicate, "rb") as handle:
            data = handle.read(17 * 1024 * 1024)
    except OSError as error:
        raise InputError(f"cannot read the predicate {args.predicate}: {error.strerror}",
                         hint="give an existing, readable JSON file") from None
    return Attestation(predicate_type, parse_predicate(data, args.predicate),
                       environment=dict(os.environ))


def run(args: argparse.Namespace) -> int:
    """Attest every IMAGE and report."""
    from signer.cli.sign import sign_and_report

    return sign_and_report(args, args.signature_format, attestation_from_args(args))
