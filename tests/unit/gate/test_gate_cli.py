"""``signer gate`` usage and policy errors: one line, no traceback (no registry needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.unit.gate.test_policy_errors import COSIGN


def test_cli_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "values.yaml"
    bad.write_text(COSIGN.replace('- pattern: "*:*"\n', '- pattern: "*:*"\n  validator: x\n'))
    result = subprocess.run([sys.executable, "-m", "signer", "gate", "--policy", str(bad),
                             str(tmp_path)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"Error: {bad}:") and "policy[0].validator" in first


def test_missing_path_and_bad_workers_are_one_line(tmp_path: Path) -> None:
    policy = tmp_path / "values.yaml"
    policy.write_text(COSIGN)
    for extra, expected, code in (([str(tmp_path / "nope")], "no such file or directory", 1),
                                  (["--max-workers", "0", "."], "--max-workers", 2)):
        result = subprocess.run([sys.executable, "-m", "signer", "gate", "--policy",
                                 str(policy), *extra], capture_output=True, text=True,
                                timeout=60, check=False, cwd=tmp_path)
        assert result.returncode == code, result.stderr
        assert "Traceback" not in result.stderr and expected in result.stderr


def test_nothing_to_check_passes(tmp_path: Path) -> None:
    policy = tmp_path / "values.yaml"
    policy.write_text(COSIGN)
    (tmp_path / "notes.yaml").write_text("just: data\n")
    result = subprocess.run([sys.executable, "-m", "signer", "gate", "--policy", str(policy),
                             "--output", "json", str(tmp_path)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert '"images": []' in result.stdout


def test_hostile_text_from_files_is_neutralised_in_the_table(tmp_path: Path) -> None:
    policy = tmp_path / "values.yaml"
    policy.write_text(COSIGN)
    (tmp_path / "compose.yaml").write_text(
        'services:\n  evil:\n    image: "x\\e]0;owned\\a\\e[2J:1"\n')
    result = subprocess.run([sys.executable, "-m", "signer", "gate", "--policy", str(policy),
                             str(tmp_path)], capture_output=True, text=True, timeout=60,
                            check=False, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b]0;owned\\x07\\x1b[2J" in result.stdout
    assert "invalid image reference" in result.stdout


def test_trust_material_is_loaded_only_for_signature_checks(tmp_path: Path) -> None:
    """Static rules need no trusted root: TUF is not even asked (offline with an empty
    cache, asking it prints a notice about the embedded root); an image that needs a
    signature check asks it; a --trusted-root file is read before anything runs."""
    import os

    policy = tmp_path / "values.yaml"
    policy.write_text(COSIGN.replace('policy:\n- pattern: "*:*"\n', """\
- name: allow
  type: static
  approve: true
policy:
- pattern: "*:*"
- pattern: "registry.k8s.io/*"
  validator: allow
"""))
    pod = tmp_path / "pod.yaml"
    pod.write_text("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
                   "  - image: registry.k8s.io/pause:3.9\n")
    env = {**os.environ, "TUF_ROOT": str(tmp_path / "empty-tuf-cache")}
    command = [sys.executable, "-m", "signer", "gate", "--offline", "--policy", str(policy)]
    result = subprocess.run([*command, str(pod)], capture_output=True, text=True,
                            timeout=60, check=False, env=env)
    assert result.returncode == 0, result.stderr
    assert "1 passed" in result.stderr and "embedded" not in result.stderr
    signed = tmp_path / "compose.yaml"
    signed.write_text("services:\n  a:\n    image: ghcr.io/o/a@sha256:" + "a" * 64 + "\n")
    result = subprocess.run([*command, str(signed)], capture_output=True, text=True,
                            timeout=60, check=False, env=env)
    assert result.returncode == 1
    assert "embedded in signer" in result.stderr, result.stderr
    bad = subprocess.run([*command, "--trusted-root", str(tmp_path / "missing.json"),
                          str(pod)], capture_output=True, text=True, timeout=60,
                         check=False, env=env)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: cannot read")
