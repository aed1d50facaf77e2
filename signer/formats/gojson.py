"""JSON serialised byte-for-byte as Go's ``encoding/json`` writes it."""

from __future__ import annotations

import json
from typing import Any

_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def go_json_text(value: Any, *, sort_keys: bool = False) -> str:
    """:func:`go_json` as text, before UTF-8 encoding (a lone surrogate, which a JSON
    escape in parsed input can carry, stays in it for the caller to escape)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    for raw, escaped in _GO_ESCAPES.items():
        text = text.replace(raw, escaped)
    return text


def go_json(value: Any, *, sort_keys: bool = False) -> bytes:
    """Compact JSON with Go's HTML-safe escaping; dict order kept unless ``sort_keys``.

    ``<``, ``>`` and ``&`` only ever occur inside JSON strings, so escaping them in
    the serialised text is exact.
    """
    return go_json_text(value, sort_keys=sort_keys).encode("utf-8")
