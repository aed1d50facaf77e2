"""The build-provenance flags shared by ``signer verify`` and ``verify-blob``.

Named as ``gh attestation verify`` names them (cosign has none): ``--source-repository``,
``--source-ref``, ``--signer-workflow`` and ``--deny-self-hosted-runners``; see
:mod:`signer.verify.claims` for what each checks. A bare ``OWNER/REPO[/PATH]`` value is
taken on ``https://github.com``; give a URL for another server.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signer.verify.claims import BuildClaims


def add_arguments(group: argparse._ActionsContainer) -> None:
    """Add the four flags to ``group``."""
    group.add_argument("--source-repository", metavar="OWNER/REPO",
                       help="repository whose workflow run signed (Fulcio Source Repository "
                            "URI, 1.12; exact); OWNER/REPO or its URL")
    group.add_argument("--source-ref", metavar="REF",
                       help="git ref the run was for, e.g. refs/tags/v1.2.3 (Source "
                            "Repository Ref, 1.14; exact)")
    group.add_argument("--signer-workflow", metavar="OWNER/REPO/PATH[@REF]",
                       help="workflow file that signed (Build Signer URI, 1.9); without @REF "
                            "any ref of it")
    group.add_argument("--deny-self-hosted-runners", action="store_true",
                       help="refuse signatures made on self-hosted runners (Runner "
                            "Environment, 1.11, must be github-hosted)")


def build_claims(args: argparse.Namespace) -> BuildClaims:
    """The claims the flags ask for (raises UsageError for a malformed value)."""
    from signer.verify.claims import BuildClaims, signer_workflow_uri, source_repository_uri

    return BuildClaims(
        source_repository=(source_repository_uri(args.source_repository)
                           if args.source_repository else None),
        source_ref=args.source_ref or None,
        signer_workflow=(signer_workflow_uri(args.signer_workflow)
                         if args.signer_workflow else None),
        github_hosted_only=bool(args.deny_self_hosted_runners),
    )


def given(args: argparse.Namespace) -> bool:
    """True if any of the four flags was given."""
    return bool(args.source_repository or args.source_ref or args.signer_workflow
                or args.deny_self_hosted_runners)
