"""How gate results are shown (layer L5, shared by ``signer gate`` and the action's
gate mode): terminal lines, GitHub annotations on the lines that name a refused image,
and a job-summary table.

Everything shown passes through :mod:`signer.output`: image references, reasons and
file names come from the files and the registry and may hold anything.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signer.gating import ImageResult

TITLE = "signer gate"
#: result names (signer.gating's, repeated so that importing this module stays light)
PASS, FAIL, WARN, UNRESOLVED = "pass", "fail", "warn", "unresolved"


def _signatures(result: ImageResult) -> str:
    return " ".join(f"{root.name}={root.valid}" for root in result.trust_roots) or "-"


def _rule(result: ImageResult) -> str:
    if result.rule is None:
        return "-"
    validator = result.validator.name if result.validator is not None else "?"
    return f"{result.rule.pattern!r} -> {validator}"


def table_lines(results: Sequence[ImageResult]) -> list[str]:
    """One block per image: verdict and reference, digest, rule and signatures, why,
    the trust roots' reasons when it did not pass, then every place naming it."""
    lines = []
    for result in results:
        digest = result.digest[:19] + "…" if result.digest else "-"
        lines.append(f"{result.status.upper():<10} {result.reference}")
        lines.append(f"    digest {digest}  rule {_rule(result)}  signatures "
                     f"{_signatures(result)}")
        lines.append(f"    {result.reason}")
        if result.status != PASS:
            lines += [line for line in (f"    trust root {root.name!r}: {root.reason}"
                                        for root in result.trust_roots if root.reason)
                      if line != lines[-1]]
        lines += [f"    at {use.location} ({use.kind})" for use in result.uses]
    return lines


def counts_line(results: Sequence[ImageResult], references: int) -> str:
    """``N images in M references: ...`` (the last line on stderr)."""
    counts = {status: sum(r.status == status for r in results)
              for status in (PASS, FAIL, WARN, UNRESOLVED)}
    return (f"{len(results)} images in {references} references: {counts[PASS]} passed, "
            f"{counts[FAIL]} refused, {counts[WARN]} warned, {counts[UNRESOLVED]} unresolved")


def annotation_path(file: str, workspace: str | None = None) -> str:
    """A file as GitHub wants it in an annotation: relative to the workspace."""
    base = os.path.realpath(workspace or os.environ.get("GITHUB_WORKSPACE") or os.getcwd())
    full = os.path.realpath(file)
    if full == base or full.startswith(base + os.sep):
        return os.path.relpath(full, base).replace(os.sep, "/")
    return file


def annotation_commands(results: Sequence[ImageResult], workspace: str | None = None
                        ) -> list[str]:
    """``::error`` (refused) or ``::warning`` (warned, or unresolved when those do not
    fail the run) on every line that names such an image."""
    from signer.output import workflow_command

    commands = []
    for result in results:
        if result.status == PASS:
            continue
        level = "error" if result.fails_run else "warning"
        verdict = {FAIL: "refused", WARN: "would be refused (warn rule)",
                   UNRESOLVED: "cannot be checked before deployment"}[result.status]
        for use in result.uses:
            commands.append(workflow_command(
                level, f"{result.reference} {verdict}: {result.reason}", title=TITLE,
                file=annotation_path(use.file, workspace), line=str(use.line)))
    return commands


def summary_markdown(results: Sequence[ImageResult], references: int,
                     workspace: str | None = None) -> str:
    """The job summary: a heading with the counts and one table row per image."""
    from signer.output import SUMMARY_CELL_LIMIT, markdown_code, markdown_text

    rows = ["| result | image | digest | rule → validator | signatures | why | where |",
            "|---|---|---|---|---|---|---|"]
    for result in results:
        places = "<br>".join(markdown_code(f"{annotation_path(u.file, workspace)}:{u.line}")
                             for u in result.uses)
        rows.append("| " + " | ".join([
            markdown_text(result.status), markdown_code(result.reference),
            markdown_code(result.digest) if result.digest else "-",
            markdown_code(_rule(result)), markdown_text(_signatures(result)),
            markdown_text(result.reason, SUMMARY_CELL_LIMIT), places]) + " |")
    return (f"### {TITLE}\n\n{markdown_text(counts_line(results, references))}\n\n"
            + "\n".join(rows) + "\n")
