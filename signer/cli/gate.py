"""``signer gate``: check every image that files deploy against a Connaisseur policy.

Finds the images named in Kubernetes manifests, Compose files, Dockerfiles and
GitHub workflows below PATHs (only files changed since ``--changed-from`` when
given), picks each image's rule in the policy as Connaisseur would, verifies its
signatures, and prints one row per image with every file:line naming it. Exit 0 when
every image passes (``warn`` rules never fail the run), 1 when any is refused, 2 for
usage errors.
"""

from __future__ import annotations

import argparse
import os
import sys

ENV_SIGNATURE_REPOSITORY = "COSIGN_REPOSITORY"

EXAMPLES = """\
examples:
  # every image under deploy/ and the repository's Dockerfiles and workflows
  signer gate --policy charts/connaisseur/values.yaml deploy/ Dockerfile .github/workflows
  # only what a pull request changes, as JSON
  signer gate --policy values.yaml --changed-from origin/main --output json .
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The gate's flags."""
    parser.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                        help="files or directories to search (default: .)")
    parser.add_argument("--policy", required=True, metavar="FILE",
                        help="Connaisseur values.yaml (or its validators and policy sections)")
    parser.add_argument("--changed-from", metavar="REF",
                        help="only files changed since this git ref (e.g. the PR's base)")
    parser.add_argument("--output", choices=("table", "json", "github"), default="table",
                        help="table (default), json, or github: the table plus an ::error "
                             "annotation on each line naming a refused image and a table "
                             "in $GITHUB_STEP_SUMMARY")
    parser.add_argument("--unresolved", choices=("fail", "warn"), default="fail",
                        help="whether references unknown before deployment (${VAR} without "
                             "default) fail the run (default: fail)")
    parser.add_argument("--trusted-root", metavar="FILE",
                        help="trusted_root.json (default: from the TUF repository chosen by "
                             "signer initialize, public good if none)")
    parser.add_argument("--offline", action="store_true",
                        help="never contact the TUF repository or a validator's host.rekor "
                             "(the registry is still used)")
    parser.add_argument("--signature-repository", metavar="REPO",
                        help="repository holding the signatures (or COSIGN_REPOSITORY)")
    parser.add_argument("--insecure-registry", action="append", default=[], metavar="HOST",
                        help="registry reachable over plain HTTP (repeat; '*' for all)")
    parser.add_argument("--ca-bundle", metavar="FILE",
                        help="PEM CA certificates for the registry's TLS")
    parser.add_argument("--max-workers", type=int, default=32, metavar="N",
                        help="images verified at once (default 32, as verify)")


def run(args: argparse.Namespace) -> int:
    """Discover, evaluate, print; exit 0 only when no image is refused."""
    import json

    from signer import gate_report
    from signer.cli.trust_source import trusted_root
    from signer.errors import UsageError
    from signer.gate.discovery import discover
    from signer.gate.policy import load_policy
    from signer.gating import GateOptions, evaluate
    from signer.git import changed_files
    from signer.output import write_lines
    from signer.registry.client import RegistryClient

    if args.max_workers < 1:
        raise UsageError("--max-workers must be at least 1")
    policy = load_policy(args.policy)
    only = changed_files(args.changed_from) if args.changed_from else None
    uses, problems = discover(args.paths, only)
    write_lines(sys.stderr, [f"warning: skipped {problem.message}" for problem in problems])
    # a --trusted-root file is read now (a bad one is an error before anything runs);
    # TUF is asked only if an image needs a signature check
    trust = (trusted_root(args.trusted_root) if args.trusted_root
             else lambda: trusted_root(None, offline=args.offline, ca_bundle=args.ca_bundle))
    options = GateOptions(trust=trust, max_workers=args.max_workers,
                          signature_repository=args.signature_repository
                          or os.environ.get(ENV_SIGNATURE_REPOSITORY) or None,
                          unresolved_fails=args.unresolved == "fail",
                          rekor_lookups=not args.offline)
    insecure = [h for h in args.insecure_registry if h != "*"]
    if "*" in args.insecure_registry:
        from signer.errors import Error
        from signer.reference import parse_reference

        for use in uses:
            try:
                insecure.append(parse_reference(use.reference).registry)
            except Error:  # an invalid reference is reported by evaluate
                continue
    with RegistryClient(insecure=insecure, ca_bundle=args.ca_bundle) as client:
        results = evaluate(client, policy, uses, options)
    if args.output == "json":
        document = {"policy": args.policy, "images": [r.to_json() for r in results],
                    "skipped": [{"file": p.file, "error": p.message} for p in problems]}
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=True) + "\n")
    else:
        write_lines(sys.stdout, gate_report.table_lines(results))
    if args.output == "github":
        sys.stdout.write("".join(line + "\n" for line in gate_report.annotation_commands(results)))
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as handle:
                handle.write(gate_report.summary_markdown(results, len(uses)))
    write_lines(sys.stderr, [gate_report.counts_line(results, len(uses))])
    return 1 if any(r.fails_run for r in results) else 0
