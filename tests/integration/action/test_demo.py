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
    assert [line.split()[2] for line in expected_exits] == ["0", "0", "0", "0", "10", "12"]
    assert "$ GITHUB_ACTIONS=true ACTIONS_ID_TOKEN_REQUEST_URL=" in out
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN='***'" in out
    assert '"docker-manifest-digest":"sha256:' in out
    assert "FAILED" not in out
