"""The runner emulator used by the action's integration tests behaves like a runner."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from signer.testing.runner import ActionRun, ExpressionError, run_action

ACTION = """
name: t
description: t
inputs:
  greeting:
    description: d
    default: hello
  secret:
    description: d
    default: ""
outputs:
  said:
    description: d
    value: ${{ steps.second.outputs.said }}
runs:
  using: composite
  steps:
    - id: first
      shell: bash
      env:
        GREETING: ${{ inputs.greeting }}
        TEMP: ${{ runner.temp }}
      run: |
        echo "FROM_FIRST=$GREETING world" >> "$GITHUB_ENV"
        mkdir -p "$TEMP/bin" && printf '#!/bin/sh\\necho tool-ran\\n' > "$TEMP/bin/mytool"
        chmod +x "$TEMP/bin/mytool" && echo "$TEMP/bin" >> "$GITHUB_PATH"
    - id: second
      shell: bash
      env:
        SECRET: ${{ inputs.secret }}
        EXTRA: ${{ EXTRA_EXPRESSION }}
      run: |
        echo "::add-mask::$SECRET"
        echo "the secret is $SECRET"
        mytool
        { echo "said<<EOF"; echo "$FROM_FIRST"; echo "two"; echo "EOF"; } >> "$GITHUB_OUTPUT"
        echo "**summary**" >> "$GITHUB_STEP_SUMMARY"
        exit "${EXIT_CODE:-0}"
"""


def run(tmp_path: Path, text: str, inputs: dict[str, str], extra: str = "env.HOME",
        env_extra: dict[str, str] | None = None) -> ActionRun:
    action = tmp_path / "action"
    action.mkdir(exist_ok=True)
    (action / "action.yml").write_text(text.replace("EXTRA_EXPRESSION", extra))
    temp = tmp_path / "temp"
    temp.mkdir(exist_ok=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **(env_extra or {})}
    return run_action(action, inputs, workspace=tmp_path, temp=temp, env=env,
                      github={"repository": "o/r"}, python=sys.executable)


def test_steps_share_env_path_outputs_and_summary_and_secrets_are_masked(
        tmp_path: Path) -> None:
    result = run(tmp_path, ACTION, {"secret": "s3cr3t-value"})
    assert result.succeeded
    assert result.outputs == {"said": "hello world\ntwo"}
    assert "tool-ran" in result.log
    assert "the secret is ***" in result.log
    assert "s3cr3t-value" not in result.log
    assert "s3cr3t-value" in result.raw_log  # only in the add-mask command
    assert result.summary.strip() == "**summary**"


def test_a_failing_step_fails_the_action_with_its_code(tmp_path: Path) -> None:
    result = run(tmp_path, ACTION, {}, env_extra={"EXIT_CODE": "12"})
    assert result.exit_code == 12
    assert [s.outcome for s in result.steps] == ["success", "failure"]


@pytest.mark.parametrize("expression", ["inputs.missing", "steps.nope.outputs.x",
                                        "github.no_such_thing", "secrets.TOKEN",
                                        "format('{0}', inputs.greeting)"])
def test_an_unknown_or_unsupported_expression_is_an_error(tmp_path: Path,
                                                          expression: str) -> None:
    with pytest.raises(ExpressionError):
        run(tmp_path, ACTION, {}, extra=expression)


def test_undeclared_inputs_and_expressions_in_run_bodies_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ExpressionError):
        run(tmp_path, ACTION, {"nonexistent": "x"})
    bad = ACTION.replace('echo "the secret is $SECRET"', 'echo "${{ inputs.secret }}"')
    with pytest.raises(ExpressionError):
        run(tmp_path, bad, {})


def test_the_secret_search_finds_a_leak_anywhere(tmp_path: Path) -> None:
    from tests.integration.action.conftest import assert_no_secrets

    quiet = ACTION.replace('echo "the secret is $SECRET"', "true")
    clean = run(tmp_path, quiet, {"secret": "s3cr3t-value"})
    assert_no_secrets(clean, ["s3cr3t-value"])  # only in its add-mask command
    # printed (even though the runner would show ***): the raw log still carries it
    with pytest.raises(AssertionError, match="raw log"):
        assert_no_secrets(run(tmp_path, ACTION, {"secret": "s3cr3t-value"}), ["s3cr3t-value"])
    leaky = quiet.replace('echo "$FROM_FIRST"', 'echo "$SECRET"')
    with pytest.raises(AssertionError, match="outputs"):
        assert_no_secrets(run(tmp_path, leaky, {"secret": "s3cr3t-value"}), ["s3cr3t-value"])
