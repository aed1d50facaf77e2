"""Reading a local file a user named (layer L1): bounded, one-line errors.

Trusted roots, keys, certificate chains and the like come from flags, environment
variables and action inputs; whatever the name points at (``/dev/zero``, a 3 GiB file)
is read at most up to a limit, so that it ends in an error naming the file, never in an
exhausted memory.
"""

from __future__ import annotations

import os

from signer.errors import Error, InputError

#: Largest trust or key file read (public good's trusted root is about 10 KiB).
MAX_LOCAL_FILE_BYTES = 16 * 1024 * 1024


def read_local_file(path: str | os.PathLike[str], what: str, *,
                    limit: int = MAX_LOCAL_FILE_BYTES,
                    error: type[Error] = InputError, hint: str | None = None) -> bytes:
    """The bytes of ``path`` (``what`` names it in errors), at most ``limit`` of them.

    Raises ``error`` when the file cannot be read or holds more than ``limit`` bytes.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read {what} {name}: {exc.strerror}", hint=hint) from None
    if len(data) > limit:
        raise error(f"{what} {name} is over the {limit}-byte limit",
                    hint=hint or "is this the right file?")
    return data
