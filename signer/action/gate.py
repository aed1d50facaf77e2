"""The action's gate mode (layer L5): every image the checked-out files deploy,
checked against a Connaisseur policy, as ``signer gate --output github`` does.

The same code as the CLI's: :func:`signer.gate.policy.load_policy`,
:func:`signer.git.changed_files`, :func:`signer.gate.discovery.discover` and the L4
flow :func:`signer.gating.evaluate`; what is shown comes from
:mod:`signer.gate_report` (annotations on the lines that name a refused image, the
job-summary table) through the output boundary. This module adds only what the
action has: the workspace (every file read is inside it; locations are shown
relative to it), the step outputs and the JSON report.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signer import gate_report
from signer.action.console import Console
from signer.action.inputs import Inputs
from signer.action.material import RunMaterial
from signer.action.report import report_directory, write_json_report, write_step_outputs

if TYPE_CHECKING:
    from signer.gate.discovery import FileProblem, ImageUse
    from signer.gating import ImageResult
    from signer.registry.client import RegistryClient

#: the ``result`` of a row when the gate could not judge any image (bad inputs, a
#: policy that cannot be read, git failing): never a verdict on an image
ERROR = "error"


def error_row(message: str) -> dict[str, Any]:
    """The one ``results`` row of a run that judged no image, in the rows' schema."""
    from signer.gating import ImageResult

    return ImageResult("", [], ERROR, message).to_json()


def relative_uses(uses: Sequence[ImageUse], workspace: str) -> list[ImageUse]:
    """``uses`` with each file named relative to the workspace (as annotations want)."""
    return [dataclasses.replace(use, file=gate_report.annotation_path(use.file, workspace))
            for use in uses]


class GateRun:
    """One gate-mode run: discover, evaluate, report."""

    def __init__(self, inputs: Inputs, env: Mapping[str, str], console: Console) -> None:
        assert inputs.gate is not None
        self.inputs = inputs
        self.gate = inputs.gate
        self.env = env
        self.console = console
        self.material = RunMaterial(inputs, env, console)

    def run(self, client: RegistryClient) -> int:
        """Judge every image and publish; returns the exit code (0: every image passed
        or only warned, 1: one was refused; an error's own code when none was judged)."""
        from signer.errors import Error
        from signer.gate.discovery import discover
        from signer.gate.policy import load_policy
        from signer.gating import GateOptions, evaluate
        from signer.git import changed_files

        gate = self.gate
        try:
            policy = load_policy(gate.policy.resolved, gate.policy.shown)
            only = None
            if gate.changed_from is not None:
                only = changed_files(gate.changed_from, gate.workspace, "changed-from")
                self.console.line(f"{len(only)} file(s) changed since {gate.changed_from}")
            with self.console.group("Find images"):
                uses, problems = discover([p.resolved for p in gate.paths], only,
                                          within=gate.workspace)
                uses = relative_uses(uses, gate.workspace)
                self.warn_skipped(problems)
                self.console.line(f"{len(uses)} image reference(s) in "
                                  f"{', '.join(p.shown for p in gate.paths)}")
            options = GateOptions(trust=self.material.trusted_root(),
                                  signature_repository=self.inputs.signature_repository)
        except Error as error:
            self.console.error(error.message, title="signer gate", hint=error.hint)
            self.publish_error(error.message)
            return error.exit_code
        with self.console.group("Verify images against the policy"):
            results = evaluate(client, policy, uses, options)
            for line in gate_report.table_lines(results):
                self.console.line(line)
        self.console.commands(gate_report.annotation_commands(results, gate.workspace))
        self.console.line(gate_report.counts_line(results, len(uses)))
        self.publish(results, len(uses), problems)
        return 1 if any(result.fails_run for result in results) else 0

    def warn_skipped(self, problems: Sequence[FileProblem]) -> None:
        """A warning on each file that could not be read, named relative to the
        workspace."""
        prefix = os.path.join(self.gate.workspace, "")
        for problem in problems:
            # the file as found below the workspace (a link is not resolved: it may lead out)
            shown = os.path.relpath(problem.file, self.gate.workspace).replace(os.sep, "/")
            self.console.warning(f"skipped {problem.message.replace(prefix, '')}",
                                 title=gate_report.TITLE, file=shown)

    def publish(self, results: Sequence[ImageResult], references: int,
                problems: Sequence[FileProblem]) -> None:
        """The step outputs, the job summary and the JSON report of a judged run."""
        rows = [result.to_json() for result in results]
        passed = not any(result.fails_run for result in results)
        report = self.write_report(passed, rows, [
            {"file": os.path.relpath(p.file, self.gate.workspace).replace(os.sep, "/"),
             "error": p.message} for p in problems])
        write_step_outputs(self.inputs, self.env, self.console, {
            "verified": "true" if passed else "false", "results": json.dumps(rows),
            "report": str(report)},
            gate_report.summary_markdown(results, references, self.gate.workspace))

    def publish_error(self, message: str) -> None:
        """The outputs of a run that judged no image: one error row, not verified."""
        rows = [error_row(message)]
        report = self.write_report(False, rows, [])
        summary = (f"### {gate_report.TITLE}\n\n❌ no image was checked: "
                   f"{output_text(message)}\n")
        write_step_outputs(self.inputs, self.env, self.console, {
            "verified": "false", "results": json.dumps(rows), "report": str(report)},
            summary)

    def write_report(self, passed: bool, rows: list[dict[str, Any]],
                     skipped: list[dict[str, str]]) -> Path:
        """The JSON report: what was asked (policy, paths, base ref) and every row."""
        gate = self.gate
        return write_json_report(report_directory(self.env), {
            "mode": "gate", "success": passed, "policy": gate.policy.shown,
            "paths": [p.shown for p in gate.paths], "changed_from": gate.changed_from,
            "images": rows, "skipped": skipped})


def output_text(message: str) -> str:
    """``message`` as literal Markdown, cut to a summary cell's length."""
    from signer.output import SUMMARY_CELL_LIMIT, markdown_text

    return markdown_text(message, SUMMARY_CELL_LIMIT)


def publish_refused(env: Mapping[str, str], console: Console, summary: str,
                    message: str) -> None:
    """Outputs when the gate-mode inputs were refused: one error row, the summary
    listing the problems, and the JSON report."""
    rows = [error_row(message)]
    report = write_json_report(report_directory(env), {
        "mode": "gate", "success": False, "images": rows, "skipped": []})
    write_step_outputs(None, env, console, {
        "verified": "false", "results": json.dumps(rows), "report": str(report)}, summary)
