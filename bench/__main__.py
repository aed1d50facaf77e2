"""``python -m bench [--only AREA] [--repeat N]``: run the benchmark areas, print one table."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback
from collections.abc import Sequence

import bench
from bench.harness import Context, Row, format_table

_NOT_AREAS = {"harness", "__main__"}


def discover() -> list[str]:
    """Names of the area modules in the ``bench`` package (those defining ``run``)."""
    names = []
    for info in pkgutil.iter_modules(bench.__path__):
        if info.name in _NOT_AREAS or info.name.startswith("_") or info.ispkg:
            continue
        names.append(info.name)
    return sorted(names)


def _byte_compile() -> None:
    """Compile signer's modules to .pyc first, as installing a wheel does: every figure
    that starts a process should measure the tool as users run it, not the compiling
    of its sources (which happens on every start where PYTHONDONTWRITEBYTECODE is set)."""
    import compileall

    import signer

    for directory in signer.__path__:
        compileall.compile_dir(directory, quiet=1, workers=0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected areas and print the table; exit 1 if an area failed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", action="append", metavar="AREA", default=[],
                        help="run only this area (repeatable); default: all")
    parser.add_argument("--repeat", type=int, default=5, metavar="N",
                        help="timed repetitions per figure (default 5)")
    parser.add_argument("--list", action="store_true", help="list the areas and exit")
    args = parser.parse_args(argv)
    areas = discover()
    if args.list:
        print("\n".join(areas))
        return 0
    unknown = [a for a in args.only if a not in areas]
    if unknown:
        parser.error(f"unknown area(s) {', '.join(unknown)}; known: {', '.join(areas)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    selected = args.only or areas
    _byte_compile()
    rows: list[Row] = []
    failed = []
    ctx = Context(repeat=args.repeat)
    try:
        for area in selected:
            module = importlib.import_module(f"bench.{area}")
            run = getattr(module, "run", None)
            if run is None:
                continue
            started = time.perf_counter()
            print(f"[bench] {area} ...", file=sys.stderr, flush=True)
            try:
                area_rows = run(ctx)
            except Exception:  # one area's failure is reported; the others still run
                failed.append(area)
                traceback.print_exc()
                continue
            for row in area_rows:
                row.area = row.area or area
            rows.extend(area_rows)
            print(f"[bench] {area} done in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr, flush=True)
    finally:
        ctx.close()
    print(format_table(rows, args.repeat))
    if failed:
        print(f"[bench] failed areas: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
