"""The README's main job: a local round trip, run by ``bash .ci/demo.sh``.

``python -m signer.testing.demo`` starts a real registry (Debian's ``docker-registry``)
on 127.0.0.1, builds a small image, pushes it with ``signer push``, prints its digest
and stops everything it started. Every ``signer`` command is echoed before it runs so
the reader sees what they would type. Exit 0 only if every step behaved as expected.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

COMMAND_TIMEOUT = 120


class Demo:
    """Runs ``signer`` commands as subprocesses, echoing them and checking exit codes."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.failures: list[str] = []
        self.steps = 0

    def heading(self, text: str) -> None:
        """Print a section heading."""
        print(f"\n=== {text}", flush=True)

    def signer(self, title: str, args: Sequence[str], *, expect: int = 0,
               env: Mapping[str, str] | None = None,
               shown_env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``signer ARGS``; print the command, its output and whether the exit matched.

        ``env`` is added to the environment; ``shown_env`` is how those variables are
        displayed (secrets replaced) in the echoed command.
        """
        self.steps += 1
        self.heading(f"{self.steps}. {title}")
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (shown_env or {}).items())
        print(f"$ {prefix + ' ' if prefix else ''}signer {shlex.join(args)}", flush=True)
        environment = {**os.environ, **(env or {})}
        started = time.monotonic()
        completed = subprocess.run(
            [sys.executable, "-m", "signer", *args], env=environment, capture_output=True,
            text=True, timeout=COMMAND_TIMEOUT, check=False, cwd=self.workdir,
        )
        elapsed = time.monotonic() - started
        for stream_text in (completed.stderr, completed.stdout):
            if stream_text:
                print(stream_text.rstrip("\n"), flush=True)
        if completed.returncode == expect:
            print(f"-> exit {completed.returncode} (expected) in {elapsed:.2f}s", flush=True)
        else:
            message = f"{title}: exit {completed.returncode}, expected {expect}"
            print(f"-> FAILED: {message}", flush=True)
            self.failures.append(message)
        return completed


def run_demo(workdir: Path) -> int:
    """Run every step in ``workdir``; return 0 only if all behaved as expected."""
    from signer.testing.images import write_oci_layout
    from signer.testing.registry import start_registry

    demo = Demo(workdir)
    started = time.monotonic()
    demo.heading("Starting a local registry (Debian docker-registry) on 127.0.0.1")
    with start_registry(workdir / "registry") as registry:
        print(f"registry: {registry.url}", flush=True)
        image = write_oci_layout(workdir / "image", seed="signer-demo", tag="v1")
        print(f"built a small OCI image layout in {image.path} (digest {image.digest})")
        target = f"{registry.host}/demo/app:v1"
        pushed = demo.signer("Push the image", ["push", image.source, target])
        pinned = pushed.stdout.strip().splitlines()[-1] if pushed.stdout.strip() else ""
        if pushed.returncode == 0 and not pinned.endswith(f"@{image.digest}"):
            demo.failures.append(f"push printed {pinned!r}, expected digest {image.digest}")
        print(f"\npushed digest: {pinned.rpartition('@')[2] or '(none)'}")
        demo.heading("Stopping the registry")
    print(f"\nDemo finished in {time.monotonic() - started:.1f}s: "
          + ("every step behaved as expected." if not demo.failures
             else f"{len(demo.failures)} step(s) did not:"), flush=True)
    for failure in demo.failures:
        print(f"  - {failure}")
    return 0 if not demo.failures else 1


def main() -> int:
    """Entry point of ``python -m signer.testing.demo``."""
    from signer.errors import Error

    with tempfile.TemporaryDirectory(prefix="signer-demo-") as directory:
        try:
            return run_demo(Path(directory))
        except Error as err:
            print(f"Error: {err.diagnostics()}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    raise SystemExit(main())
