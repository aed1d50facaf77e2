"""Every sc-* case through the sigstore-conformance CLI protocol adapter, exactly as its
expected.json's ``conformance_cli`` states, with the artifact path and its digest."""

from __future__ import annotations

import hashlib
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
    assert adapter.translate_sign(["sign-bundle", "--identity-token", "tok", "--bundle", "b",
                                   "--signing-config", "s", "file"]) == (
        ["sign-blob", "--bundle", "b", "--signing-config", "s", "file"], "tok")
    assert adapter.translate_sign(["sign-bundle", "--in-toto", "--identity-token", "tok",
                                   "--bundle", "b", "--trusted-root", "t", "st.json"]) == (
        ["attest-blob", "--bundle", "b", "--trusted-root", "t", "--statement", "st.json"], "tok")
    with pytest.raises(ValueError, match="not supported"):
        adapter.translate_sign(["sign-bundle", "--staging", "--identity-token", "tok",
                                "--bundle", "b", "file"])


@pytest.mark.slow
def test_adapter_runs_as_a_script(conformance_dir: Path) -> None:
    case = load_case("sc-happy-path-v0.2")
    script = Path(adapter.__file__).resolve()
    env = {**os.environ, "PYTHONPATH": str(script.parents[3])}
    done = subprocess.run([sys.executable, str(script), *case.expected["conformance_cli"]],
                          cwd=case.path, capture_output=True, text=True, timeout=60,
                          check=False, env=env)
    assert done.returncode == 0, done.stderr


def test_only_a_sha256_digest_of_the_right_length_is_a_digest() -> None:
    """Issue 13 item 8: the protocol's digest form is ``sha256:<64 hex>``; anything
    else is an artifact path."""
    for target in ("sha384:" + "a" * 96, "sha512:" + "a" * 128, "sha256:" + "a" * 63,
                   "sha256:" + "a" * 65, "sha256:" + "A" * 64, "sha256:"):
        assert adapter.translate(["verify-bundle", "--bundle", "b", target]) == [
            "verify-blob", "--bundle", "b", target], target


def test_an_existing_file_named_like_a_digest_is_a_path(
        conformance_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A file called ``sha256:<hex>`` (here: the hex of other bytes) is verified as
    the file it is, not as the digest its name spells."""
    case = load_case("sc-happy-path-v0.2")
    argv = list(case.expected["conformance_cli"])
    for flag in ("--bundle", "--trusted-root"):
        position = argv.index(flag) + 1
        argv[position] = str((case.path / argv[position]).resolve())
    name = "sha256:" + hashlib.sha256(b"other bytes").hexdigest()
    (tmp_path / name).write_bytes((case.path / "artifact").read_bytes())
    argv[-1] = name
    monkeypatch.chdir(tmp_path)
    code = adapter.main(argv)
    assert code == 0, capsys.readouterr().err
