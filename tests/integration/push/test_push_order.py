"""The order of a push on the wire, and failures part-way: the tag is written last."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from signer.testing.images import DEFAULT_PLATFORMS, write_oci_layout
from signer.testing.registry import LocalRegistry
from tests.integration.push.conftest import run_push, skopeo_raw
from tests.integration.push.recording_proxy import RecordingProxy


@pytest.fixture
def proxy(registry: LocalRegistry) -> Iterator[RecordingProxy]:
    with RecordingProxy(registry.host) as running:
        yield running


@pytest.mark.slow
def test_blobs_then_children_by_digest_then_tag_last(proxy: RecordingProxy,
                                                     tmp_path: Path) -> None:
    image = write_oci_layout(tmp_path / "img", seed="order", platforms=DEFAULT_PLATFORMS,
                             layers=2)
    outcome = run_push([image.source, f"{proxy.host}/push-order/img:v1"])
    assert outcome.code == 0, outcome.stderr
    writes = [(m, p) for m, p, status in proxy.log if m in ("POST", "PUT", "PATCH")]
    manifest_puts = [p for m, p in writes if "/manifests/" in p]
    children = {d for d in image.manifests if d != image.digest}
    assert manifest_puts[-1] == "/v2/push-order/img/manifests/v1"
    assert {p.rsplit("/", 1)[1] for p in manifest_puts[:-1]} == children
    first_manifest = next(i for i, (_m, p) in enumerate(writes) if "/manifests/" in p)
    blob_writes = [i for i, (_m, p) in enumerate(writes) if "/blobs/" in p]
    assert len(blob_writes) == 2 * len(image.blobs)  # POST + PUT per new blob
    assert max(blob_writes) < first_manifest
    assert proxy.log[-1][:2] == ("PUT", "/v2/push-order/img/manifests/v1")


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), [
    ("PUT", r"/manifests/sha256:"),  # a child manifest of the index
    ("PUT", r"/blobs/uploads/"),     # the end of a blob upload
    ("POST", r"/blobs/uploads/"),    # the start of a blob upload
])
def test_failure_part_way_leaves_the_tag_alone(registry: LocalRegistry, proxy: RecordingProxy,
                                               tmp_path: Path, method: str, path: str) -> None:
    old = write_oci_layout(tmp_path / "old", seed=f"partway-old-{method}-{path}")
    new = write_oci_layout(tmp_path / "new", seed=f"partway-new-{method}-{path}",
                           platforms=DEFAULT_PLATFORMS)
    name = f"push-partway/{method.lower()}{abs(hash(path)) % 1000}"
    assert run_push([old.source, f"{registry.host}/{name}:v1"]).code == 0
    proxy.fail_method, proxy.fail_path, proxy.fail_status = method, path, 500
    outcome = run_push([new.source, f"{proxy.host}/{name}:v1"])
    outcome.assert_one_line_error()
    assert outcome.code == 1
    assert not any(m == "PUT" and p.endswith("/manifests/v1") for m, p, _s in proxy.log)
    assert skopeo_raw(f"{registry.host}/{name}:v1") == old.manifest
