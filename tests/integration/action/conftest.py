"""Fixtures for running the composite action through the runner emulator."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from signer.testing.runner import ActionRun, action_venv_python, github_job, run_job_action
from signer.testing.stack import Stack
from tests.integration.gate.conftest import fixture_repo  # noqa: F401 (the gate's repository)
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[3]
#: the GitHub token the emulated runner hands to the action (must never be printed)
GITHUB_TOKEN = "ghs_emulatedRunnerTokenValue0123456789abcdef"
#: the repository whose workflows the local stack's tokens name
STACK_REPOSITORY = "octo-org/octo-repo"


@dataclass
class ActionHarness:
    """Runs action.yml with the inputs given, as a runner would, in fresh directories."""

    tmp: Path
    stack: Stack

    def run(self, inputs: Mapping[str, str], *, id_token: bool = True,
            repository: str = STACK_REPOSITORY,
            extra_env: Mapping[str, str] | None = None,
            runner_os: str = "Linux", runner_arch: str = "X64",
            checkout: Callable[[Path], None] | None = None) -> ActionRun:
        """Run the action; ``id_token`` False withholds the ``id-token: write`` variables;
        ``checkout`` fills the job's workspace first (as actions/checkout would).

        entrypoint.py runs with the interpreter of the venv the action's own install
        step made (``.ci/action-venv.sh``), as on a runner.
        """
        index = len(list(self.tmp.glob("run-*")))
        endpoint = (self.stack.token_request_url, self.stack.token_request_token)
        job = github_job(self.tmp / f"run-{index}", repository=repository,
                         github_token=GITHUB_TOKEN,
                         id_token_endpoint=endpoint if id_token else None,
                         extra_env=extra_env)
        if checkout is not None:
            checkout(job.workspace)
        return run_job_action(job, inputs, runner_os=runner_os, runner_arch=runner_arch)

    def stack_inputs(self) -> dict[str, str]:
        """Inputs pointing the action at the local Sigstore stack."""
        return {
            "fulcio-url": self.stack.fulcio_url,
            "rekor-url": self.stack.rekor_url,
            "trusted-root": str(self.stack.trusted_root_path),
        }


def action_python() -> str:
    """The interpreter of the venv made by the action's own install step."""
    try:
        return action_venv_python()
    except FileNotFoundError as missing:
        pytest.fail(str(missing))


@pytest.fixture
def action(tmp_path: Path, sigstore_stack: Stack) -> ActionHarness:  # noqa: F811
    """A harness running the real action.yml against the session's stack."""
    return ActionHarness(tmp_path, sigstore_stack)


def report_of(run: ActionRun) -> dict[str, object]:
    """The JSON report the action wrote."""
    path = Path(run.outputs["report"])
    data: dict[str, object] = json.loads(path.read_text())
    return data


def assert_no_secrets(run: ActionRun, secrets: Iterable[str]) -> None:
    """No secret in the outputs, the summary, the report, the shown log or any raw log line.

    ``::add-mask::`` command lines are the only place a secret may appear (the runner
    consumes them); every value the action masked counts as a secret too.
    """
    values = {s for s in secrets if s} | {m for m in run.masks if len(m) >= 8}
    places: dict[str, str] = {
        "outputs": json.dumps(run.outputs),
        "summary": run.summary,
        "log": run.log,
        "raw log": "\n".join(line for line in run.raw_log.splitlines()
                             if not line.startswith("::add-mask::")),
    }
    report = run.outputs.get("report")
    if report and Path(report).is_file():
        places["report"] = Path(report).read_text()
    for path in run.files:
        places[f"runner file {path.name}"] = path.read_text()
    hits = [(where, secret[:6] + "…") for where, text in places.items()
            for secret in values if secret in text]
    assert hits == [], f"secrets leaked: {hits}"


SecretCheck = Callable[[ActionRun, Iterable[str]], None]
