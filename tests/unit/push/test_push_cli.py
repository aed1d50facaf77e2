"""``signer push`` argument handling that needs no registry."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

import pytest

from signer.cli import push as push_cli
from signer.errors import InputError, UsageError
from signer.reference import parse_reference
from signer.registry.push import check_targets
from signer.registry.sources import open_source
from signer.testing.images import write_oci_layout


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    push_cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_targets_split_on_commas_and_arguments() -> None:
    args = _args("src", "h/a:1,h/b:2", " h/c ", "h/d,")
    assert push_cli._targets(args.images) == ["h/a:1", "h/b:2", "h/c", "h/d"]


def test_password_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGNER_REGISTRY_PASSWORD", raising=False)
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    assert push_cli._password(_args("s", "t")) is None
    with pytest.raises(UsageError):
        push_cli._password(_args("-u", "me", "s", "t"))
    monkeypatch.setenv("REGISTRY_PASSWORD", "from-env-2")
    assert push_cli._password(_args("-u", "me", "s", "t")) == "from-env-2"
    monkeypatch.setenv("SIGNER_REGISTRY_PASSWORD", "from-env-1")
    assert push_cli._password(_args("-u", "me", "s", "t")) == "from-env-1"
    monkeypatch.setattr(sys, "stdin", io.StringIO("from-stdin\n"))
    assert push_cli._password(_args("-u", "me", "--password-stdin", "s", "t")) == "from-stdin"
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(UsageError):
        push_cli._password(_args("-u", "me", "--password-stdin", "s", "t"))
    with pytest.raises(UsageError):
        push_cli._password(_args("--password-stdin", "s", "t"))


def test_password_in_argv_is_refused_without_echo(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        push_cli._password(_args("--password", "x", "s", "t"))
    image = write_oci_layout(tmp_path / "img", seed="argv")
    for flags in (["--password", "hunter2-secret"], ["--passw", "hunter2-secret"],
                  ["--password=hunter2-secret"]):
        done = subprocess.run([sys.executable, "-m", "signer", "push", *flags, image.source,
                               "127.0.0.1:5000/r:t"], capture_output=True, text=True,
                              check=False, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "hunter2" not in done.stdout + done.stderr
        assert len([x for x in done.stderr.splitlines() if x.startswith("Error:")]) == 1


def test_target_digest_must_be_the_source_digest(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="cli-digest")
    with open_source(image.source) as source:
        check_targets(source, [parse_reference(f"127.0.0.1:5000/r@{image.digest}"),
                               parse_reference("127.0.0.1:5000/r:t")])
        with pytest.raises(InputError):
            check_targets(source, [parse_reference(f"127.0.0.1:5000/r@sha256:{'1' * 64}")])
        with pytest.raises(InputError):
            check_targets(source, [])


def test_cli_module_imports_only_stdlib_at_top() -> None:
    code = ("import sys, signer.cli.push; "
            "print(sorted(m for m in ('requests', 'cryptography', 'signer.registry.client') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == "[]"


def test_in_process_push_leaves_the_cycle_collector_as_it_found_it(tmp_path: Path) -> None:
    import gc

    assert gc.isenabled() and gc.get_freeze_count() == 0
    with pytest.raises(InputError):
        push_cli.run(_args(str(tmp_path / "missing"), "127.0.0.1:9/app:v1"))
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        with pytest.raises(InputError):
            push_cli.run(_args(str(tmp_path / "missing"), "127.0.0.1:9/app:v1"))
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()
