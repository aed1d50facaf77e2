"""Reading single action inputs (layer L5): ``INPUT_*`` variables, booleans, paths,
URLs and regular expressions, each refused with an :class:`InputProblem` naming it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path


class InputProblem(Exception):
    """One bad action input: ``name`` is the input's name as written in a workflow."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


TRUE_WORDS = {"true", "yes", "1", "on"}


FALSE_WORDS = {"false", "no", "0", "off", ""}


IMAGE_SEPARATORS = re.compile(r"[\s,]+")


def input_value(env: Mapping[str, str], name: str) -> str:
    """The raw value of input ``name`` (``registry-username`` -> ``INPUT_REGISTRY_USERNAME``)."""
    return env.get("INPUT_" + name.upper().replace("-", "_"), "").strip()


def parse_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean input: true/false (also yes/no, 1/0, on/off); empty means ``default``."""
    raw = input_value(env, name)
    if not raw:
        return default
    lowered = raw.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise InputProblem(name, f"expected true or false, got {raw!r}")


def split_images(text: str) -> list[str]:
    """Image references from newline-, comma- or space-separated text, in order, deduplicated."""
    seen: dict[str, None] = {}
    for part in IMAGE_SEPARATORS.split(text):
        if part:
            seen.setdefault(part, None)
    return list(seen)


def check_url(name: str, value: str) -> str | None:
    """The http(s) URL input ``name`` without a trailing slash (None when empty); a
    problem if it is no such URL or holds credentials, which are never echoed."""
    if not value:
        return None
    if not re.match(r"^https?://[^\s/]+", value):
        shown = "" if "@" in value else f", got {value!r}"  # 'ftp://user:pw@host'
        raise InputProblem(name, f"expected an http(s) URL{shown}")
    if "@" in value.split("://", 1)[1].split("/", 1)[0]:
        # the URL is echoed into logs, outputs and the job summary: no credentials in it
        raise InputProblem(name, "the URL must not hold a user name or password")
    return value.rstrip("/")


def check_regexp(name: str, value: str) -> str | None:
    """The regular expression input ``name`` (None when empty); a problem if it does
    not compile."""
    if not value:
        return None
    try:
        re.compile(value)
    except re.error as exc:
        raise InputProblem(name, f"invalid regular expression: {exc}") from None
    return value


def check_path(name: str, value: str, workspace: Path) -> str | None:
    """The path input ``name`` made absolute against ``workspace`` (None when empty);
    a problem if nothing is there."""
    if not value:
        return None
    path = Path(value)
    if not path.is_absolute():
        path = workspace / path
    if not path.exists():
        raise InputProblem(name, f"no such file or directory: {value}")
    return str(path)


def is_pem(text: str) -> bool:
    """True if ``text`` is PEM content rather than a path."""
    return text.lstrip().startswith("-----BEGIN ")
