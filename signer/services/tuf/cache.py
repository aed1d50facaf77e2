"""Where TUF metadata and targets are cached, and how two processes share the cache.

The base is ``$TUF_ROOT`` if set (cosign's variable), else the user's cache
directory (``$XDG_CACHE_HOME/signer/tuf``, ``~/Library/Caches/signer/tuf``,
``%LOCALAPPDATA%\\signer\\tuf``). Each repository gets its own directory, named by
its URL-quoted address, with ``metadata/`` and ``targets/``. Every write goes to a
temporary file in the same directory and is renamed over the old one; an update
holds an exclusive lock on the repository's ``.lock`` file, so a second process
waits instead of interleaving its writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

ENV_TUF_ROOT = "TUF_ROOT"
#: what a successful online update records beside the metadata
REFRESH_RECORD = "refreshed.json"


def cache_base(environ: Mapping[str, str] | None = None) -> Path:
    """``$TUF_ROOT``, else the user's cache directory for signer's TUF data."""
    env = os.environ if environ is None else environ
    configured = env.get(ENV_TUF_ROOT)
    if configured:
        return Path(configured)
    if sys.platform == "win32":
        local = env.get("LOCALAPPDATA")
        return Path(local or Path.home() / "AppData" / "Local") / "signer" / "tuf"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "signer" / "tuf"
    xdg = env.get("XDG_CACHE_HOME")
    return Path(xdg if xdg else Path.home() / ".cache") / "signer" / "tuf"


def repository_dir(base: Path, mirror: str) -> Path:
    """The cache directory of one repository (its URL, quoted into one file name)."""
    return base / quote(mirror, safe="")


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory/.lock`` (waits for another holder)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if sys.platform == "win32":
            import msvcrt

            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                    break
                except OSError:  # LK_LOCK gives up after ~10 s; keep waiting
                    continue
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock on every platform


def write_refresh_record(directory: Path, when: datetime, expires: datetime) -> None:
    """Record a successful online update: when, and when its timestamp expires."""
    record = {"refreshed": when.isoformat(), "timestamp_expires": expires.isoformat()}
    atomic_write(directory / REFRESH_RECORD, json.dumps(record).encode() + b"\n")


def read_refresh_record(directory: Path) -> tuple[datetime, datetime] | None:
    """(last online update, timestamp expiry) if a usable record exists."""
    try:
        record: Any = json.loads((directory / REFRESH_RECORD).read_bytes()[:4096])
        refreshed = datetime.fromisoformat(record["refreshed"])
        expires = datetime.fromisoformat(record["timestamp_expires"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if refreshed.tzinfo is None or expires.tzinfo is None:
        return None
    return refreshed.astimezone(timezone.utc), expires.astimezone(timezone.utc)
