"""signer gate's GitHub output: annotations on the lines that name refused images, and
the job-summary table, with outside text defused."""

from __future__ import annotations

from pathlib import Path

from signer.gate.discovery import ImageUse
from signer.gate_report import (
    annotation_commands,
    annotation_path,
    summary_markdown,
    table_lines,
)
from signer.gating import ImageResult, TrustRootResult


def _result(status: str, reason: str, *uses: ImageUse, fails: bool = True) -> ImageResult:
    result = ImageResult("ghcr.io/o/app:1", list(uses), status, reason,
                         trust_roots=[TrustRootResult("alice", 0, "no")])
    result.unresolved_fails = fails
    return result


def test_one_annotation_per_line_naming_a_refused_or_warned_image(tmp_path: Path) -> None:
    a = ImageUse("ghcr.io/o/app:1", str(tmp_path / "k8s" / "app.yaml"), 12, "kubernetes")
    b = ImageUse("ghcr.io/o/app:1", str(tmp_path / "Dockerfile"), 3, "dockerfile")
    commands = annotation_commands([
        _result("fail", "missing required signatures from 'bob'", a, b),
        _result("warn", "no signatures", a),
        _result("pass", "signed", b),
        _result("unresolved", "${TAG} has no default", b, fails=False),
    ], workspace=str(tmp_path))
    assert commands == [
        "::error title=signer gate,file=k8s/app.yaml,line=12::ghcr.io/o/app:1 refused: "
        "missing required signatures from 'bob'",
        "::error title=signer gate,file=Dockerfile,line=3::ghcr.io/o/app:1 refused: "
        "missing required signatures from 'bob'",
        "::warning title=signer gate,file=k8s/app.yaml,line=12::ghcr.io/o/app:1 would be "
        "refused (warn rule): no signatures",
        "::warning title=signer gate,file=Dockerfile,line=3::ghcr.io/o/app:1 cannot be "
        "checked before deployment: ${TAG} has no default",
    ]


def test_hostile_text_cannot_inject_commands_or_break_the_table(tmp_path: Path) -> None:
    evil = ImageUse("x", str(tmp_path / "a,b:c.yaml"), 1, "compose")
    result = _result("fail", "bad\n::add-mask::octo\r\n%0A::stop-commands::zz | <b>x</b>", evil)
    [command] = annotation_commands([result], workspace=str(tmp_path))
    assert "\n" not in command and "\r" not in command
    assert command.startswith("::error title=signer gate,file=a%2Cb%3Ac.yaml,line=1::")
    assert "%250A" in command  # a literal %0A in the text cannot become a line break
    summary = summary_markdown([result], 1, workspace=str(tmp_path))
    row = summary.splitlines()[-1]
    assert "<b>" not in summary and "\\<b\\>" in row
    assert row.count(" | ") == 6  # seven cells: the '|' in the reason is escaped


def test_paths_outside_the_workspace_are_left_as_they_are(tmp_path: Path) -> None:
    assert annotation_path("/elsewhere/x.yaml", str(tmp_path)) == "/elsewhere/x.yaml"
    assert annotation_path(str(tmp_path / "d" / "x.yaml"), str(tmp_path)) == "d/x.yaml"


def test_a_huge_reason_is_shortened_in_the_summary(tmp_path: Path) -> None:
    use = ImageUse("ghcr.io/o/app:1", str(tmp_path / "Dockerfile"), 3, "dockerfile")
    text = summary_markdown([_result("fail", "x|" * 500_000, use)], 1, str(tmp_path))
    assert len(text) < 10_000 and "more characters" in text


def test_the_table_names_a_trust_roots_reason_once(tmp_path: Path) -> None:
    """A single trust root's reason is the verdict's reason: the block shows it once;
    other trust roots' reasons are still listed."""
    use = ImageUse("ghcr.io/o/app:1", str(tmp_path / "Dockerfile"), 3, "dockerfile")
    alone = ImageResult("ghcr.io/o/app:1", [use], "fail", "trust root 'alice': no",
                        trust_roots=[TrustRootResult("alice", 0, "no")])
    assert table_lines([alone])[2:] == ["    trust root 'alice': no",
                                        f"    at {use.location} (dockerfile)"]
    two = ImageResult("ghcr.io/o/app:1", [use], "fail", "missing required signatures",
                      trust_roots=[TrustRootResult("alice", 0, "no"),
                                   TrustRootResult("bob", 0, "expired")])
    assert table_lines([two])[2:5] == ["    missing required signatures",
                                       "    trust root 'alice': no",
                                       "    trust root 'bob': expired"]
