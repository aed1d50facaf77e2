"""The action's gate mode (issue 18, Output), end to end through the runner emulator:
the fixture repository of ``signer gate``'s tests (images on the real registry signed
by two keys and two keyless identities on the local stack) checked out into the job's
workspace, the action run with ``mode: gate``; the annotations on the lines that name
a refused image, the job-summary table, the ``results`` output and the exit code; a
run where every image passes; a warn rule; ``changed-from`` over a git history; and
bad inputs, each refused in one line with the outputs still written."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from signer.testing.runner import ActionRun
from tests.integration.action.conftest import GITHUB_TOKEN, ActionHarness, assert_no_secrets
from tests.integration.gate.conftest import FixtureRepo

pytestmark = pytest.mark.slow

POLICY = "policy/values.yaml"
ROW_KEYS = {"image", "digest", "result", "reason", "rule", "validator", "validatorType",
            "signatures", "trustRootReasons", "attestations", "locations"}


def checkout(repo: FixtureRepo, *, files: dict[str, str] | None = None,
             whole: bool = True) -> Callable[[Path], None]:
    """Fill a workspace with the fixture repository (unless ``whole`` is False), the
    cluster's policy at :data:`POLICY` and any extra ``files``."""
    def fill(workspace: Path) -> None:
        if whole:
            shutil.copytree(repo.root, workspace, dirs_exist_ok=True)
        (workspace / "policy").mkdir()
        shutil.copy(repo.policy, workspace / POLICY)
        for name, text in (files or {}).items():
            (workspace / name).parent.mkdir(parents=True, exist_ok=True)
            (workspace / name).write_text(text)
    return fill


def gate_inputs(repo: FixtureRepo, **extra: str) -> dict[str, str]:
    """mode: gate against the fixture registry, with the local stack's trusted root."""
    return {"mode": "gate", "policy": POLICY, "trusted-root": str(repo.trusted_root),
            "allow-insecure-registry": repo.registry, **extra}


def rows_of(run: ActionRun) -> dict[str, dict[str, Any]]:
    rows = json.loads(run.outputs["results"])
    assert all(set(row) == ROW_KEYS for row in rows), rows
    return {row["image"]: row for row in rows}


def annotations(run: ActionRun, level: str) -> list[str]:
    return [line for line in run.raw_log.splitlines() if line.startswith(f"::{level} ")]


def places(row: dict[str, Any]) -> list[str]:
    return sorted(f"{loc['file']}:{loc['line']}" for loc in row["locations"])


def run_workspace(run: ActionRun) -> str:
    """The workspace the run had (the parent of its ``runner.temp``)."""
    return str(Path(run.outputs["report"]).parent.parent / "workspace")


def pod(*images: str) -> str:
    return ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
            + "".join(f"  - image: {image}\n" for image in images))


def test_refused_images_are_annotated_on_their_lines(action: ActionHarness,
                                                     fixture_repo: FixtureRepo) -> None:
    repo = fixture_repo
    run = action.run(gate_inputs(repo), checkout=checkout(repo))
    assert run.exit_code == 1, run.log
    assert "Traceback" not in run.raw_log
    api = repo.images["api"].repository_name
    errors = annotations(run, "error")
    # each line that names a refused image: api, fork, mail, unsigned, redis, noprov,
    # and the unresolved ${APP_TAG} reference
    assert (f"::error title=signer gate,file=deploy/app.yaml,line=10::{api}:v1 refused: "
            "missing required signatures from 'bob'") in errors
    assert sorted(e.split("::")[1].split(",", 1)[1] for e in errors) == sorted([
        "file=deploy/app.yaml,line=10", "file=.github/workflows/ci.yml,line=5",
        "file=compose.yaml,line=5", "file=Dockerfile,line=4", "file=compose.yaml,line=7",
        "file=deploy/attested.yaml,line=10", "file=compose.yaml,line=9"])
    [warning] = [w for w in annotations(run, "warning") if "signer gate" in w]
    assert warning.startswith("::warning title=signer gate,file=.github/workflows/ci.yml,"
                              f"line=8::{repo.images['tool'].repository_name}:v1 would be "
                              "refused (warn rule)")

    rows = rows_of(run)
    assert len(rows) == 13
    row = rows[f"{api}:v1"]
    assert row["result"] == "fail" and row["digest"] == repo.digests["api"]
    # signer signs in both formats (.sig and a bundle referrer): count what is found
    assert row["validator"] == "keys" and row["signatures"]["bob"] == 0
    assert row["signatures"]["alice"] >= 1
    assert row["locations"] == [{"file": "deploy/app.yaml", "line": 10, "kind": "kubernetes",
                                 "written": str(repo.images["api"])}]
    app = rows[f"{repo.images['app'].repository_name}:v1"]
    assert app["result"] == "pass" and min(app["signatures"].values()) >= 1
    assert set(app["signatures"]) == {"alice", "bob"}
    assert places(app) == [".github/workflows/ci.yml:10", "Dockerfile:2",
                           "deploy/app.yaml:13"]
    assert sorted(r["result"] for r in rows.values()) == (
        ["fail"] * 6 + ["pass"] * 5 + ["unresolved", "warn"])
    assert run.outputs["verified"] == "false"

    summary = run.summary
    assert summary.startswith("### signer gate\n")
    assert "13 images in 15 references: 5 passed, 6 refused, 1 warned, 1 unresolved" in \
        summary.replace("\\", "")
    table = [line for line in summary.splitlines() if line.startswith("| ")]
    assert len(table) == 14  # the header and one row per image
    api_row = next(line for line in table if f"`{api}:v1`" in line)
    assert api_row.startswith("| fail |") and "`deploy/app.yaml:10`" in api_row
    assert f"`{repo.digests['api']}`" in api_row

    report = json.loads(Path(run.outputs["report"]).read_text())
    assert report["mode"] == "gate" and report["success"] is False
    assert report["policy"] == POLICY and report["paths"] == ["."]
    assert report["images"] == json.loads(run.outputs["results"])
    # the log has the table, every place of every image, and the counts
    assert "    at deploy/app.yaml:10 (kubernetes)" in run.log
    assert_no_secrets(run, [GITHUB_TOKEN, action.stack.token_request_token])


def test_every_image_passes(action: ActionHarness, fixture_repo: FixtureRepo) -> None:
    repo = fixture_repo
    images = (str(repo.images["app"]), str(repo.images["web"]), "registry.k8s.io/pause:3.9")
    run = action.run(gate_inputs(repo, paths="deploy"), checkout=checkout(
        repo, whole=False, files={"deploy/ok.yaml": pod(*images)}))
    assert run.exit_code == 0, run.log
    assert annotations(run, "error") == [] and annotations(run, "warning") == []
    rows = rows_of(run)
    assert [row["result"] for row in rows.values()] == ["pass", "pass", "pass"]
    assert [places(row) for row in rows.values()] == [
        ["deploy/ok.yaml:7"], ["deploy/ok.yaml:8"], ["deploy/ok.yaml:9"]]
    assert run.outputs["verified"] == "true"
    assert "3 images in 3 references: 3 passed, 0 refused" in run.summary


def test_a_warn_rule_annotates_without_failing(action: ActionHarness,
                                               fixture_repo: FixtureRepo) -> None:
    repo = fixture_repo
    tool, app = repo.images["tool"], repo.images["app"]
    run = action.run(gate_inputs(repo, paths="k8s/pod.yaml"), checkout=checkout(
        repo, whole=False, files={"k8s/pod.yaml": pod(str(app), str(tool))}))
    assert run.exit_code == 0, run.log
    assert annotations(run, "error") == []
    [warning] = annotations(run, "warning")
    assert warning.startswith(f"::warning title=signer gate,file=k8s/pod.yaml,line=8::"
                              f"{tool.repository_name}:v1 would be refused (warn rule): ")
    rows = rows_of(run)
    row = rows[f"{tool.repository_name}:v1"]
    assert row["result"] == "warn" and row["rule"]["mode"] == "warn"
    assert "no signatures found" in row["reason"]
    assert run.outputs["verified"] == "true"
    assert "1 passed, 0 refused, 1 warned" in run.summary


def test_changed_from_checks_only_the_changed_files(action: ActionHarness,
                                                    fixture_repo: FixtureRepo,
                                                    tmp_path: Path) -> None:
    """A pull request that changes compose.yaml: with its base commit as
    ``changed-from``, only compose.yaml's images are checked (redis:8 is refused)."""
    repo = fixture_repo
    origin = tmp_path / "origin"
    checkout(repo)(origin)

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e.x", *args],
                              cwd=origin, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-q", "-m", "base")
    base_sha = git("rev-parse", "HEAD")
    compose = origin / "compose.yaml"
    compose.write_text(compose.read_text().replace("redis:7", "redis:8"))
    git("commit", "-q", "-am", "bump redis")

    def clone(workspace: Path) -> None:
        shutil.copytree(origin, workspace, dirs_exist_ok=True, symlinks=True)

    run = action.run(gate_inputs(repo, **{"changed-from": base_sha}), checkout=clone)
    assert run.exit_code == 1, run.log
    rows = rows_of(run)
    assert {loc["file"] for row in rows.values() for loc in row["locations"]} == {
        "compose.yaml"}
    assert rows["index.docker.io/library/redis:8"]["result"] == "fail"
    assert "1 file(s) changed since" in run.log
    assert json.loads(Path(run.outputs["report"]).read_text())["changed_from"] == base_sha

    # a commit the checkout does not have (fetch-depth 1): git's reason, in one line
    missing = "0" * 40
    run = action.run(gate_inputs(repo, **{"changed-from": missing}), checkout=clone)
    assert run.exit_code == 1  # as signer gate --changed-from
    [error] = annotations(run, "error")
    assert error.startswith("::error title=signer gate::changed-from: git merge-base "
                            "failed: "), error
    assert error.endswith("(actions/checkout fetch-depth: 0)")
    [row] = json.loads(run.outputs["results"])
    assert row["result"] == "error" and row["reason"].startswith("changed-from: git")
    assert run.outputs["verified"] == "false"


BAD_INPUTS: list[tuple[str, dict[str, str], str, str]] = [
    ("missing policy", {"policy": ""}, "policy", "required in gate mode"),
    ("policy outside the workspace", {"policy": "../outside.yaml"}, "policy",
     "is outside the workspace"),
    ("absolute policy outside", {"policy": "/etc/hostname"}, "policy",
     "is outside the workspace"),
    ("policy is a directory", {"policy": "policy"}, "policy", "is not a file"),
    ("missing path", {"paths": "deploy\nno-such-dir"}, "paths",
     "no such file or directory in the workspace: no-such-dir"),
    ("path outside", {"paths": "deploy, ../"}, "paths", "is outside the workspace"),
    ("ref read as an option", {"changed-from": "--output=/tmp/x"}, "changed-from",
     "expected a git ref or commit"),
    ("images in gate mode", {"images": "ghcr.io/o/r:1"}, "images", "not used in gate mode"),
]


@pytest.mark.parametrize(("inputs", "name", "message"),
                         [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_inputs_are_refused_in_one_line_with_outputs(
        action: ActionHarness, fixture_repo: FixtureRepo, inputs: dict[str, str],
        name: str, message: str) -> None:
    repo = fixture_repo

    def fill(workspace: Path) -> None:
        checkout(repo, whole=False, files={"deploy/pod.yaml": pod("x.example/a:1")})(workspace)
        (workspace.parent / "outside.yaml").write_text(repo.policy.read_text())

    run = action.run(gate_inputs(repo, **inputs), checkout=fill)
    assert run.exit_code == 2, run.log
    assert "Traceback" not in run.raw_log
    [error] = annotations(run, "error")
    assert error.startswith(f"::error title=signer%3A input '{name}'::"), error
    assert message in error
    assert "%0A" not in error  # one line
    [row] = json.loads(run.outputs["results"])
    assert set(row) == ROW_KEYS and row["result"] == "error" and row["image"] == ""
    assert row["reason"].startswith("invalid inputs: ") and message in row["reason"]
    assert run.outputs["verified"] == "false"
    assert json.loads(Path(run.outputs["report"]).read_text())["images"] == [row]
    assert "The inputs were refused; nothing ran:" in run.summary
    assert f"input `{name}`" in run.summary


def test_gate_inputs_in_verify_mode_are_refused(action: ActionHarness) -> None:
    run = action.run({"mode": "verify", "images": "ghcr.io/o/r:1", "policy": "values.yaml"})
    assert run.exit_code == 2
    assert annotations(run, "error") == [
        "::error title=signer%3A input 'policy'::only used in gate mode"]


def test_a_bad_policy_file_is_one_line_naming_file_and_line(
        action: ActionHarness, fixture_repo: FixtureRepo) -> None:
    repo = fixture_repo
    broken = repo.policy.read_text().replace("validator: keys", "validator: nobody", 1)
    run = action.run(gate_inputs(repo), checkout=checkout(
        repo, whole=False, files={POLICY: broken, "deploy/pod.yaml": pod("x.example/a:1")}))
    assert run.exit_code == 1 and "Traceback" not in run.raw_log  # as signer gate
    [error] = annotations(run, "error")
    assert error.startswith(f"::error title=signer gate::{POLICY}:"), error
    assert "nobody" in error and "%0A" in error  # the message, then the hint line
    [row] = json.loads(run.outputs["results"])
    assert row["result"] == "error" and row["reason"].startswith(f"{POLICY}:")
    assert run.outputs["verified"] == "false"
    assert "no image was checked" in run.summary


def test_a_link_out_of_the_workspace_is_not_read(action: ActionHarness,
                                                 fixture_repo: FixtureRepo) -> None:
    """A pull request cannot make the gate read a file of the runner through a link."""
    repo = fixture_repo

    def fill(workspace: Path) -> None:
        checkout(repo, whole=False, files={"deploy/ok.yaml": pod("registry.k8s.io/pause:3.9")}
                 )(workspace)
        secret = workspace.parent / "secret.yaml"
        secret.write_text(pod("secret.example/hidden:1"))
        (workspace / "deploy" / "link.yaml").symlink_to(secret)

    run = action.run(gate_inputs(repo), checkout=fill)
    assert run.exit_code == 0, run.log
    assert "secret.example" not in run.raw_log + run.outputs["results"] + run.summary
    assert annotations(run, "warning") == [
        "::warning title=signer gate,file=deploy/link.yaml::skipped deploy/link.yaml: links "
        f"outside {run_workspace(run)}; not read"]
    assert list(rows_of(run)) == ["registry.k8s.io/pause:3.9"]


def test_hostile_text_in_a_pull_request_is_shown_not_obeyed(
        action: ActionHarness, fixture_repo: FixtureRepo) -> None:
    """A changed file's image string that holds line breaks and workflow commands: the
    annotation on its line, the log, the summary and the outputs show it escaped; no
    line of the log is a command it smuggled in."""
    repo = fixture_repo
    compose = ('services:\n  a:\n    image: "evil.example/x:1\\r\\n::stop-commands::tok'
               '\\u2028::add-mask::hidden\\x1b[2J"\n')
    run = action.run(gate_inputs(repo), checkout=checkout(
        repo, whole=False, files={"compose.yaml": compose}))
    assert run.exit_code == 1, run.log
    lines = run.raw_log.splitlines()
    assert not any(line.startswith(("::stop-commands", "::add-mask::hidden")) for line in lines)
    assert not any("\x1b" in line or "\u2028" in line for line in lines)
    [error] = annotations(run, "error")
    assert error.startswith("::error title=signer gate,file=compose.yaml,line=3::")
    assert "\\r\\n::stop-commands::tok\\u2028::add-mask::hidden\\x1b[2J" in error
    assert "\r" not in run.summary and "\u2028" not in run.summary and "\x1b" not in run.summary
    [row] = json.loads(run.outputs["results"])
    assert row["result"] == "fail" and row["image"].startswith("evil.example/x:1\r\n")
    assert "hidden" not in run.masks
