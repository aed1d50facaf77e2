"""The output boundary (layer L5): the one place where text from outside is made safe.

Registry bodies and headers, annotations, payloads, certificate fields, bundle and
Rekor JSON, error bodies and file names can hold anything. Every piece of text the
CLI or the action shows passes through this module on its way to a terminal, a CI
log, ``$GITHUB_OUTPUT``, the job summary or the JSON report:

* :func:`neutralise` turns any value into one display-safe line: line breaks (CR, LF,
  NEL, U+2028/U+2029, VT, FF, the C0 separators), every other C0 and C1 control
  (ESC, so no terminal escape sequence survives), DEL, invisible format characters
  (bidi overrides, zero-width characters, tag characters) and unpaired surrogates are
  written as visible escapes (``\\r``, ``\\x1b``, ``\\u202e``);
* :func:`log_line` also defuses a line that a GitHub runner would read as a workflow
  command (``::name::`` or ``##[name]`` after leading white space);
* :func:`write_lines` writes such lines to a stream, :func:`error_lines` formats an
  :class:`~signer.errors.Error`;
* :func:`workflow_command` builds the action's own commands with their values
  escaped; :func:`write_step_outputs` appends ``$GITHUB_OUTPUT`` values;
* :func:`markdown_text`, :func:`markdown_code` and :func:`markdown_link` render values
  in the job summary without breaking its tables, code spans or links, and without
  raw HTML;
* :func:`report_value` neutralises every string of a JSON report,
  :func:`terminal_json` keeps serialised JSON valid and unchanged in meaning while
  no raw control character reaches a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from signer.errors import Error

#: longest message (and hint line) of a workflow annotation, in characters
ANNOTATION_LIMIT = 4000
#: longest value in one cell of the job summary, in characters: GitHub drops a step's
#: whole summary above 1 MiB, and an image's error joins every signature's reason
SUMMARY_CELL_LIMIT = 1000
_SHORT_ESCAPES = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}
#: Unicode format characters (category Cf): invisible, yet they change what is shown --
#: bidirectional overrides ("Trojan Source"), zero-width spaces and joiners, the BOM,
#: interlinear annotations, tag characters ("ASCII smuggling")
_FORMAT = ("\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
           "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
           "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
           "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f")
#: what :func:`terminal_json` escapes: DEL, C1 (NEL among them), the Unicode line and
#: paragraph separators, format characters and lone surrogates -- not the C0 range,
#: which a JSON serialiser escapes inside strings and uses raw (LF, space) between tokens
_UNSAFE_IN_JSON = re.compile(f"[\x7f-\x9f\u2028\u2029{_FORMAT}\ud800-\udfff]")
#: everything :func:`neutralise` escapes: the above and every C0 control
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_FORMAT}\ud800-\udfff]")
#: a line the runner would execute: ``::cmd`` or the older ``##[cmd``
_COMMAND_START = re.compile(r"^(\s*)(::|##\[)")
#: characters that mean something in GitHub-flavoured Markdown or HTML inline text
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~&\"'])")
_URL_SAFE = re.compile(r"^https?://[^\s<>()\[\]`|\"'\\]+$")


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def neutralise(value: object) -> str:
    """``value`` as one line with every control, line break and bidi override made
    visible as an escape (``\\r``, ``\\x1b``, ``\\u2028``); printable text unchanged."""
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(_escape, text)


def shorten(text: str, limit: int | None) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out (None: all)."""
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def log_line(text: str) -> str:
    """One neutralised log line that no runner reads as a workflow command."""
    line = neutralise(text)
    match = _COMMAND_START.match(line)
    if match is None:
        return line
    marker = match.group(2)
    escaped = "\\x3a:" if marker == "::" else "\\x23#["
    return match.group(1) + escaped + line[match.end():]


def write_lines(stream: IO[str], lines: Iterable[str]) -> None:
    """Write each of ``lines`` as one safe line (see :func:`log_line`) and flush."""
    stream.write("".join(log_line(line) + "\n" for line in lines))
    stream.flush()


def hint_lines(hint: str | None) -> list[str]:
    """``  hint: ...`` and the further lines of a (multi-line) hint, not yet escaped."""
    if not hint:
        return []
    first, *rest = hint.split("\n")
    return [f"  hint: {first}", *rest]


def error_lines(error: Error, prefix: str = "Error: ") -> list[str]:
    """An error as the lines a user sees: the message, then its hint (not yet escaped)."""
    return [prefix + error.message, *hint_lines(error.hint)]


# --------------------------------------------------------------------------- runner


def command_data(text: str) -> str:
    """The message part of a workflow command, escaped as the runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def command_property(text: str) -> str:
    """A property value of a workflow command (also ``:`` and ``,`` escaped)."""
    return command_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, message: str = "", *, lines: Iterable[str] = (),
                     **properties: str | None) -> str:
    """``::name key=value,...::message`` with outside text neutralised.

    ``message`` and each of ``lines`` is neutralised and shortened to
    :data:`ANNOTATION_LIMIT` characters (the log lines around it have the rest); the
    extra ``lines`` follow the message as further lines of the same annotation (a hint).
    """
    body = "\n".join(shorten(neutralise(part), ANNOTATION_LIMIT)
                     for part in [message, *lines])
    props = ",".join(f"{key}={command_property(neutralise(value))}"
                     for key, value in properties.items() if value)
    return f"::{name}{' ' + props if props else ''}::{command_data(body)}"


def mask_commands(secret: str) -> list[str]:
    """``::add-mask::`` lines for each non-blank line of ``secret`` (exact, not
    neutralised: the runner must see the value it is to hide)."""
    return [f"::add-mask::{command_data(part)}" for part in secret.splitlines()
            if part.strip()]


def write_step_outputs(path: Path, outputs: Mapping[str, str]) -> None:
    """Append ``outputs`` to a ``$GITHUB_OUTPUT`` file, each value neutralised.

    Each is written as ``name<<DELIMITER`` ... ``DELIMITER`` with a fresh random
    delimiter; a neutralised value holds no line break, so no value can end the block
    early or add another output, whatever the runner counts as a line break.
    """
    import secrets  # only the action writes outputs: kept out of every CLI start-up

    with path.open("a", encoding="utf-8") as handle:
        for name, value in outputs.items():
            safe = neutralise(value)
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
            while delimiter in safe:  # pragma: no cover - 2**-128
                delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
            handle.write(f"{neutralise(name)}<<{delimiter}\n{safe}\n{delimiter}\n")


# --------------------------------------------------------------------------- Markdown


def markdown_text(value: object, limit: int | None = None) -> str:
    """``value`` as literal Markdown inline text (for a table cell or a heading).

    Every character with a meaning in GitHub-flavoured Markdown or HTML is
    backslash-escaped, so ``|`` cannot split a table cell, ``<`` cannot open a tag,
    a backtick cannot open a code span and ``[`` cannot start a link. With ``limit``
    the (neutralised) text is shortened first.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", shorten(neutralise(value), limit))


def markdown_code(value: object, limit: int | None = None) -> str:
    """``value`` as a Markdown code span that shows it exactly (safe in a table).

    The fence is one backtick longer than the longest run of backticks inside, padded
    with spaces when the value starts or ends with one; ``|`` is escaped, as a GFM
    table requires even inside code. With ``limit`` the text is shortened first.
    """
    text = shorten(neutralise(value), limit).replace("|", "\\|")
    runs = [len(run) for run in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_link(label: object, url: str | None) -> str:
    """``[label](url)`` if ``url`` is a plain http(s) URL, else the label as text."""
    if url and _URL_SAFE.match(url):
        return f"[{markdown_text(label)}]({url})"
    return markdown_text(label if url is None else f"{label} ({url})")


# --------------------------------------------------------------------------- JSON


def report_value(value: Any) -> Any:
    """A copy of a JSON-able ``value`` with every string (and key) neutralised."""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, Mapping):
        return {neutralise(k): report_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [report_value(v) for v in value]
    return value


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    high, low = divmod(code - 0x10000, 0x400)  # JSON spells astral characters as a pair
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"


def terminal_json(text: str) -> str:
    """Serialised JSON with the raw controls a serialiser may leave (DEL, C1, bidi,
    U+2028/9) written as ``\\uXXXX``: the same JSON value, nothing a terminal acts on.

    Such characters can only occur inside JSON strings, where the escape is exact.
    """
    return _UNSAFE_IN_JSON.sub(_json_escape, text)
