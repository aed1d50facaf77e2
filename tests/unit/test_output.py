"""The output boundary (signer/output.py): what each function lets through, exactly."""

from __future__ import annotations

import io
import json
import re
import sys
import unicodedata
from pathlib import Path

import pytest

from signer.errors import InputError
from signer.output import (
    ANNOTATION_LIMIT,
    error_lines,
    log_line,
    markdown_code,
    markdown_link,
    markdown_text,
    mask_commands,
    neutralise,
    report_value,
    shorten,
    terminal_json,
    workflow_command,
    write_lines,
    write_step_outputs,
)
from signer.testing.runner import parse_command_file

#: every character class neutralise() must make visible
HOSTILE = {
    "\r": "\\r", "\n": "\\n", "\t": "\\t", "\x00": "\\x00", "\x1b": "\\x1b", "\x07": "\\x07",
    "\x0b": "\\x0b", "\x0c": "\\x0c", "\x1c": "\\x1c", "\x7f": "\\x7f", "\x85": "\\x85",
    "\x9b": "\\x9b", "\u2028": "\\u2028", "\u2029": "\\u2029", "\u202e": "\\u202e",
    "\u2066": "\\u2066", "\u200f": "\\u200f", "\udcff": "\\udcff", "\u200b": "\\u200b",
    "\ufeff": "\\ufeff", "\U000e0041": "\\U000e0041",
}


@pytest.mark.parametrize(("char", "shown"), sorted(HOSTILE.items()))
def test_neutralise_makes_each_control_visible(char: str, shown: str) -> None:
    assert neutralise(f"a{char}b") == f"a{shown}b"


def test_every_invisible_or_control_character_is_escaped() -> None:
    unsafe = [chr(code) for code in range(sys.maxunicode + 1)
              if unicodedata.category(chr(code)) in ("Cc", "Cf", "Cs", "Zl", "Zp")]
    missed = [f"U+{ord(c):04X}" for c in unsafe if neutralise(c) == c]
    assert missed == []


def test_neutralise_keeps_printable_text_and_takes_any_value() -> None:
    text = "sha256:ab | <x> `y` ünïcode ✅ 日本"
    assert neutralise(text) == text
    assert neutralise(42) == "42" and neutralise(None) == "None"
    assert neutralise("x\r::add-mask::octo") == "x\\r::add-mask::octo"


def test_no_line_of_a_log_reads_as_a_workflow_command() -> None:
    assert log_line("::add-mask::x") == "\\x3a:add-mask::x"
    assert log_line("  \t::error::x") == "  \\t::error::x"  # tab escaped: not white space
    assert log_line("   ::error::x") == "   \\x3a:error::x"
    assert log_line("##[warning]x") == "\\x23#[warning]x"
    assert log_line("image: a::b") == "image: a::b"  # only the start of a line matters


def test_write_lines_writes_one_safe_line_each() -> None:
    stream = io.StringIO()
    write_lines(stream, ["ok", "x\r::stop-commands::zz", ""])
    assert stream.getvalue() == "ok\nx\\r::stop-commands::zz\n\n"


def test_error_lines_keep_a_multi_line_hint_as_lines() -> None:
    error = InputError("bad \x1b[2J thing", hint="first\n  second")
    assert error_lines(error) == ["Error: bad \x1b[2J thing", "  hint: first", "  second"]
    stream = io.StringIO()
    write_lines(stream, error_lines(error))
    assert stream.getvalue() == "Error: bad \\x1b[2J thing\n  hint: first\n  second\n"


def test_workflow_commands_escape_and_neutralise_every_part() -> None:
    command = workflow_command("error", "50% x\r::add-mask::y", title="a:b,c\n",
                               lines=["  hint: h\x1b"])
    assert command == "::error title=a%3Ab%2Cc\\n::50%25 x\\r::add-mask::y%0A  hint: h\\x1b"
    assert "\r" not in command and "\n" not in command
    assert workflow_command("endgroup") == "::endgroup::"


def test_masks_are_exact_per_line() -> None:
    assert mask_commands("one\r\n\ntwo%\n") == ["::add-mask::one", "::add-mask::two%25"]


def test_step_outputs_stay_one_line_under_any_line_break(tmp_path: Path) -> None:
    path = tmp_path / "out"
    hostile = "v\r\nother<<EOF\nx\nEOF\u2028\x85"
    write_step_outputs(path, {"identity": hostile, "verified": "true"})
    text = path.read_text()
    assert "\r" not in text and "\u2028" not in text and "\x85" not in text
    assert parse_command_file(text) == {"identity": neutralise(hostile), "verified": "true"}
    assert len(set(re.findall(r"<<(ghadelimiter_\w+)", text))) == 2


def test_markdown_text_escapes_every_metacharacter() -> None:
    shown = markdown_text("a|b<img src=x>`c` [l](javascript:x) *b* _i_ &amp; \\")
    assert shown == ("a\\|b\\<img src=x\\>\\`c\\` \\[l\\]\\(javascript:x\\) \\*b\\* \\_i\\_ "
                     "\\&amp; \\\\")
    assert markdown_text("https://github.com/o/r/.github/workflows/x.yml@refs/heads/main") \
        == "https://github.com/o/r/.github/workflows/x.yml@refs/heads/main"


def test_markdown_code_shows_any_value_exactly_inside_a_table() -> None:
    assert markdown_code("sha256:ab") == "`sha256:ab`"
    assert markdown_code("a`b") == "``a`b``"
    assert markdown_code("``x") == "``` ``x ```"
    assert markdown_code("a|b\n") == "`a\\|b\\n`"


def test_markdown_links_only_for_plain_http_urls() -> None:
    assert markdown_link(7, "https://search.sigstore.dev/?logIndex=7") == \
        "[7](https://search.sigstore.dev/?logIndex=7)"
    assert markdown_link(7, "javascript:alert(1)") == "7 \\(javascript:alert\\(1\\)\\)"
    assert markdown_link(7, "https://x/a)b") == "7 \\(https://x/a\\)b\\)"
    assert markdown_link(7, None) == "7"


def test_report_values_are_neutralised_at_every_depth() -> None:
    value = {"a\r": ["x\x1b", {"b": "\u2028"}], "n": 1, "t": True, "z": None}
    assert report_value(value) == {"a\\r": ["x\\x1b", {"b": "\\u2028"}], "n": 1, "t": True,
                                   "z": None}


def test_terminal_json_is_the_same_json_without_raw_controls() -> None:
    value = [{"k": "a\x85b\x9b\x7f\u2028\u202e c\r\n\U000e0041", "n": [1, 2]}]
    for raw in (json.dumps(value, ensure_ascii=False),
                json.dumps(value, ensure_ascii=False, indent=2)):
        safe = terminal_json(raw)
        assert json.loads(safe) == value
        assert not re.search("[\x7f-\x9f\u2028\u2029\u202e\U000e0041]", safe)


def test_long_outside_text_is_shortened_where_it_has_a_limit() -> None:
    assert shorten("abcdef", 4) == "abcd… (2 more characters)"
    assert shorten("abc", 4) == "abc" and shorten("x" * 9000, None) == "x" * 9000
    command = workflow_command("error", "e" * 100_000, lines=["h" * 100_000])
    assert len(command) < 2 * ANNOTATION_LIMIT + 200
    assert markdown_text("|" * 5000, 10) == "\\|" * 10 + "… \\(4990 more characters\\)"
    assert markdown_code("`" * 5000, 3) == "```` ```… (4997 more characters) ````"
