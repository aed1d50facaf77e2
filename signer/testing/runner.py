"""Run a composite action the way a GitHub Actions runner does, without GitHub.

What is emulated faithfully:

* ``action.yml`` is read; input defaults are applied and ``with:`` values override them;
* every ``${{ ... }}`` in ``env:``, ``with:``, ``shell:``/``working-directory:`` and the
  action's ``outputs:`` is evaluated against the contexts ``inputs``, ``github``,
  ``runner``, ``env`` and ``steps`` -- only property references are supported, and an
  unknown context, input, step or output is an error, not an empty string (that catches
  typos the real runner would silently turn into "");
* each ``run:`` step is written to a script file and run with its ``shell`` using the
  runner's command template (bash: ``bash --noprofile --norc -eo pipefail {0}``), with
  fresh ``GITHUB_OUTPUT``, ``GITHUB_ENV``, ``GITHUB_PATH`` and ``GITHUB_STEP_SUMMARY``
  files per step, read back afterwards (``name=value`` and ``name<<DELIM`` forms);
* the log is processed as the runner does: ``::add-mask::`` lines register secrets and
  are not shown, and every registered secret is replaced by ``***`` in later lines;
* the ``runner`` context has ``os``, ``arch`` and ``temp`` (and the step environment
  ``RUNNER_OS``/``RUNNER_ARCH``/``RUNNER_TEMP``), so a test can pose as another runner.

What is not: ``uses:`` steps cannot run here; ``actions/setup-python`` is replaced by an
interpreter of this machine (its ``python-path`` output). The action's own install
step (a venv, then ``pip install --require-hashes --only-binary=:all:`` from the lock)
needs the package index, so :func:`install_action_venv` runs it -- the step exactly as
``action.yml`` has it, through this emulator -- once, from ``.ci/action-venv.sh``;
tests and the demo then skip that step and get its ``python`` output from that venv
(:data:`ACTION_VENV_PYTHON`). Any other ``uses:`` step is an error.

:func:`github_job` lays out what a GitHub-hosted job gives a step (workspace, temp, a
clean home, ``GITHUB_*`` and the ``id-token: write`` variables); :func:`run_job_action`
runs this checkout's ``action.yml`` in it. The action's tests and ``bash .ci/demo.sh``
both use them.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
PROPERTY_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*$")
#: the checkout: action.yml, entrypoint.py and the package (the emulator runs from one)
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
#: where .ci/action-venv.sh runs the action's install step (``runner.temp`` for it)
ACTION_RUNNER_TEMP = REPOSITORY_ROOT / ".action-runner"
#: the interpreter of the venv that step made (POSIX layout: .ci runs on Linux)
ACTION_VENV_PYTHON = ACTION_RUNNER_TEMP / "signer-action-venv" / "bin" / "python"
SHELLS = {
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"],
    "sh": ["sh", "-e", "{0}"],
    "python": ["python", "{0}"],
}


class ExpressionError(Exception):
    """An expression the emulator cannot (or must not) evaluate."""


@dataclass
class StepRecord:
    """One step as it ran: outcome, outputs, its log lines (masked)."""

    id: str | None
    name: str
    outcome: str
    exit_code: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    skipped_reason: str | None = None


@dataclass
class ActionRun:
    """Everything a runner would show or keep after running the action."""

    exit_code: int
    outputs: dict[str, str]
    summary: str
    log: str
    raw_log: str
    masks: list[str]
    steps: list[StepRecord]
    files: list[Path]

    @property
    def succeeded(self) -> bool:
        """True if every step succeeded."""
        return self.exit_code == 0


def parse_command_file(text: str) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT / GITHUB_ENV file as the runner does."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            while True:
                if index >= len(lines):
                    raise ValueError(f"unterminated multi-line value for {name!r}")
                current = lines[index]
                index += 1
                if current == delimiter:
                    break
                body.append(current)
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        else:
            raise ValueError(f"malformed command file line: {line!r}")
    return values


def unescape_command(text: str) -> str:
    """Undo the workflow-command escaping of a message."""
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


class Emulator:
    """Runs the steps of one composite action."""

    def __init__(self, action_dir: Path, *, workspace: Path, temp: Path,
                 base_env: Mapping[str, str], github: Mapping[str, str],
                 skipped_steps: Mapping[str, Mapping[str, str]],
                 runner_os: str = "Linux", runner_arch: str = "X64",
                 last_step: str | None = None) -> None:
        self.action_dir = action_dir
        self.action: dict[str, Any] = yaml.safe_load((action_dir / "action.yml").read_text())
        self.workspace = workspace
        self.temp = temp
        self.base_env = dict(base_env)
        self.github = {"action_path": str(action_dir), "workspace": str(workspace), **github}
        self.skipped_steps = skipped_steps
        self.runner = {"temp": str(temp), "os": runner_os, "arch": runner_arch}
        self.last_step = last_step
        self.masks: list[str] = []
        self.raw_log: list[str] = []
        self.log: list[str] = []
        self.files: list[Path] = []

    # ------------------------------------------------------------------ expressions

    def evaluate(self, expression: str, contexts: Mapping[str, Any]) -> str:
        """Evaluate one expression body (a property path) to a string."""
        path = expression.strip()
        if not PROPERTY_PATH.match(path):
            raise ExpressionError(f"unsupported expression: {path!r}")
        parts = path.split(".")
        if parts[0] not in contexts:
            raise ExpressionError(f"unknown context {parts[0]!r} in {path!r}")
        value: Any = contexts[parts[0]]
        for part in parts[1:]:
            if not isinstance(value, Mapping) or part not in value:
                raise ExpressionError(f"unknown property {part!r} in {path!r}")
            value = value[part]
        if isinstance(value, Mapping):
            raise ExpressionError(f"{path!r} is an object, not a value")
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    def interpolate(self, text: Any, contexts: Mapping[str, Any]) -> str:
        """Replace every ``${{ }}`` in ``text``."""
        if not isinstance(text, str):
            return "true" if text is True else "false" if text is False else str(text)
        return EXPRESSION.sub(lambda m: self.evaluate(m.group(1), contexts), text)

    # ------------------------------------------------------------------ logging

    def _emit(self, line: str) -> None:
        self.raw_log.append(line)
        if line.startswith("::add-mask::"):
            secret = unescape_command(line[len("::add-mask::"):])
            if secret:
                self.masks.append(secret)
            return
        for secret in sorted(self.masks, key=len, reverse=True):
            line = line.replace(secret, "***")
        self.log.append(line)

    # ------------------------------------------------------------------ running

    def run(self, inputs: Mapping[str, str]) -> ActionRun:
        """Run every step in order; stop at the first failure as the runner does."""
        declared = self.action.get("inputs") or {}
        unknown = set(inputs) - set(declared)
        if unknown:
            raise ExpressionError(f"inputs not declared in action.yml: {sorted(unknown)}")
        resolved_inputs: dict[str, str] = {}
        base_contexts: dict[str, Any] = {
            "github": self.github, "runner": self.runner,
            "env": self.base_env,
        }
        for name, spec in declared.items():
            if name in inputs:
                resolved_inputs[name] = inputs[name]
            else:
                default = (spec or {}).get("default", "")
                resolved_inputs[name] = self.interpolate(default, base_contexts)
        steps_context: dict[str, dict[str, Any]] = {}
        env = dict(self.base_env)
        path_additions: list[str] = []
        summary_parts: list[str] = []
        records: list[StepRecord] = []
        exit_code = 0
        for index, step in enumerate(self.action["runs"]["steps"]):
            contexts = {"inputs": resolved_inputs, "steps": steps_context, **base_contexts,
                        "env": env}
            step_id = step.get("id")
            name = step.get("name") or step.get("uses") or f"step {index}"
            unsupported = {"if", "continue-on-error", "timeout-minutes"} & set(step)
            if unsupported:
                raise ExpressionError(f"step {name!r}: {sorted(unsupported)} not emulated")
            if exit_code != 0:
                records.append(StepRecord(step_id, name, "skipped"))
                continue
            if step_id in self.skipped_steps or "uses" in step:
                if step_id not in self.skipped_steps:
                    raise ExpressionError(f"cannot run uses: step {name!r} here")
                supplied = dict(self.skipped_steps[step_id])
                # still evaluate its expressions so that typos are caught
                for value in (step.get("env") or {}).values():
                    self.interpolate(value, contexts)
                for value in (step.get("with") or {}).values():
                    self.interpolate(value, contexts)
                steps_context[step_id] = {"outputs": supplied, "outcome": "success",
                                          "conclusion": "success"}
                records.append(StepRecord(step_id, name, "success", outputs=supplied,
                                          skipped_reason="not run here: its outputs are supplied"))
                continue
            record = self._run_step(step, name, contexts, env, path_additions, summary_parts)
            records.append(record)
            if step_id:
                steps_context[step_id] = {"outputs": record.outputs, "outcome": record.outcome,
                                          "conclusion": record.outcome}
            if record.outcome != "success":
                exit_code = record.exit_code or 1
            if self.last_step is not None and step_id == self.last_step:
                break
        outputs: dict[str, str] = {}
        final_contexts = {"inputs": resolved_inputs, "steps": steps_context, **base_contexts,
                          "env": env}
        for name, spec in (self.action.get("outputs") or {}).items():
            try:
                outputs[name] = self.interpolate(spec["value"], final_contexts)
            except ExpressionError:
                if exit_code == 0 and self.last_step is None:
                    raise
                outputs[name] = ""  # the step failed before setting it: the runner gives ""
        # Outputs and the summary are not masked by a runner: the tests check them raw.
        return ActionRun(exit_code=exit_code, outputs=outputs,
                         summary="".join(summary_parts),
                         log="\n".join(self.log), raw_log="\n".join(self.raw_log),
                         masks=list(self.masks), steps=records, files=list(self.files))

    def _new_file(self, prefix: str) -> Path:
        path = self.temp / "_runner_file_commands" / f"{prefix}_{uuid.uuid4().hex}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
        self.files.append(path)
        return path

    def _run_step(self, step: Mapping[str, Any], name: str, contexts: Mapping[str, Any],
                  env: dict[str, str], path_additions: list[str],
                  summary_parts: list[str]) -> StepRecord:
        shell = self.interpolate(step.get("shell", ""), contexts)
        if shell not in SHELLS:
            raise ExpressionError(f"step {name!r}: unsupported or missing shell {shell!r}")
        step_env = dict(env)
        for key, value in (step.get("env") or {}).items():
            step_env[key] = self.interpolate(value, contexts)
        if EXPRESSION.search(step["run"]):
            # the action must never interpolate into a script; the runner would allow it
            raise ExpressionError(f"step {name!r}: ${{{{ }}}} inside a run: body")
        files = {
            "GITHUB_OUTPUT": self._new_file("set_output"),
            "GITHUB_ENV": self._new_file("set_env"),
            "GITHUB_PATH": self._new_file("add_path"),
            "GITHUB_STEP_SUMMARY": self._new_file("step_summary"),
        }
        step_env.update({k: str(v) for k, v in files.items()})
        step_env["GITHUB_ACTION_PATH"] = str(self.action_dir)
        step_env["RUNNER_TEMP"] = str(self.temp)
        step_env["RUNNER_OS"] = self.runner["os"]
        step_env["RUNNER_ARCH"] = self.runner["arch"]
        step_env["GITHUB_WORKSPACE"] = str(self.workspace)
        step_env["GITHUB_ACTIONS"] = "true"
        if path_additions:
            step_env["PATH"] = os.pathsep.join([*reversed(path_additions), step_env["PATH"]])
        script = self.temp / f"step_{uuid.uuid4().hex}.sh"
        script.write_text(step["run"])
        argv = [part.replace("{0}", str(script)) for part in SHELLS[shell]]
        workdir = self.interpolate(step.get("working-directory", ""), contexts) or str(
            self.workspace)
        completed = subprocess.run(argv, cwd=workdir, env=step_env, capture_output=True,
                                   text=True, timeout=300, check=False)
        for line in (completed.stdout + completed.stderr).splitlines():
            self._emit(line)
        outputs = parse_command_file(files["GITHUB_OUTPUT"].read_text())
        env.update(parse_command_file(files["GITHUB_ENV"].read_text()))
        path_additions.extend(p for p in files["GITHUB_PATH"].read_text().splitlines() if p)
        summary_parts.append(files["GITHUB_STEP_SUMMARY"].read_text())
        outcome = "success" if completed.returncode == 0 else "failure"
        return StepRecord(step.get("id"), name, outcome, completed.returncode, outputs)


@dataclass
class Job:
    """The environment a GitHub-hosted job gives an action step, laid out under ``root``.

    ``env`` is the process environment (a fresh ``HOME`` and Docker config, so no
    credentials of this machine leak in; the ``id-token: write`` variables when the job
    has that permission), ``github`` the ``github`` context.
    """

    workspace: Path
    temp: Path
    env: dict[str, str]
    github: dict[str, str]


def github_job(root: Path, *, repository: str, github_token: str,
               id_token_endpoint: tuple[str, str] | None,
               extra_env: Mapping[str, str] | None = None, actor: str = "octocat") -> Job:
    """A job of ``repository`` on github.com with its ``GITHUB_TOKEN``.

    ``id_token_endpoint`` is (``ACTIONS_ID_TOKEN_REQUEST_URL``,
    ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``) -- e.g. the local stack's token endpoint -- or
    None for a job without ``id-token: write``.
    """
    workspace, temp, home = root / "workspace", root / "temp", root / "home"
    for directory in (workspace, temp, home / ".docker"):
        directory.mkdir(parents=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "DOCKER_CONFIG": str(home / ".docker"),
        "LANG": "C.UTF-8",
        "GITHUB_REPOSITORY": repository,
        "GITHUB_SERVER_URL": "https://github.com",
    }
    if id_token_endpoint is not None:
        env["ACTIONS_ID_TOKEN_REQUEST_URL"], env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = (
            id_token_endpoint)
    env.update(extra_env or {})
    github = {"token": github_token, "actor": actor, "repository": repository,
              "server_url": "https://github.com", "workspace": str(workspace)}
    return Job(workspace, temp, env, github)


def action_venv_python() -> str:
    """The interpreter of the venv made by the action's own install step.

    Raises FileNotFoundError (with the command that makes it) when it is missing.
    """
    if not ACTION_VENV_PYTHON.exists():
        raise FileNotFoundError("the action's venv is missing: run bash .ci/setup.sh "
                                "(it runs the action's install step, .ci/action-venv.sh)")
    return str(ACTION_VENV_PYTHON)


def run_job_action(job: Job, inputs: Mapping[str, str], *, runner_os: str = "Linux",
                   runner_arch: str = "X64") -> ActionRun:
    """Run this checkout's action.yml in ``job`` with the install step's interpreter."""
    return run_action(REPOSITORY_ROOT, inputs, workspace=job.workspace, temp=job.temp,
                      env=job.env, github=job.github, python=action_venv_python(),
                      runner_os=runner_os, runner_arch=runner_arch)


def run_action(action_dir: Path, inputs: Mapping[str, str], *, workspace: Path, temp: Path,
               env: Mapping[str, str], github: Mapping[str, str],
               python: str, runner_os: str = "Linux", runner_arch: str = "X64") -> ActionRun:
    """Run ``action_dir/action.yml`` with ``inputs``; see the module docstring.

    ``python`` is the interpreter the install step would have produced.
    """
    emulator = Emulator(
        action_dir, workspace=workspace, temp=temp, base_env=env, github=github,
        skipped_steps={
            "python": {"python-path": python, "python-version": "emulated"},
            "install": {"python": python},
        },
        runner_os=runner_os, runner_arch=runner_arch,
    )
    return emulator.run(inputs)


def install_action_venv(action_dir: Path, base_python: str, temp: Path = ACTION_RUNNER_TEMP,
                        env: Mapping[str, str] | None = None) -> ActionRun:
    """Run the action's steps up to and including ``install`` for real, as a Linux
    runner of this machine's architecture would, with ``base_python`` standing in for
    setup-python's interpreter.

    The venv ends up where the action puts it, under ``temp`` (``runner.temp``); the
    install step's ``python`` output is its interpreter.
    """
    temp.mkdir(parents=True, exist_ok=True)
    workspace = temp / "workspace"
    workspace.mkdir(exist_ok=True)
    base_env = dict(env if env is not None else os.environ)
    arch = {"x86_64": "X64", "amd64": "X64", "aarch64": "ARM64", "arm64": "ARM64"}.get(
        platform.machine().lower(), platform.machine())
    emulator = Emulator(
        action_dir, workspace=workspace, temp=temp, base_env=base_env,
        github={"token": "", "actor": "", "repository": "", "server_url": ""},
        skipped_steps={"python": {"python-path": base_python, "python-version": "local"}},
        runner_os="Linux", runner_arch=arch, last_step="install",
    )
    return emulator.run({})


def main(argv: list[str] | None = None) -> int:
    """``python -m signer.testing.runner --install``: see
    :func:`install_action_venv`; prints the log and the venv's interpreter."""
    parser = argparse.ArgumentParser(description="run the action's install step for real")
    parser.add_argument("--install", action="store_true", required=True)
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter setup-python would provide")
    args = parser.parse_args(argv)
    run = install_action_venv(REPOSITORY_ROOT, args.python)
    install = next((s for s in run.steps if s.id == "install"), None)
    if not run.succeeded or install is None or install.outcome != "success":
        print(run.log, file=sys.stderr)
        print("the action's install step failed", file=sys.stderr)
        return run.exit_code or 1
    print(install.outputs["python"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
