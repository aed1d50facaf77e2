"""The README's main job (``bash .ci/demo.sh``) runs and checks every step."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_runs_every_step_and_stops_what_it_started() -> None:
    completed = subprocess.run([sys.executable, "-m", "signer.testing.demo"],
                               capture_output=True, text=True, timeout=300, check=False)
    out = completed.stdout
    assert completed.returncode == 0, out + completed.stderr
    assert "every step behaved as expected" in out
    expected_exits = [line for line in out.splitlines() if line.startswith("-> exit ")]
    # initialize, push, sign, verify, push, unsigned (10), wrong identity (12)
    assert [line.split()[2] for line in expected_exits] == ["0", "0", "0", "0", "0", "10",
                                                            "12"]
    # every command takes the trusted root from the stack's TUF repository
    assert "$ signer initialize --mirror http://127.0.0.1:" in out
    assert "Initialized TUF repository http://127.0.0.1:" in out
    cli_part = out[:out.index("The GitHub Action: push an image and sign it keyless")]
    assert "--trusted-root" not in cli_part
    assert "$ GITHUB_ACTIONS=true ACTIONS_ID_TOKEN_REQUEST_URL=" in out
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN='***'" in out
    assert '"docker-manifest-digest":"sha256:' in out
    # then the action itself, as a runner runs it: its steps, outputs and job summary
    action_part = out[out.index("The GitHub Action: push an image and sign it keyless"):]
    assert [line for line in action_part.splitlines() if line.startswith("-> ")] == [
        line for line in action_part.splitlines() if line.startswith("-> action exit 0 ")]
    assert action_part.count("-> action exit 0 (expected)") == 2
    assert action_part.count("[success] Check that signer supports this runner") == 2
    assert action_part.count("[success] Run signer") == 2
    assert action_part.count("\nverified=true\n") == 2
    assert "\ndigest=sha256:" in action_part
    assert "\nrekor-entry-url=http://127.0.0.1:" in action_part
    assert "## signer sign: ✅ success" in action_part
    assert "## signer verify: ✅ success" in action_part
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN=***" in action_part
    assert "trusted root: from TUF repository http://127.0.0.1:" in action_part
    assert "FAILED" not in out
