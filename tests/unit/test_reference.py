"""Image reference parsing, table-driven against Docker's normalisation rules."""

from __future__ import annotations

import pytest

from signer.errors import InputError
from signer.reference import Reference, is_loopback_host, parse_reference, split_host_port

D = "sha256:" + "a" * 64
D2 = "sha256:" + "0123456789abcdef" * 4
D512 = "sha512:" + "b" * 128

# text -> (registry, repository, tag, digest)
VALID: list[tuple[str, tuple[str, str, str | None, str | None]]] = [
    ("alpine", ("docker.io", "library/alpine", None, None)),
    ("alpine:3.19", ("docker.io", "library/alpine", "3.19", None)),
    ("alpine:latest", ("docker.io", "library/alpine", "latest", None)),
    (f"alpine@{D}", ("docker.io", "library/alpine", None, D)),
    (f"alpine:3@{D}", ("docker.io", "library/alpine", "3", D)),
    ("library/alpine", ("docker.io", "library/alpine", None, None)),
    ("docker.io/alpine", ("docker.io", "library/alpine", None, None)),
    ("docker.io/library/alpine:edge", ("docker.io", "library/alpine", "edge", None)),
    ("index.docker.io/alpine", ("docker.io", "library/alpine", None, None)),
    ("index.docker.io/foo/bar", ("docker.io", "foo/bar", None, None)),
    ("sigstore/cosign:v2", ("docker.io", "sigstore/cosign", "v2", None)),
    ("user/repo/deep/path:t", ("docker.io", "user/repo/deep/path", "t", None)),
    ("ghcr.io/owner/app", ("ghcr.io", "owner/app", None, None)),
    ("ghcr.io/owner/app:v1.2.3", ("ghcr.io", "owner/app", "v1.2.3", None)),
    (f"ghcr.io/owner/app:v1@{D2}", ("ghcr.io", "owner/app", "v1", D2)),
    (f"ghcr.io/owner/app@{D512}", ("ghcr.io", "owner/app", None, D512)),
    ("localhost/app", ("localhost", "app", None, None)),
    ("localhost:5000/app:dev", ("localhost:5000", "app", "dev", None)),
    ("127.0.0.1:5000/x/y", ("127.0.0.1:5000", "x/y", None, None)),
    ("127.0.0.1:5000/x/y:1", ("127.0.0.1:5000", "x/y", "1", None)),
    ("10.0.0.1/repo", ("10.0.0.1", "repo", None, None)),
    ("[::1]:5000/app", ("[::1]:5000", "app", None, None)),
    ("[::1]/app:tag", ("[::1]", "app", "tag", None)),
    ("[2001:db8::1]:443/ns/app", ("[2001:db8::1]:443", "ns/app", None, None)),
    ("registry.example.com:443/a-b/c_d:T_1", ("registry.example.com:443", "a-b/c_d", "T_1", None)),
    ("my-registry.local/a.b/c__d", ("my-registry.local", "a.b/c__d", None, None)),
    ("example.com/a---b", ("example.com", "a---b", None, None)),
    ("Registry.Example.com/app", ("Registry.Example.com", "app", None, None)),
    ("example.com/app:_tag", ("example.com", "app", "_tag", None)),
    ("example.com/app:" + "t" * 128, ("example.com", "app", "t" * 128, None)),
    ("foo:tag", ("docker.io", "library/foo", "tag", None)),
    ("quay.io/x/y:tag.with.dots-and-dashes", ("quay.io", "x/y", "tag.with.dots-and-dashes", None)),
]

# text -> a fragment the error must contain (naming the bad part)
INVALID: list[tuple[str, str]] = [
    ("", "empty"),
    ("Alpine", "lower-case"),
    ("docker.io/Library/alpine", "lower-case"),
    ("alpine:", "invalid tag ''"),
    ("alpine:-bad", "invalid tag '-bad'"),
    ("alpine:.bad", "invalid tag '.bad'"),
    ("alpine:bad/tag", "invalid registry host 'alpine:bad'"),
    ("alpine:" + "t" * 129, "invalid tag"),
    ("alpine:ta!g", "invalid tag 'ta!g'"),
    ("alpine@", "missing digest"),
    ("alpine@sha256:abc", "invalid digest"),
    ("alpine@sha256:" + "A" * 64, "invalid digest"),
    ("alpine@md5:" + "a" * 32, "invalid digest"),
    ("alpine@sha256:" + "a" * 63, "invalid digest"),
    ("alpine@sha512:" + "a" * 64, "invalid digest"),
    ("example.com/", "missing repository"),
    ("example.com//app", "invalid repository path component '(empty)'"),
    ("example.com/app/", "invalid repository path component '(empty)'"),
    ("example.com/-app", "invalid repository path component '-app'"),
    ("example.com/app-", "invalid repository path component 'app-'"),
    ("example.com/a..b", "invalid repository path component 'a..b'"),
    ("example.com/a___b", "invalid repository path component 'a___b'"),
    ("example.com/a$b", "invalid repository path component 'a$b'"),
    ("-example.com/app", "invalid registry host '-example.com'"),
    ("exa_mple.com/app", "invalid registry host 'exa_mple.com'"),
    ("example.com:port/app", "invalid registry host 'example.com:port'"),
    ("example.com:99999/app", "invalid registry port '99999'"),
    ("[::zz]:5000/app", "invalid registry host"),
    ("[1:2:3]/app", "invalid IPv6 address"),
    ("::1/app", "invalid registry host"),
    (":tag", "missing repository"),
    ("@" + D, "missing repository"),
    ("a" * 64, "image ID"),
    ("alp ine", "white space"),
    (" alpine", "white space"),
    ("example.com/" + "a" * 250, "longer than 255"),
    ("example.com/app:tag:more", "invalid repository path component 'app:tag'"),
    ("example.com/app@sha256:" + "a" * 64 + "@x", "invalid digest"),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[t for t, _ in VALID])
def test_valid_references(text: str, expected: tuple[str, str, str | None, str | None]) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == expected
    # The canonical text parses back to the same reference.
    assert parse_reference(str(ref)) == ref


@pytest.mark.parametrize(("text", "fragment"), INVALID, ids=[t[:40] or "empty" for t, _ in INVALID])
def test_invalid_references(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        parse_reference(text)
    err = info.value
    assert fragment in err.message
    assert "\n" not in err.message
    assert err.hint
    assert err.exit_code == 1


def test_table_is_large_enough() -> None:
    assert len(VALID) + len(INVALID) >= 40


@pytest.mark.parametrize(("text", "api_host", "repository_name", "name"), [
    ("alpine", "registry-1.docker.io", "index.docker.io/library/alpine",
     "index.docker.io/library/alpine:latest"),
    ("docker.io/foo/bar:1", "registry-1.docker.io", "index.docker.io/foo/bar",
     "index.docker.io/foo/bar:1"),
    (f"ghcr.io/o/a:v1@{D}", "ghcr.io", "ghcr.io/o/a", f"ghcr.io/o/a@{D}"),
    ("127.0.0.1:5000/x/y", "127.0.0.1:5000", "127.0.0.1:5000/x/y", "127.0.0.1:5000/x/y:latest"),
    ("[::1]:5000/app:t", "[::1]:5000", "[::1]:5000/app", "[::1]:5000/app:t"),
])
def test_derived_names(text: str, api_host: str, repository_name: str, name: str) -> None:
    ref = parse_reference(text)
    assert ref.api_host == api_host
    assert ref.repository_name == repository_name
    assert ref.name == name


def test_with_digest_and_tag() -> None:
    ref = parse_reference("127.0.0.1:5000/x/y:tag")
    pinned = ref.with_digest(D)
    assert pinned == Reference("127.0.0.1:5000", "x/y", None, D)
    assert pinned.identifier == D
    assert str(pinned) == f"127.0.0.1:5000/x/y@{D}"
    retagged = pinned.with_tag("v2")
    assert retagged == Reference("127.0.0.1:5000", "x/y", "v2", None)
    assert ref.repository_only().identifier == "latest"
    with pytest.raises(InputError):
        ref.with_digest("sha256:short")
    with pytest.raises(InputError, match="invalid tag"):
        ref.with_tag("-x")


def test_reference_is_hashable_and_frozen() -> None:
    ref = parse_reference("alpine")
    assert {ref, parse_reference("docker.io/library/alpine")} == {ref}
    with pytest.raises(AttributeError):
        ref.tag = "x"  # type: ignore[misc]


@pytest.mark.parametrize(("registry", "loopback"), [
    ("localhost", True), ("localhost:5000", True), ("127.0.0.1:5000", True),
    ("127.1.2.3", True), ("[::1]:5000", True), ("10.0.0.1:5000", False),
    ("docker.io", False), ("localhost.example.com", False), ("[2001:db8::1]", False),
])
def test_loopback(registry: str, loopback: bool) -> None:
    assert is_loopback_host(registry) is loopback


def test_split_host_port() -> None:
    assert split_host_port("[::1]:5000") == ("::1", 5000)
    assert split_host_port("[::1]") == ("::1", None)
    assert split_host_port("example.com:443") == ("example.com", 443)
    assert split_host_port("example.com") == ("example.com", None)
