"""Regenerate or check the action's hash-locked requirements (needs the package index).

``.github/action-requirements.txt`` is what the action's install step feeds to
``pip install --require-hashes --only-binary=:all:``. On a runner pip picks, for each
pin, the wheel that best fits that runner, and refuses it unless its sha256 is in the
lock; so the lock must hold the hash of every wheel pip could pick on every platform
the action supports. Its ``# platforms:`` line names those platforms as
``<runner.os>-<runner.arch>``; the action refuses any other runner before pip runs.

    python .ci/action_lock.py             # rehash the current pins for every platform
    python .ci/action_lock.py --upgrade   # newest versions of pyproject's dependencies
    python .ci/action_lock.py --check     # every pin has a locked wheel on every platform

Both run ``pip download`` once per platform variant and Python version below, with
pip's own configuration ignored (``--isolated``) so that only the package index is
used. Writing fails, and leaves the lock unchanged, if a supported platform lacks a
wheel for some pin; ``--check`` exits 1 in that case and prints which.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / ".github" / "action-requirements.txt"
#: action.yml sets up 3.12; .ci/action-venv.sh builds the same venv with the local python3
PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
#: glibc of the runners pip may be on: ubuntu-24.04, 22.04, 20.04 and manylinux_2_28 hosts
GLIBC_MINORS = (39, 35, 31, 28)


def _manylinux(glibc_minor: int, arch: str) -> list[str]:
    """Platform tags a pip on glibc 2.<minor> accepts, best first (as pip orders them)."""
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(glibc_minor, 16, -1)]
    tags.append(f"manylinux2014_{arch}")
    if arch == "x86_64":
        tags += ["manylinux2010_x86_64", "manylinux1_x86_64"]
    return tags


#: every platform the lock can cover: runner.os-runner.arch -> the variants of it a
#: runner may be (each a list of pip platform tags, best first). pip expands a macOS
#: tag to the older releases and universal2 by itself.
PLATFORMS: dict[str, list[list[str]]] = {
    "Linux-X64": [_manylinux(minor, "x86_64") for minor in GLIBC_MINORS],
    "Linux-ARM64": [_manylinux(minor, "aarch64") for minor in GLIBC_MINORS],
    "macOS-ARM64": [["macosx_15_0_arm64"], ["macosx_14_0_arm64"]],
    "macOS-X64": [["macosx_15_0_x86_64"], ["macosx_13_0_x86_64"]],
    "Windows-X64": [["win_amd64"]],
    "Windows-ARM64": [["win_arm64"]],
}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)")
WHEEL = re.compile(r"^([A-Za-z0-9._]+?)-([^-]+)-")


def normalise(name: str) -> str:
    """A project name as pip compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path = LOCK) -> tuple[list[str], dict[str, str]]:
    """The ``# platforms:`` of a lock file and its pins (normalised name -> version)."""
    platforms: list[str] = []
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("# platforms:"):
            platforms = line.split(":", 1)[1].split()
        match = PIN.match(line)
        if match:
            pins[normalise(match.group(1))] = match.group(2)
    return platforms, pins


def pip_download(requirements: Path, tags: list[str], python: str, into: Path, *,
                 require_hashes: bool = False) -> subprocess.CompletedProcess[str]:
    """``pip download`` of ``requirements`` as a pip on ``tags``/CPython ``python`` would."""
    abi = "cp" + python.replace(".", "")
    argv = [sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check",
            "download", "--quiet", "--only-binary=:all:", "--python-version", python,
            "--implementation", "cp", "--abi", abi, "--abi", "abi3", "--abi", "none",
            "-d", str(into), "-r", str(requirements)]
    for tag in tags:
        argv += ["--platform", tag]
    if require_hashes:
        argv.append("--require-hashes")
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)


def variants(platforms: Iterable[str]) -> Iterable[tuple[str, str, list[str]]]:
    """Every (platform, Python version, pip platform tags) to download for."""
    for platform in platforms:
        for tags in PLATFORMS[platform]:
            for python in PYTHON_VERSIONS:
                yield platform, python, tags


def _last_error(completed: subprocess.CompletedProcess[str]) -> str:
    """pip's first error line, without its list of every version it saw."""
    lines = [line for line in completed.stderr.splitlines() if line.startswith("ERROR")]
    first = lines[0] if lines else (completed.stderr.strip().splitlines() or ["pip failed"])[-1]
    return re.sub(r" \(from versions: [^)]*\)", "", first)


def resolve_latest(work: Path) -> dict[str, str]:
    """The newest versions of pyproject's dependencies (and theirs), on Linux x86_64."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = work / "wanted.txt"
    wanted.write_text("\n".join(project["dependencies"]) + "\n")
    into = work / "latest"
    completed = pip_download(wanted, PLATFORMS["Linux-X64"][0], "3.12", into)
    if completed.returncode != 0:
        raise SystemExit(f"resolving pyproject's dependencies failed: {_last_error(completed)}")
    found = {}
    for wheel in into.glob("*.whl"):
        match = WHEEL.match(wheel.name)
        if match:
            found[normalise(match.group(1))] = match.group(2)
    return found


def collect_hashes(pins: dict[str, str], platforms: list[str],
                   work: Path) -> tuple[dict[str, set[str]], list[str]]:
    """sha256 of every wheel pip picks for each pin on each platform variant."""
    pinned = work / "pins.txt"
    pinned.write_text("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
    hashes: dict[str, set[str]] = {name: set() for name in pins}
    missing = []
    for number, (platform, python, tags) in enumerate(variants(platforms)):
        into = work / f"dl-{number}"
        completed = pip_download(pinned, tags, python, into)
        if completed.returncode != 0:
            missing.append(f"{platform} CPython {python} ({tags[0]}): {_last_error(completed)}")
            continue
        for wheel in into.glob("*"):
            match = WHEEL.match(wheel.name)
            name = normalise(match.group(1)) if match else ""
            if name not in pins:
                missing.append(f"{platform}: {wheel.name} is not pinned (a new dependency?)")
                continue
            hashes[name].add(hashlib.sha256(wheel.read_bytes()).hexdigest())
    return hashes, missing


def render(pins: dict[str, str], hashes: dict[str, set[str]], platforms: list[str]) -> str:
    """The lock file's text."""
    versions = ", ".join(PYTHON_VERSIONS)
    lines = [
        "# Runtime dependencies of the signer action, pinned and hash-locked.",
        "# Installed by action.yml with:",
        "#   pip install --require-hashes --only-binary=:all: -r <this file>",
        f"# Wheels for CPython {versions} (action.yml sets up 3.12) on the platforms below",
        "# (runner.os-runner.arch); the action refuses any other runner before pip runs.",
        "# Generated by .ci/action_lock.py; checked by .ci/check-action-wheels.sh.",
        f"# platforms: {' '.join(platforms)}",
    ]
    for name in sorted(pins):
        lines.append(f"{name}=={pins[name]} \\")
        ordered = sorted(hashes[name])
        for index, digest in enumerate(ordered):
            end = " \\" if index < len(ordered) - 1 else ""
            lines.append(f"    --hash=sha256:{digest}{end}")
    return "\n".join(lines) + "\n"


def check(platforms: list[str]) -> int:
    """Install-equivalent download of the lock on every platform variant; 0 if all pass."""
    failures = 0
    _, pins = read_lock()
    with tempfile.TemporaryDirectory(prefix="signer-lock-check-") as directory:
        pins_file = Path(directory) / "pins.txt"
        pins_file.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
        for number, (platform, python, tags) in enumerate(variants(platforms)):
            into = Path(directory) / f"dl-{number}"
            completed = pip_download(LOCK, tags, python, into, require_hashes=True)
            label = f"{platform:<14} CPython {python} {tags[0]:<24}"
            if completed.returncode == 0:
                print(f"{label} ok ({len(list(into.glob('*.whl')))} wheels, hashes match)")
                continue
            failures += 1
            # tell "no wheel at all" from "a wheel whose hash the lock lacks"
            unhashed = pip_download(pins_file, tags, python, Path(directory) / f"u-{number}")
            reason = (_last_error(unhashed) if unhashed.returncode != 0 else
                      "a wheel exists for every pin, but the lock lacks its hash "
                      "(regenerate with .ci/action_lock.py)")
            print(f"{label} FAILED: {reason}")
    print(f"{failures} of {sum(1 for _ in variants(platforms))} platform variants failed")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check the lock, change nothing")
    parser.add_argument("--upgrade", action="store_true",
                        help="newest versions of pyproject's dependencies")
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS),
                        help="a platform to cover (default: the lock's '# platforms:')")
    args = parser.parse_args(argv)
    current_platforms, current_pins = read_lock()
    platforms = args.platform or current_platforms
    if not platforms:
        parser.error("the lock names no platforms; pass --platform")
    if args.check:
        return check(platforms)
    with tempfile.TemporaryDirectory(prefix="signer-lock-") as directory:
        work = Path(directory)
        pins = resolve_latest(work) if args.upgrade else current_pins
        hashes, missing = collect_hashes(pins, platforms, work)
    if missing or not all(hashes.values()):
        for line in missing:
            print(f"missing: {line}", file=sys.stderr)
        print("the lock was left unchanged", file=sys.stderr)
        return 1
    LOCK.write_text(render(pins, hashes, platforms))
    total = sum(len(h) for h in hashes.values())
    print(f"wrote {LOCK.relative_to(ROOT)}: {len(pins)} pins, {total} wheel hashes, "
          f"platforms {' '.join(platforms)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
