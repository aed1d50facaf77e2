"""``signer sign`` argument parsing and lazy imports (no network)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from signer.cli.main import build_parser


def _parse(*argv: str) -> object:
    return build_parser("sign").parse_args(["sign", *argv])


def test_flags_as_cosign_names_them() -> None:
    args = _parse("--key", "k", "--tlog-upload=false", "-a", "a=b", "-a", "c=d=e",
                  "--recursive", "--signature-repository", "r.example/sigs", "--output",
                  "json", "--yes", "img:1", "img:2")
    assert args.tlog_upload is False  # type: ignore[attr-defined]
    assert args.annotations == [("a", "b"), ("c", "d=e")]  # type: ignore[attr-defined]
    assert args.images == ["img:1", "img:2"]  # type: ignore[attr-defined]
    assert _parse("x").tlog_upload is True  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", [["-a", "novalue", "x"], ["--tlog-upload=maybe", "x"], []])
def test_bad_flags_are_usage_errors(bad: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _parse(*bad)
    assert info.value.code == 2


def test_cli_modules_import_lazily() -> None:
    code = ("import sys, signer.cli.sign, signer.cli.generate_key_pair; "
            "print(sorted(m for m in ('requests', 'cryptography', 'jwt', 'nacl') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "[]"
