import pytest

from signer.digest import check_digest, parse_digest, sha256_digest
from signer.errors import DigestMismatchError, InputError


def test_sha256_round_trip() -> None:
    d = sha256_digest(b"hello")
    assert str(d) == "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert parse_digest(str(d)) == d
    assert d.tag_form.startswith("sha256-")
    check_digest(d, b"hello")


@pytest.mark.parametrize("bad", ["sha256:abc", "md5:" + "a" * 32, "sha256:" + "A" * 64, "nocolon",
                                 "sha256:" + "g" * 64, ""])
def test_bad_digests(bad: str) -> None:
    with pytest.raises(InputError):
        parse_digest(bad)


def test_mismatch() -> None:
    with pytest.raises(DigestMismatchError):
        check_digest(sha256_digest(b"a"), b"b")
