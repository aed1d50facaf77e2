"""The job summary stays under GitHub's 1 MiB per step, however many images failed
with however long (hostile) reasons: above it GitHub drops the whole summary."""

from __future__ import annotations

import io
from pathlib import Path

from signer.action.console import Console
from signer.action.report import SUMMARY_BYTES_LIMIT, ImageResult, publish

GITHUB_SUMMARY_LIMIT = 1024 * 1024


def test_many_failing_images_with_long_reasons_fit_the_summary(tmp_path: Path) -> None:
    reason = "|<`" * 400  # escaping doubles it; the cell limit cuts it to 1000 characters
    results = [ImageResult(f"registry.example/app-{n}:v1", digest="sha256:" + "a" * 64,
                           identity=reason, issuer=reason, verified=False, error=reason,
                           exit_code=12) for n in range(400)]
    summary = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(tmp_path),
           "GITHUB_OUTPUT": str(tmp_path / "output")}
    publish(None, "verify", results, None, env, Console(io.StringIO()))
    text = summary.read_text(encoding="utf-8")
    assert len(text.encode()) <= SUMMARY_BYTES_LIMIT < GITHUB_SUMMARY_LIMIT
    assert "app-0:v1" in text  # the first images are shown
    assert "more images" in text and "JSON report" in text  # and it says where the rest are
    assert text.count("```") % 2 == 0


def test_a_small_summary_is_written_whole(tmp_path: Path) -> None:
    results = [ImageResult(f"registry.example/app-{n}:v1", verified=False, error="no",
                           exit_code=12) for n in range(3)]
    summary = tmp_path / "summary.md"
    publish(None, "verify", results, None, {"GITHUB_STEP_SUMMARY": str(summary),
                                            "RUNNER_TEMP": str(tmp_path)},
            Console(io.StringIO()))
    text = summary.read_text(encoding="utf-8")
    assert all(f"app-{n}:v1" in text for n in range(3)) and "more images" not in text
