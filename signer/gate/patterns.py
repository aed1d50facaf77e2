"""Which policy rule applies to an image: Connaisseur's glob and specificity (layer L2).

An image is named as Connaisseur names it (go-containerregistry's fully qualified
form: ``index.docker.io/library/nginx:latest``, ``REPO:TAG@DIGEST`` when both are
given). A pattern matches when it matches that name with ``*`` added at both ends
(so ``docker.io/x/*:*`` matches ``index.docker.io/x/y:1``); ``*`` crosses ``/``,
``?`` is one character, ``[...]``/``[!...]`` a class, ``{a,b}`` alternatives.

Of all matching rules the most specific wins, two at a time in policy order:

1. the pattern with more ``/``-separated components;
2. else, from the leftmost component on, the longer common prefix of the pattern
   component and the image component;
3. else, from the leftmost component on, the longer pattern component;
4. a complete tie goes to the later rule (as Connaisseur's comparison does).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, TypeVar

from signer.reference import Reference


class PatternError(ValueError):
    """A pattern that is not a valid glob."""


def _class(pattern: str, start: int) -> tuple[str, int]:
    end = pattern.find("]", start + 1)
    if end == -1:
        raise PatternError(f"unclosed '[' in pattern {pattern!r}")
    body = pattern[start + 1:end]
    negate = body.startswith("!")
    if negate:
        body = body[1:]
    if not body:
        raise PatternError(f"empty character class in pattern {pattern!r}")
    escaped = "".join("\\" + c if c in "\\^]" else c for c in body)
    return ("[^" if negate else "[") + escaped + "]", end + 1


def _translate(pattern: str) -> str:
    out: list[str] = []
    index, depth = 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            text, index = _class(pattern, index)
            out.append(text)
            continue
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        elif char == "," and depth:
            out.append("|")
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        else:
            out.append(re.escape(char))
        index += 1
    if depth:
        raise PatternError(f"unclosed '{{' in pattern {pattern!r}")
    return "".join(out)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression of a Connaisseur pattern (with its implicit ``*`` ends)."""
    wrapped = pattern if pattern.startswith("*") else "*" + pattern
    wrapped = wrapped if wrapped.endswith("*") else wrapped + "*"
    return re.compile(_translate(wrapped), re.DOTALL)


def connaisseur_name(image: Reference) -> str:
    """The image name rules are matched against (``REPO[:TAG][@DIGEST]``, ``:latest``
    when neither a tag nor a digest is given)."""
    name = image.repository_name
    if image.tag or not image.digest:
        name += f":{image.tag or 'latest'}"
    if image.digest:
        name += f"@{image.digest}"
    return name


class PatternRule(Protocol):
    """Anything with a pattern and its compiled matcher (a policy rule)."""

    @property
    def pattern(self) -> str: ...

    @property
    def matcher(self) -> re.Pattern[str]: ...


R = TypeVar("R", bound=PatternRule)


def _common_prefix(a: str, b: str) -> int:
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def _specificity(pattern: str, image_name: str) -> tuple[int, list[int], list[int]]:
    components = pattern.split("/")
    image_components = image_name.split("/")
    prefixes = []
    for index, component in enumerate(components):
        other = image_components[index] if index < len(image_components) else ""
        prefixes.append(_common_prefix(component, other))
    return len(components), prefixes, [len(c) for c in components]


def more_specific(challenger: str, holder: str, image_name: str) -> bool:
    """True if pattern ``challenger`` beats (or ties with) ``holder`` for ``image_name``."""
    count_a, prefixes_a, lengths_a = _specificity(challenger, image_name)
    count_b, prefixes_b, lengths_b = _specificity(holder, image_name)
    if count_a != count_b:
        return count_a > count_b
    for a, b in zip(prefixes_a, prefixes_b, strict=True):
        if a != b:
            return a > b
    for a, b in zip(lengths_a, lengths_b, strict=True):
        if a != b:
            return a > b
    return True


def most_specific_rule(rules: Sequence[R], image_name: str) -> R | None:
    """The rule that applies to ``image_name`` (a :func:`connaisseur_name`), or None."""
    best: R | None = None
    for rule in rules:
        if rule.matcher.fullmatch(image_name) is None:
            continue
        if best is None or more_specific(rule.pattern, best.pattern, image_name):
            best = rule
    return best
