"""The console-script entry point: exit code from main(), collector frozen before exit."""

from __future__ import annotations

import gc
from unittest import mock

import pytest

from signer.cli import main as cli_main


def test_entry_exits_with_main_code_after_freezing_the_collector() -> None:
    calls: list[str] = []

    def fake_main() -> int:
        calls.append("main")
        return 3

    with mock.patch.object(cli_main, "main", fake_main), \
            mock.patch.object(gc, "freeze", lambda: calls.append("freeze")), \
            pytest.raises(SystemExit) as exited:
        cli_main.entry()
    assert exited.value.code == 3
    assert calls == ["main", "freeze"]
