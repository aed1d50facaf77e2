"""Every sc-* case through the sigstore-conformance CLI protocol adapter, exactly as its
expected.json's ``conformance_cli`` states, with the artifact path and its digest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.bundle import sigstore_conformance_cli as adapter
from tests.integration.bundle.conftest import BUNDLE_CASES, load_case

_SC = [name for name in BUNDLE_CASES if load_case(name).expected.get("conformance_cli")]


def test_all_sigstore_conformance_cases_have_a_protocol_call() -> None:
    assert len(_SC) == len([n for n in BUNDLE_CASES if n.startswith("sc-")]) > 60


@pytest.mark.parametrize("name", _SC)
@pytest.mark.parametrize("form", ["path", "digest"])
def test_protocol_call(name: str, form: str, conformance_dir: Path,
                       monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    case = load_case(name)
    argv = list(case.expected["conformance_cli"])
    if form == "digest":
        argv[-1] = case.expected["artifact_digest"]
    monkeypatch.chdir(case.path)  # the protocol's paths are relative to the case folder
    code = adapter.main(argv)
    err = capsys.readouterr().err
    assert (code == 0) == case.expect_pass, err


def test_translation() -> None:
    assert adapter.translate(["verify-bundle", "--bundle", "b", "sha256:" + "a" * 64]) == [
        "verify-blob", "--bundle", "b", "--digest", "sha256:" + "a" * 64]
    assert adapter.translate(["verify-bundle", "--bundle", "b", "file"]) == [
        "verify-blob", "--bundle", "b", "file"]
    with pytest.raises(ValueError):
        adapter.translate(["sign-bundle", "--bundle", "b", "file"])


@pytest.mark.slow
def test_adapter_runs_as_a_script(conformance_dir: Path) -> None:
    case = load_case("sc-happy-path-v0.2")
    script = Path(adapter.__file__).resolve()
    env = {**os.environ, "PYTHONPATH": str(script.parents[3])}
    done = subprocess.run([sys.executable, str(script), *case.expected["conformance_cli"]],
                          cwd=case.path, capture_output=True, text=True, timeout=60,
                          check=False, env=env)
    assert done.returncode == 0, done.stderr
