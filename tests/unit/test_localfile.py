"""The bounded reader of local files a user names: its limit is exact."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import pytest

from signer.errors import InputError, TrustError
from signer.localfile import read_local_file


def test_a_file_of_exactly_the_limit_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(b"k" * 10)
    assert read_local_file(path, "key file", limit=10) == b"k" * 10


def test_one_byte_over_the_limit_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(b"k" * 11)
    with pytest.raises(InputError) as raised:
        read_local_file(path, "key file", limit=10)
    assert raised.value.message == f"key file {path} is over the 10-byte limit"


def test_an_unreadable_file_is_one_line_of_the_error_type_asked_for(tmp_path: Path) -> None:
    missing = tmp_path / "absent.pem"
    with pytest.raises(TrustError) as raised:
        read_local_file(missing, "chain", error=TrustError)
    assert raised.value.message == f"cannot read chain {missing}: No such file or directory"
    with pytest.raises(InputError, match=r"cannot read bundle .*: Is a directory"):
        read_local_file(tmp_path, "bundle")


def test_reads_no_more_than_the_limit_and_one_byte(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * (1 << 20))
    sizes: list[int] = []
    real_open = open

    class Recording:
        def __init__(self, handle: IO[bytes]) -> None:
            self.handle = handle

        def __enter__(self) -> Recording:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def read(self, size: int) -> bytes:
            sizes.append(size)
            return self.handle.read(size)

    monkeypatch.setattr("builtins.open", lambda name, _mode: Recording(real_open(name, "rb")))
    with pytest.raises(InputError, match="over the 3-byte limit"):
        read_local_file(path, "token", limit=3)
    assert sizes == [4]
