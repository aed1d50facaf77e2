"""The runner's console (layer L5): workflow commands and log lines on stdout.

Every value goes through the output boundary (:mod:`signer.output`): a plain line can
never read as a workflow command, a command's message and properties are neutralised
and escaped, and secrets are masked exactly as given.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from signer import output


class Console:
    """Writes workflow commands and log lines to one stream (stdout by default).

    Every value passes through the output boundary (:mod:`signer.output`): plain
    lines are neutralised and can never read as a workflow command, command messages
    and properties are neutralised and escaped, secrets are masked exactly.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def line(self, text: str = "") -> None:
        """One plain log line (outside text in it is made harmless)."""
        self._write(output.log_line(text))

    def commands(self, commands: Sequence[str]) -> None:
        """Workflow commands already built by :func:`signer.output.workflow_command`
        (their values neutralised and escaped there), one per line."""
        for command in commands:
            self._write(command)

    def mask(self, value: str) -> None:
        """Ask the runner to hide ``value`` (each line of it) in every later log line."""
        for command in output.mask_commands(value):
            self._write(command)

    def error(self, message: str, title: str | None = None, hint: str | None = None) -> None:
        """An error annotation: the message, then the hint on a second line."""
        self._write(output.workflow_command("error", message, title=title,
                                            lines=output.hint_lines(hint)))

    def warning(self, message: str, title: str | None = None, file: str | None = None) -> None:
        """A warning annotation (on ``file``, relative to the workspace, when given)."""
        self._write(output.workflow_command("warning", message, title=title, file=file))

    def notice(self, message: str) -> None:
        """A notice annotation."""
        self._write(output.workflow_command("notice", message))

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsible log group."""
        self._write(output.workflow_command("group", title))
        try:
            yield
        finally:
            self._write("::endgroup::")


def write_outputs(path: Path, outputs: Mapping[str, str]) -> None:
    """Append ``outputs`` to a ``$GITHUB_OUTPUT`` file (see
    :func:`signer.output.write_step_outputs`: neutralised, random delimiters)."""
    output.write_step_outputs(path, outputs)
