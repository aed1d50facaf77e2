"""What the action reports (layer L5): a result per image, the step outputs, the
job summary and the JSON report.

Outside text reaches them only through the output boundary (:mod:`signer.output`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signer import output
from signer.action.console import Console, write_outputs
from signer.action.inputs import MODES, Inputs
from signer.action.policy import VerifyPolicy
from signer.action.values import FALSE_WORDS, InputProblem, input_value, split_images

PUBLIC_REKOR_URL = "https://rekor.sigstore.dev"


PUBLIC_SEARCH_URL = "https://search.sigstore.dev"


#: every output of action.yml (each is written on every run)
OUTPUTS = ("digest", "signature-ref", "bundle-path", "attestation-ref",
           "attestation-bundle-path", "rekor-log-index", "rekor-entry-url",
           "certificate-identity", "verified", "results", "report")


@dataclass
class ImageResult:
    """What happened to one image; one row group of the summary and the report."""

    image: str
    digest: str | None = None
    #: the signature made, or the first that passed (the signature-ref output)
    signature_ref: str | None = None
    #: every signature made or passing (``.sig`` tags and bundle referrers)
    signature_refs: list[str] = field(default_factory=list)
    identity: str | None = None
    issuer: str | None = None
    rekor_log_index: int | None = None
    rekor_entry_url: str | None = None
    bundle_path: str | None = None  # the Sigstore bundle written (bundle formats)
    #: attest: provenance -- the provenance attestation's referrer and bundle file
    attestation_ref: str | None = None
    attestation_bundle_path: str | None = None
    signed: bool = False
    verified: bool | None = None
    error: str | None = None
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        """True if nothing failed for this image."""
        return self.error is None and self.verified is not False

    def result_text(self) -> str:
        """The summary's result cell."""
        if self.error:
            return f"❌ failed: {self.error}"
        parts = []
        if self.signed:
            parts.append("signed")
        if self.verified:
            parts.append("verified")
        return "✅ " + " and ".join(parts) if parts else "-"

    def as_json(self) -> dict[str, Any]:
        """The entry of the ``results`` output and of the report."""
        refs = self.signature_refs or ([self.signature_ref] if self.signature_ref else [])
        return {
            "image": self.image, "digest": self.digest, "signed": self.signed,
            "verified": bool(self.verified), "signature_refs": refs,
            "certificate_identity": self.identity, "certificate_oidc_issuer": self.issuer,
            "rekor_log_index": self.rekor_log_index, "rekor_entry_url": self.rekor_entry_url,
            "attestation_ref": self.attestation_ref,
            "error": self.error, "exit_code": self.exit_code,
        }


def rekor_entry_url(rekor_url: str | None, log_index: int | None) -> str | None:
    """A link to a Rekor entry: search.sigstore.dev for the public log, else the API."""
    if log_index is None:
        return None
    base = (rekor_url or PUBLIC_REKOR_URL).rstrip("/")
    if base == PUBLIC_REKOR_URL:
        return f"{PUBLIC_SEARCH_URL}/?logIndex={log_index}"
    return f"{base}/api/v1/log/entries?logIndex={log_index}"


def _cell(value: object) -> str:
    return output.markdown_text("-" if value is None or value == "" else value,
                                output.SUMMARY_CELL_LIMIT)


def _code(value: object) -> str:
    return ("-" if value is None or value == ""
            else output.markdown_code(value, output.SUMMARY_CELL_LIMIT))


def render_summary(mode: str, results: Sequence[ImageResult],
                   policy: VerifyPolicy | None) -> str:
    """The Markdown job summary: a heading, the policy, a table per image.

    Every value goes through the output boundary: it cannot break the table, open a
    code span, a link or an HTML tag.
    """
    ok = all(r.ok for r in results)
    lines = [f"## signer {mode}: {'✅ success' if ok else '❌ failure'}", ""]
    if policy is not None:
        lines += [f"Verification policy: {policy.describe()}.", ""]
    for result in results:
        link = (output.markdown_link(result.rekor_log_index, result.rekor_entry_url)
                if result.rekor_entry_url else _cell(result.rekor_log_index))
        lines += [
            f"### {_code(result.image)}", "",
            "| | |", "|---|---|",
            f"| Digest | {_code(result.digest)} |",
            f"| Signature | {_code(result.signature_ref)} |",
            *([f"| Provenance attestation | {_code(result.attestation_ref)} |"]
              if result.attestation_ref else []),
            f"| Identity | {_cell(result.identity)} |",
            f"| Issuer | {_cell(result.issuer)} |",
            f"| Rekor entry | {link} |",
            f"| Result | {_cell(result.result_text())} |",
            "",
        ]
    return "\n".join(lines)


def write_report(directory: Path, mode: str, results: Sequence[ImageResult],
                 policy: VerifyPolicy | None) -> Path:
    """Write the JSON report in ``directory`` and return its path."""
    return write_json_report(directory, {
        "mode": mode,
        "success": all(r.ok for r in results),
        "policy": None if policy is None else policy.as_json(),
        "images": [r.as_json() for r in results],
    })


def write_json_report(directory: Path, document: Mapping[str, Any]) -> Path:
    """Write ``document`` (every string neutralised) as a new JSON file in ``directory``
    and return its path."""
    report = output.report_value(document)
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="signer-report-", suffix=".json", dir=directory)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(report, out, indent=2)
        out.write("\n")
    return Path(name)


def publish(inputs: Inputs | None, mode: str, results: Sequence[ImageResult],
            policy: VerifyPolicy | None, env: Mapping[str, str], console: Console,
            summary: str | None = None) -> None:
    """Write the step outputs, the job summary (unless ``show-summary: false``) and the
    JSON report; ``summary`` replaces the per-image tables (refused inputs)."""
    report = write_report(report_directory(env), mode, results, policy)
    first = results[0] if results else ImageResult("")
    verified = bool(results) and all(r.verified for r in results)
    outputs = {
        "digest": first.digest or "",
        "signature-ref": first.signature_ref or "",
        "bundle-path": first.bundle_path or "",
        "attestation-ref": first.attestation_ref or "",
        "attestation-bundle-path": first.attestation_bundle_path or "",
        "rekor-log-index": "" if first.rekor_log_index is None else str(first.rekor_log_index),
        "rekor-entry-url": first.rekor_entry_url or "",
        "certificate-identity": first.identity or "",
        "verified": "true" if verified else "false",
        "results": json.dumps([r.as_json() for r in results]),
        "report": str(report),
    }
    write_step_outputs(inputs, env, console, outputs,
                       summary or render_summary(mode, results, policy))


def report_directory(env: Mapping[str, str]) -> Path:
    """Where the JSON report goes: ``runner.temp``."""
    return Path(env.get("RUNNER_TEMP") or tempfile.gettempdir())


def write_step_outputs(inputs: Inputs | None, env: Mapping[str, str], console: Console,
                       outputs: Mapping[str, str], summary: str) -> None:
    """Write every step output (those not in ``outputs`` empty, so that each output of
    action.yml is set), then the job summary unless ``show-summary: false``."""
    values = dict.fromkeys(OUTPUTS, "") | dict(outputs)
    if env.get("GITHUB_OUTPUT"):
        write_outputs(Path(env["GITHUB_OUTPUT"]), values)
    show = inputs.show_summary if inputs is not None else (
        input_value(env, "show-summary").lower() not in FALSE_WORDS - {""})
    if env.get("GITHUB_STEP_SUMMARY") and show:
        with Path(env["GITHUB_STEP_SUMMARY"]).open("a", encoding="utf-8") as handle:
            handle.write(fit_summary(summary, values["report"]) + "\n")
    if values["report"]:
        console.line(f"report: {values['report']}")


#: Most bytes of job summary one run writes: GitHub drops a step's whole summary above
#: 1 MiB, and many images failing with long (hostile) reasons can pass it.
SUMMARY_BYTES_LIMIT = 1000 * 1000


def fit_summary(summary: str, report: str) -> str:
    """``summary`` cut after the last image section that fits :data:`SUMMARY_BYTES_LIMIT`,
    with a line saying how many images are left out and where they are (the JSON report,
    the ``results`` output)."""
    data = summary.encode("utf-8")
    if len(data) <= SUMMARY_BYTES_LIMIT:
        return summary
    head = data[:SUMMARY_BYTES_LIMIT - 2000].decode("utf-8", errors="ignore")
    cut = head.rfind("\n### ")
    shown = head[:cut] if cut > 0 else head[:max(head.rfind("\n"), 0)]
    left = summary[len(shown):].count("\n### ")
    where = f"the JSON report {output.markdown_code(report)}" if report else "the JSON report"
    return (shown + f"\n\n**The summary is cut here: {left} more images are not shown** "
            f"(GitHub keeps at most 1 MiB of a step's summary); every image is in {where} and "
            "the `results` output.")


def refused_inputs(env: Mapping[str, str], problems: Sequence[InputProblem]
                   ) -> tuple[str, list[ImageResult], str]:
    """For inputs that were refused: the mode, one failed result per image named (or one
    without an image) carrying every problem, and the summary listing them."""
    mode = input_value(env, "mode").lower()
    mode = mode if mode in MODES else "sign"
    error = "invalid inputs: " + "; ".join(f"{p.name}: {p.message}" for p in problems)
    images = split_images(env.get("INPUT_IMAGES", "")) or [""]
    results = [ImageResult(image, verified=False, error=error, exit_code=2) for image in images]
    lines = [f"## signer {mode}: ❌ failure", "", "The inputs were refused; nothing ran:", ""]
    lines += [f"- input {output.markdown_code(p.name)}: {_cell(p.message)}" for p in problems]
    return mode, results, "\n".join(lines) + "\n"


def exit_code_of(results: Sequence[ImageResult]) -> int:
    return next((r.exit_code or 1 for r in results if not r.ok), 0)
