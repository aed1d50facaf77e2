"""The action refuses a runner its lock has no wheels for, before anything is installed.

Runs the real ``action.yml`` through the runner emulator posing as other runners
(``runner.os``/``runner.arch``; a musl libc is shown to the check by an ``ldd`` that
answers as musl's does). On a supported runner the check passes and the run goes on.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from signer.testing.runner import ActionRun, run_action
from tests.integration.action.conftest import REPO_ROOT, action_python

LOCK = REPO_ROOT / ".github" / "action-requirements.txt"


def lock_platforms() -> list[str]:
    line = next(x for x in LOCK.read_text().splitlines() if x.startswith("# platforms:"))
    return line.split(":", 1)[1].split()


def run_as(tmp_path: Path, runner_os: str, runner_arch: str, *, musl: bool = False) -> ActionRun:
    path = os.environ["PATH"]
    if musl:
        fake = tmp_path / "musl-bin"
        fake.mkdir()
        ldd = fake / "ldd"
        ldd.write_text("#!/bin/sh\necho 'musl libc (x86_64)' >&2\necho 'Version 1.2.5' >&2\n"
                       "exit 1\n")
        ldd.chmod(0o755)
        path = f"{fake}{os.pathsep}{path}"
    (tmp_path / "temp").mkdir()
    env = {"PATH": path, "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    github = {"token": "ghs_platformTestToken0123456789", "actor": "octocat",
              "repository": "o/r", "server_url": "https://github.com"}
    return run_action(REPO_ROOT, {"mode": "verify"}, workspace=tmp_path, temp=tmp_path / "temp",
                      env=env, github=github, python=action_python(), runner_os=runner_os,
                      runner_arch=runner_arch)


@pytest.mark.parametrize(("runner_os", "runner_arch", "musl", "shown"), [
    ("macOS", "X64", False, "macOS-X64"),
    ("Windows", "ARM64", False, "Windows-ARM64"),
    ("Linux", "ARM", False, "Linux-ARM"),
    ("Linux", "X64", True, "Linux-X64-musl"),
])
def test_an_unsupported_runner_fails_first_with_one_line_naming_the_platforms(
        tmp_path: Path, runner_os: str, runner_arch: str, musl: bool, shown: str) -> None:
    run = run_as(tmp_path, runner_os, runner_arch, musl=musl)
    assert run.exit_code == 1
    assert [(s.id, s.outcome) for s in run.steps] == [
        ("platform", "failure"), ("python", "skipped"), ("install", "skipped"),
        ("run", "skipped")]
    errors = [line for line in run.log.splitlines() if line.startswith("::")]
    supported = " ".join(lock_platforms())
    assert errors == [
        "::error title=signer: unsupported runner::signer's action does not run on "
        f"{shown}: its pinned wheels cover {supported} (see Supported runners in "
        "signer's README)"]
    assert "hashes" not in run.log.lower()


@pytest.mark.parametrize("platform", ["Linux-X64", "Linux-ARM64", "macOS-ARM64",
                                      "Windows-X64"])
def test_a_supported_runner_passes_the_check_and_the_action_runs(
        tmp_path: Path, platform: str) -> None:
    assert platform in lock_platforms()
    runner_os, runner_arch = platform.split("-")
    run = run_as(tmp_path, runner_os, runner_arch)
    outcomes = {s.id: s.outcome for s in run.steps}
    assert outcomes["platform"] == "success"
    # the run step was reached: entrypoint.py refused the missing images itself
    assert outcomes["run"] == "failure"
    assert "input 'images'::required" in run.log


def test_the_action_runs_in_the_venv_its_own_install_step_made() -> None:
    """.ci/action-venv.sh ran action.yml's install step: the interpreter the tests hand
    to entrypoint.py has exactly the locked pins installed, and nothing from .venv."""
    python = action_python()
    listed = subprocess.run([python, "-m", "pip", "list", "--format=json",
                             "--disable-pip-version-check"],
                            capture_output=True, text=True, check=True, timeout=60)
    installed = {p["name"].lower(): p["version"] for p in json.loads(listed.stdout)}
    installed.pop("pip", None)
    installed.pop("setuptools", None)
    pins = {}
    for line in LOCK.read_text().splitlines():
        if "==" in line and not line.startswith(("#", " ")):
            name, version = line.split(" ")[0].split("==")
            pins[name.lower()] = version
    assert installed == pins
    assert Path(python).parent.parent.name == "signer-action-venv"
