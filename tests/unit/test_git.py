"""``--changed-from``: the files a checkout changed since a ref, in a real git repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from signer.errors import InputError, UsageError
from signer.git import changed_files


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                    "-c", "init.defaultBranch=main", *args],
                   cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q")
    for name in ("kept.yaml", "edited.yaml", "committed.yaml", "deleted.yaml"):
        (root / name).write_text(f"{name}\n")
    (root / ".gitignore").write_text("ignored.yaml\n")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "base")
    _git(root, "checkout", "-q", "-b", "change")
    (root / "committed.yaml").write_text("changed and committed\n")
    _git(root, "commit", "-q", "-am", "change")
    return root


def test_committed_uncommitted_and_new_files_count_deleted_and_ignored_do_not(
        repo: Path) -> None:
    (repo / "edited.yaml").write_text("changed, not committed\n")
    (repo / "deleted.yaml").unlink()
    (repo / "deploy").mkdir()
    (repo / "deploy" / "new.yaml").write_text("a file not yet added\n")
    (repo / "ignored.yaml").write_text("ignored by .gitignore\n")
    found = changed_files("main", str(repo))
    expected = {"committed.yaml", "edited.yaml", os.path.join("deploy", "new.yaml")}
    assert found == {os.path.realpath(repo / name) for name in expected}


def test_from_a_subdirectory_paths_are_still_the_repository_s(repo: Path) -> None:
    (repo / "sub").mkdir()
    (repo / "sub" / "new.yaml").write_text("new\n")
    found = changed_files("main", str(repo / "sub"))
    assert found == {os.path.realpath(repo / "committed.yaml"),
                     os.path.realpath(repo / "sub" / "new.yaml")}


def test_a_ref_that_reads_as_an_option_or_is_unknown_is_one_line(repo: Path) -> None:
    with pytest.raises(UsageError, match="is not a git ref"):
        changed_files("--output=x", str(repo))
    with pytest.raises(InputError, match="git merge-base failed"):
        changed_files("no-such-ref", str(repo))
