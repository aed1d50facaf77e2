"""The TUF cache shared by processes running at once, and where it lives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from signer.services.tuf.cache import cache_base, repository_dir
from tests.integration.tuf.conftest import TRUSTED_ROOT, Served

_CHILD = """
import sys
from pathlib import Path
from signer.services.tuf.client import load_trust
from signer.services.tuf.instances import TufInstance
instance = TufInstance(sys.argv[1], Path(sys.argv[2]).read_bytes())
for _ in range(8):
    trust = load_trust(instance, Path(sys.argv[3]))
    assert trust.origin == "online", trust.origin
    sys.stdout.write(str(len(trust.trusted_root.tlogs)))
"""


@pytest.mark.slow
def test_processes_updating_one_cache_at_once_all_succeed(served: Served) -> None:
    children = [subprocess.Popen([sys.executable, "-c", _CHILD, served.url,
                                  str(served.repo.root_path), str(served.cache)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(4)]
    for round_ in range(10):  # the repository changes while they update
        served.repo.publish_targets({"signing_config.v0.2.json": f"{round_}\n".encode()})
        if round_ == 5:
            served.repo.rotate_root(2, 2)
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert out == "2" * 8
    final = served.load()
    assert final.signing_config == b"9\n"
    targets = repository_dir(served.cache, served.url) / "targets"
    assert (targets / "trusted_root.json").read_bytes() == TRUSTED_ROOT
    assert not [p for p in targets.iterdir() if p.name.startswith(".")]  # no temp files left


def test_the_cache_base_is_tuf_root_else_the_user_cache(tmp_path: Path) -> None:
    assert cache_base({"TUF_ROOT": str(tmp_path)}) == tmp_path
    if sys.platform.startswith("linux"):
        assert cache_base({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "signer" / "tuf"
        assert cache_base({}) == Path.home() / ".cache" / "signer" / "tuf"
    assert repository_dir(tmp_path, "https://tuf.example/a").name == "https%3A%2F%2Ftuf.example%2Fa"
