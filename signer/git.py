"""The files a git checkout changed since a ref (layer L3: runs ``git``, decides nothing).

``signer gate --changed-from`` and the action's ``changed-from`` input both limit the
gate to these files (a pull request's changes when the ref is its base).
"""

from __future__ import annotations

import os
import subprocess

from signer.errors import InputError, UsageError

#: how long one git command may take, in seconds
GIT_TIMEOUT = 60


def _git(args: list[str], cwd: str, option: str) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                                timeout=GIT_TIMEOUT, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"{option}: cannot run git ({type(exc).__name__})") from None
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["failed"])[-1]
        raise InputError(f"{option}: git {args[0]} failed: {detail}",
                         hint="run inside the repository, with the base ref fetched "
                              "(actions/checkout fetch-depth: 0)")
    return result.stdout


def changed_files(ref: str, cwd: str = ".", option: str = "--changed-from") -> set[str]:
    """Resolved paths of the files added or changed since ``ref``'s merge base with
    HEAD, including uncommitted changes and new files not yet added (deleted and ignored
    files are left out).

    ``option`` names the flag or input the ref came from in error messages. Raises
    :class:`~signer.errors.UsageError` for a ref that git would read as an option and
    :class:`~signer.errors.InputError` when git fails (with git's last line).
    """
    if ref.startswith("-"):
        raise UsageError(f"{option} {ref!r} is not a git ref")
    top = _git(["rev-parse", "--show-toplevel"], cwd, option).strip()
    base = _git(["merge-base", ref, "HEAD"], cwd, option).strip()
    names = _git(["diff", "--name-only", "-z", "--diff-filter=d", base, "--"], top, option)
    # new files not yet added are changes too (git diff does not list them)
    names += "\0" + _git(["ls-files", "--others", "--exclude-standard", "-z", "--"], top,
                         option)
    return {os.path.realpath(os.path.join(top, name)) for name in names.split("\0") if name}
