"""The benchmark harness: context, rows, timing helpers and the results table.

An area module (``bench/<area>.py``) looks like::

    from bench.harness import Context, Row, timed

    def run(ctx: Context) -> list[Row]:
        ours = ctx.measure(lambda: do_it_ourselves())
        peer = ctx.measure(lambda: do_it_with_the_peer_tool())
        return [Row("do it 20 times", ours, peer, peer_name="skopeo")]

``ctx.registry`` is a plain-HTTP Debian registry on 127.0.0.1 started on first use;
``ctx.start_registry(options)`` starts more (TLS, auth); all are stopped at the end.
``ctx.repeat`` is how many times to time each figure; ``ctx.tmp`` a scratch directory.
Every measurement is wall-clock seconds; the table shows medians.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from signer.testing.registry import LocalRegistry, RegistryOptions, start_registry


@dataclass
class Row:
    """One figure: our samples and, where a peer tool does the same work, its samples."""

    figure: str
    ours: Sequence[float]
    peer: Sequence[float] | None = None
    peer_name: str = ""
    unit: str = "s"
    area: str = ""

    @property
    def ours_median(self) -> float:
        """Median of our samples."""
        return statistics.median(self.ours)

    @property
    def peer_median(self) -> float | None:
        """Median of the peer's samples, if any."""
        return statistics.median(self.peer) if self.peer else None

    @property
    def ratio(self) -> float | None:
        """ours / peer (below 1: we are faster)."""
        peer = self.peer_median
        return self.ours_median / peer if peer else None


@dataclass
class Context:
    """What an area's ``run`` gets: repeat count, scratch space and registries."""

    repeat: int = 5
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="signer-bench-")))
    _registries: list[LocalRegistry] = field(default_factory=list)
    _default: LocalRegistry | None = None

    @property
    def registry(self) -> LocalRegistry:
        """A shared plain-HTTP registry (started on first use)."""
        if self._default is None:
            self._default = self.start_registry()
        return self._default

    def start_registry(self, options: RegistryOptions | None = None) -> LocalRegistry:
        """Start another registry; it is stopped by :meth:`close`."""
        root = Path(tempfile.mkdtemp(prefix="registry-", dir=self.tmp))
        registry = start_registry(root, options)
        self._registries.append(registry)
        return registry

    def scratch(self, name: str) -> Path:
        """A fresh directory under the scratch space."""
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.tmp))
        return path

    def measure(self, action: Callable[[int], object],
                setup: Callable[[int], object] | None = None) -> list[float]:
        """Time ``action(i)`` for i in range(repeat); ``setup(i)`` runs untimed before each."""
        samples = []
        for i in range(self.repeat):
            if setup is not None:
                setup(i)
            start = time.perf_counter()
            action(i)
            samples.append(time.perf_counter() - start)
        return samples

    def close(self) -> None:
        """Stop every registry started and remove the scratch space."""
        for registry in self._registries:
            registry.stop()
        self._registries.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)


def timed(action: Callable[[], object]) -> float:
    """Wall-clock seconds ``action()`` takes."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.3f} s"
    return f"{value:.3g} {unit}"


def format_table(rows: Sequence[Row], repeat: int) -> str:
    """The results as one plain-text table (medians over ``repeat`` runs)."""
    header = ("area", "figure", f"ours (median of {repeat})", "peer (median)", "peer",
              "ours/peer")
    lines = [header]
    for row in rows:
        ratio = row.ratio
        lines.append((row.area, row.figure, _fmt(row.ours_median, row.unit),
                      _fmt(row.peer_median, row.unit), row.peer_name or "-",
                      f"{ratio:.2f}" if ratio is not None else "-"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
