"""``signer initialize``: which repository is remembered, and with which root."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer.cli.main import main
from signer.errors import TrustError
from signer.services.tuf.instances import (
    PUBLIC_GOOD_MIRROR,
    STAGING_MIRROR,
    choose_instance,
    public_good,
    remembered_instance,
    staging,
)
from tests.integration.tuf.conftest import Served


def test_initialize_remembers_a_private_repository_and_its_root(
        served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "base"
    monkeypatch.setenv("TUF_ROOT", str(base))
    assert main(["initialize", "--mirror", served.url + "/", "--root",
                 str(served.repo.root_path)]) == 0
    err = capsys.readouterr().err
    assert f"Initialized TUF repository {served.url}\n" in err
    assert "2 transparency log(s)" in err and "signing config: yes" in err
    remembered = remembered_instance(base)
    assert remembered.mirror == served.url
    assert remembered.bootstrap_root == served.repo.root_path.read_bytes()


def test_initialize_refuses_a_repository_it_cannot_verify(
        served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "base"
    monkeypatch.setenv("TUF_ROOT", str(base))
    # staging's root does not sign this repository's metadata
    other_root = tmp_path / "root.json"
    other_root.write_bytes(staging().bootstrap_root)
    assert main(["initialize", "--mirror", served.url, "--root", str(other_root)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"Error: TUF repository {served.url}: refused")
    assert not (base / "instance.json").exists()  # nothing remembered


def test_choose_instance_defaults() -> None:
    assert choose_instance(None, None, False) == public_good()
    assert choose_instance(None, None, True) == staging()
    assert choose_instance(STAGING_MIRROR + "/", None, False) == staging()
    mirror = choose_instance("https://mirror.example/tuf", None, False)
    assert mirror.bootstrap_root == public_good().bootstrap_root  # a public-good mirror
    assert mirror.mirror != PUBLIC_GOOD_MIRROR
    with pytest.raises(TrustError):
        choose_instance("file:///etc", None, False)
    with pytest.raises(TrustError):
        choose_instance("https://user:pw@mirror.example", None, False)


def test_a_root_file_that_is_not_tuf_root_metadata_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "trusted_root.json"
    path.write_text('{"mediaType": "application/vnd.dev.sigstore.trustedroot+json"}')
    with pytest.raises(TrustError) as caught:
        choose_instance("https://tuf.example", str(path), False)
    assert "not TUF root metadata" in caught.value.message


def test_without_initialize_the_instance_is_public_good(tmp_path: Path) -> None:
    assert remembered_instance(tmp_path) == public_good()
