"""``signer generate-key-pair`` through the real CLI entry point."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from signer.keys import load_private_key


def _run(tmp_path: Path, *args: str,
         password: str | None = "pw") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COSIGN_PASSWORD"}
    if password is not None:
        env["COSIGN_PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "signer", "generate-key-pair", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


def test_writes_key_pair_and_refuses_overwrite(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.returncode == 0, result.stderr
    key = tmp_path / "cosign.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    load_private_key(key, b"pw")
    assert "pw" not in result.stderr.replace("cosign.pub", "")
    again = _run(tmp_path)
    assert again.returncode == 1
    assert again.stderr.count("\n") <= 2 and "already exists" in again.stderr
    assert "--force" in again.stderr
    assert _run(tmp_path, "--force", password="").returncode == 0
    load_private_key(key, b"")


def test_no_password_without_tty_is_usage_error(tmp_path: Path) -> None:
    result = _run(tmp_path, password=None)
    assert result.returncode == 2
    assert "COSIGN_PASSWORD" in result.stderr
    assert not (tmp_path / "cosign.key").exists()
