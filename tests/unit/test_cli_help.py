"""``signer --help`` and ``signer COMMAND --help``: complete, with examples, exit 0."""

from __future__ import annotations

import argparse

import pytest

from signer.cli.main import COMMANDS, build_parser, main


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_lists_commands_exit_codes_and_environment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _help(capsys)
    for name in COMMANDS:
        assert name in text
    for code in ("10", "11", "12"):
        assert f"\n  {code}  " in text
    assert "COSIGN_PASSWORD" in text and "SIGSTORE_ID_TOKEN" in text


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_help_has_examples_that_use_the_command(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    text = _help(capsys, command)
    examples = text.split("examples:\n", 1)[1]
    assert f"signer {command} " in examples


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_has_a_help_string(command: str) -> None:
    parser = build_parser(command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        action.option_strings or action.dest
        for action in sub.choices[command]._actions
        if not action.help and action.help is not argparse.SUPPRESS
    ]
    assert missing == []
