"""Helpers for push tests: run ``python -m signer push`` and ask skopeo about the result."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

SKOPEO_TIMEOUT = 60


@dataclass
class Outcome:
    """What a CLI run produced."""

    code: int
    stdout: str
    stderr: str

    def error_lines(self) -> list[str]:
        """The ``Error:`` lines on stderr."""
        return [line for line in self.stderr.splitlines() if line.startswith("Error:")]

    def assert_one_line_error(self) -> str:
        """Assert a clean failure (exit 1/2, one Error: line, no traceback); return it."""
        assert self.code in (1, 2), (self.code, self.stdout, self.stderr)
        assert self.stdout == "", self.stdout
        assert "Traceback" not in self.stderr, self.stderr
        assert "internal error" not in self.stderr, self.stderr
        lines = self.error_lines()
        assert len(lines) == 1, self.stderr
        return lines[0]


def run_push(args: Sequence[str], *, stdin: str | None = None,
             env: Mapping[str, str] | None = None, timeout: float = 120) -> Outcome:
    """Run ``python -m signer push ARGS`` in a fresh process."""
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("SIGNER_DEBUG", "SIGNER_REGISTRY_PASSWORD", "REGISTRY_PASSWORD")}
    environment.update(env or {})
    done = subprocess.run([sys.executable, "-m", "signer", "push", *args], input=stdin,
                          capture_output=True, text=True, env=environment, timeout=timeout,
                          check=False)
    return Outcome(done.returncode, done.stdout, done.stderr)


def skopeo(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run skopeo; raise with its stderr if ``check`` and it fails."""
    done = subprocess.run(["skopeo", *args], capture_output=True, timeout=SKOPEO_TIMEOUT,
                          check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"skopeo {' '.join(args)} failed: {done.stderr.decode()[-800:]}")
    return done


def tls_args(prefix: str, cert_dir: Path | None) -> list[str]:
    """skopeo flags for a plain-HTTP registry (cert_dir None) or a TLS one with its CA."""
    if cert_dir is None:
        return [f"--{prefix}tls-verify=false"]
    return [f"--{prefix}cert-dir={cert_dir}"]


def skopeo_raw(image: str, *, cert_dir: Path | None = None,
               creds: str | None = None) -> bytes | None:
    """``skopeo inspect --raw docker://IMAGE`` bytes, or None if the manifest is unknown."""
    args = ["inspect", "--raw", *tls_args("", cert_dir)]
    if creds:
        args.append(f"--creds={creds}")
    done = skopeo(*args, f"docker://{image}", check=False)
    if done.returncode != 0:
        message = done.stderr.decode()
        if "manifest unknown" in message or "not found" in message.lower():
            return None
        raise AssertionError(f"skopeo inspect {image} failed: {message[-800:]}")
    return done.stdout


def skopeo_manifest_digest(data: bytes, tmp_path: Path) -> str:
    """``skopeo manifest-digest`` of manifest bytes."""
    path = tmp_path / f"manifest-{hashlib.sha256(data).hexdigest()[:12]}.json"
    path.write_bytes(data)
    return skopeo("manifest-digest", str(path)).stdout.decode().strip()


@pytest.fixture(scope="session", autouse=True)
def _need_skopeo() -> None:
    if shutil.which("skopeo") is None:
        pytest.fail("skopeo is not installed; run the README's test command")
