"""``signer verify-attestation``: verify in-toto attestations of images, as
``cosign verify-attestation`` does for cosign v3's bundle referrers.

The identity flags are ``signer verify``'s (keyless identity and issuer, the GitHub
workflow extensions, the build-provenance claims, or ``--key``); ``--type`` names the
predicate type (cosign's short names or a URI; default ``custom``, as cosign).
Stderr gets cosign's header and check lines; stdout one line per verified attestation:
its DSSE envelope as JSON, as cosign prints it. Exit codes: 0 verified, 10 no
attestations, 11 image tag not found, 12 none passed (each failure names its check),
1 other errors, 2 usage. See :mod:`signer.attestations` for the checks.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signer.attestations import ImageAttestations

EXAMPLES = """\
examples:
  # SLSA build provenance made by a release workflow of OWNER/REPO
  signer verify-attestation --type slsaprovenance1 \\
    --source-repository OWNER/REPO --deny-self-hosted-runners \\
    --certificate-oidc-issuer https://token.actions.githubusercontent.com \\
    ghcr.io/OWNER/IMAGE:TAG
  # an SPDX SBOM attested with a key
  signer verify-attestation --type spdxjson --key cosign.pub registry.example/app@sha256:HEX
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--type`` and ``signer verify``'s flags that apply to attestations."""
    from signer.cli import verify

    parser.add_argument("--type", default="custom", metavar="TYPE",
                        help="predicate type: slsaprovenance, slsaprovenance02, "
                             "slsaprovenance1, link, spdx, spdxjson, cyclonedx, vuln, openvex, "
                             "custom (default), or a URI")
    verify.add_arguments(parser, attestations=True)


def print_verified(args: argparse.Namespace, result: ImageAttestations) -> None:
    """cosign's header on stderr, the envelopes on stdout (one JSON per line), then the
    attestations of the image that did not count and why."""
    from signer.cli.verify import check_lines
    from signer.output import terminal_json, write_lines

    header = ["", f"Verification for {result.reference.name} --",
              "The following checks were performed on each of these signatures:"]
    header += [f"  - {line}" for line in check_lines(args, True)]
    write_lines(sys.stderr, header)
    for line in result.output_lines():
        sys.stdout.write(terminal_json(line) + "\n")
    others = result.failure_lines()
    if others:
        write_lines(sys.stderr, [f"Ignored {len(others)} other attestation(s) of "
                                 f"{result.reference.name} that did not verify:",
                                 *(f"  {line}" for line in others)])


def print_failure(result: ImageAttestations) -> None:
    """One ``Error:`` line for the image, then one line per failed attestation."""
    from signer.output import error_lines, write_lines

    if result.error is not None and result.results:
        write_lines(sys.stderr, [f"Error: no matching attestations of type "
                                 f"{result.predicate_type} for {result.reference.name}:",
                                 *(f"  {line}" for line in result.failure_lines())])
    elif result.error is not None:
        write_lines(sys.stderr, error_lines(result.error))


def run(args: argparse.Namespace) -> int:
    """Verify the attestations of every image; the exit code is that of the first image
    that failed."""
    from signer.attestations import verify_attestations
    from signer.cli.verify import prepare, report
    from signer.formats.attestation import predicate_type_uri
    from signer.registry.client import RegistryClient

    predicate_type = predicate_type_uri(args.type)
    references, options, insecure = prepare(args, "verify-attestation")
    with RegistryClient(insecure=insecure, ca_bundle=args.ca_bundle) as client:
        results = verify_attestations(client, references, options, predicate_type)
    return report(results, lambda result: print_verified(args, result), print_failure)
