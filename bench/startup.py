"""CLI start-up figures: a fresh ``signer`` process, as a user or CI step runs it.

Each figure is the subprocess wall time (spawn to exit) of the installed console
script next to this interpreter (``.venv/bin/signer``; ``python -m signer`` if it is
missing), stdout and stderr captured: ``signer --version`` and ``signer verify --help``
(target: under 150 ms each; nothing heavy is imported to answer them). The peer is
``skopeo --version`` (a static Go binary) where skopeo is installed. Every sample
is a batch of :data:`RUNS` processes, reported per process; ours and the peer's
alternate so machine load hits both alike.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import Context, Row

RUNS = 5
TARGET_SECONDS = 0.150


def _signer_command() -> list[str]:
    script = Path(sys.executable).with_name("signer")
    return [str(script)] if script.exists() else [sys.executable, "-m", "signer"]


def _per_process(argv: list[str]) -> float:
    """Mean wall seconds of one process over :data:`RUNS` runs (each must exit 0)."""
    started = time.perf_counter()
    for _ in range(RUNS):
        done = subprocess.run(argv, capture_output=True, check=False, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: "
                               f"{done.stderr.decode(errors='replace')[-300:]}")
    return (time.perf_counter() - started) / RUNS


def run(ctx: Context) -> list[Row]:
    """Time ``signer --version`` and ``signer verify --help`` against ``skopeo --version``."""
    signer = _signer_command()
    skopeo = shutil.which("skopeo")
    figures = {"signer --version": [*signer, "--version"],
               "signer verify --help": [*signer, "verify", "--help"]}
    for argv in figures.values():  # warm the page cache and .pyc files, untimed
        _per_process(argv)
    ours: dict[str, list[float]] = {name: [] for name in figures}
    peer: list[float] = []
    for _ in range(ctx.repeat):
        for name, argv in figures.items():
            ours[name].append(_per_process(argv))
        if skopeo:
            peer.append(_per_process([skopeo, "--version"]))
    target = f"(target < {TARGET_SECONDS * 1000:.0f} ms)"
    return [Row(f"{name}, one process {target}", samples, peer or None,
                peer_name="skopeo --version" if peer else "")
            for name, samples in ours.items()]
