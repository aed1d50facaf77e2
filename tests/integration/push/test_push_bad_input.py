"""Bad input to ``signer push``: one clear error line, and nothing half-pushed under the tag."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from signer.registry.sources import MAX_MANIFEST_BYTES
from signer.testing.images import (
    DEFAULT_PLATFORMS,
    write_oci_archive,
    write_oci_layout,
)
from signer.testing.ports import free_port
from signer.testing.registry import LocalRegistry
from tests.integration.push.conftest import run_push, skopeo_raw


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.removeprefix("sha256:")


def missing_directory(tmp_path: Path) -> str:
    return f"oci:{tmp_path / 'does-not-exist'}:v1"


def corrupt_tar(tmp_path: Path) -> str:
    image = write_oci_archive(tmp_path / "img.tar", seed="bad-corrupt-tar", layer_size=30000)
    data = image.path.read_bytes()
    image.path.write_bytes(data[: len(data) // 2])
    return str(image.path)


def missing_blob(tmp_path: Path) -> str:
    image = write_oci_layout(tmp_path / "img", seed="bad-missing-blob", platforms=DEFAULT_PLATFORMS)
    _blob(image.path, image.layer_digests[-1]).unlink()
    return image.source


def corrupt_blob(tmp_path: Path) -> str:
    image = write_oci_layout(tmp_path / "img", seed="bad-corrupt-blob", layers=3)
    path = _blob(image.path, image.layer_digests[-1])
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    return image.source


def manifest_over_cap(tmp_path: Path) -> str:
    image = write_oci_layout(tmp_path / "img", seed="bad-big-manifest")
    assert image.manifest is not None
    document = json.loads(image.manifest)
    document["annotations"] = {"padding": "p" * MAX_MANIFEST_BYTES}
    data = json.dumps(document).encode()
    import hashlib

    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _blob(image.path, digest).write_bytes(data)
    (image.path / "index.json").write_text(json.dumps(
        {"schemaVersion": 2, "manifests": [{"mediaType": image.media_type, "digest": digest,
                                            "size": len(data)}]}))
    return f"oci:{image.path}"


def tar_path_traversal(tmp_path: Path) -> str:
    image = write_oci_archive(tmp_path / "base.tar", seed="bad-traversal")
    buffer = io.BytesIO()
    with tarfile.open(image.path) as src, tarfile.open(fileobj=buffer, mode="w") as dst:
        evil = tarfile.TarInfo("../../tmp/signer-evil")
        evil.size = 4
        dst.addfile(evil, io.BytesIO(b"evil"))
        for info in src.getmembers():
            dst.addfile(info, src.extractfile(info) if info.isfile() else None)
    path = tmp_path / "evil.tar"
    path.write_bytes(buffer.getvalue())
    return str(path)


def tar_symlink_escape(tmp_path: Path) -> str:
    image = write_oci_archive(tmp_path / "base.tar", seed="bad-symlink")
    buffer = io.BytesIO()
    with tarfile.open(image.path) as src, tarfile.open(fileobj=buffer, mode="w") as dst:
        for info in src.getmembers():
            dst.addfile(info, src.extractfile(info) if info.isfile() else None)
        link = tarfile.TarInfo("blobs/sha256/escape")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../../../etc/shadow"
        dst.addfile(link)
    path = tmp_path / "link.tar"
    path.write_bytes(buffer.getvalue())
    return str(path)


BAD_SOURCES: dict[str, tuple[Callable[[Path], str], str]] = {
    "missing-directory": (missing_directory, "does not exist"),
    "corrupt-tar": (corrupt_tar, "tar"),
    "missing-blob": (missing_blob, "missing blob"),
    "corrupt-blob": (corrupt_blob, "does not match"),
    "manifest-over-cap": (manifest_over_cap, "limit"),
    "tar-path-traversal": (tar_path_traversal, "unsafe member name"),
    "tar-symlink-escape": (tar_symlink_escape, "points outside"),
}


@pytest.fixture
def existing_image(registry: LocalRegistry, tmp_path: Path, request: pytest.FixtureRequest
                   ) -> tuple[str, bytes]:
    """A repository whose ``:v1`` already holds a good image (which must survive)."""
    image = write_oci_layout(tmp_path / "good", seed=f"good-{request.node.name}")
    assert image.manifest is not None
    repository = f"{registry.host}/push-bad/{abs(hash(request.node.name)) % 10**8}"
    outcome = run_push([image.source, f"{repository}:v1"])
    assert outcome.code == 0, outcome.stderr
    return repository, image.manifest


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BAD_SOURCES))
def test_bad_source_is_one_clear_error_and_nothing_is_half_pushed(
        existing_image: tuple[str, bytes], tmp_path: Path, case: str) -> None:
    build, expected = BAD_SOURCES[case]
    repository, before = existing_image
    source = build(tmp_path)
    outcome = run_push([source, f"{repository}:v1", f"{repository}:v2"])
    line = outcome.assert_one_line_error()
    assert expected in line, outcome.stderr
    assert "hint:" in outcome.stderr
    assert skopeo_raw(f"{repository}:v1") == before  # the old image survives
    assert skopeo_raw(f"{repository}:v2") is None  # nothing new under the tag


@pytest.mark.parametrize("target", ["127.0.0.1:5000/UPPER/case:v1", "127.0.0.1:5000/repo:bad tag",
                                    "127.0.0.1:5000/repo@sha256:123", "127.0.0.1:99999/repo",
                                    "127.0.0.1:5000/repo:-tag", ""])
def test_malformed_target_reference(tmp_path: Path, target: str) -> None:
    image = write_oci_layout(tmp_path / "img", seed="malformed-ref")
    outcome = run_push([image.source, target])
    outcome.assert_one_line_error()


def test_target_digest_that_is_not_the_source(registry: LocalRegistry, tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="wrong-digest")
    repository = f"{registry.host}/push-bad/wrong-digest"
    outcome = run_push([image.source, f"{repository}@sha256:{'0' * 64}"])
    assert "names digest" in outcome.assert_one_line_error()
    assert skopeo_raw(f"{repository}@{image.digest}") is None


def test_refused_connection(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="refused")
    outcome = run_push([image.source, f"127.0.0.1:{free_port()}/repo:v1"])
    assert outcome.code == 1
    outcome.assert_one_line_error()


def test_password_flags_need_a_user_and_never_echo(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="pw")
    outcome = run_push(["--password-stdin", image.source, "127.0.0.1:5000/repo:v1"],
                       stdin="hunter2-secret\n")
    assert outcome.code == 2
    assert "--username" in outcome.assert_one_line_error()
    assert "hunter2" not in outcome.stderr
    outcome = run_push(["--username", "u", image.source, "127.0.0.1:5000/repo:v1"])
    assert outcome.code == 2
    assert "password" in outcome.assert_one_line_error()


def test_finished_targets_are_printed_before_a_later_failure(registry: LocalRegistry,
                                                             tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="partial-targets")
    good = f"{registry.host}/push-bad/partial"
    outcome = run_push([image.source, f"{good}:v1", f"127.0.0.1:{free_port()}/repo:v1"])
    assert outcome.code == 1
    assert outcome.stdout.splitlines() == [f"{good}@{image.digest}"]
    assert len(outcome.error_lines()) == 1 and "Traceback" not in outcome.stderr
    assert skopeo_raw(f"{good}:v1") == image.manifest


def test_missing_ca_bundle_file(tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="no-ca-file")
    outcome = run_push(["--ca-bundle", str(tmp_path / "nope.pem"), image.source,
                        "127.0.0.1:5000/repo:v1"])
    assert "CA bundle" in outcome.assert_one_line_error()
