"""``RegistryClient.resolve_digests``: many tags resolved concurrently, in order, against
the real registry in all three setups (plain HTTP, TLS + basic auth, bearer token)."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer.errors import ImageNotFoundError
from signer.testing.images import write_oci_layout
from tests.integration.registry.conftest import Target, push_image

pytestmark = pytest.mark.slow


def test_resolve_digests_in_input_order(target: Target, tmp_path: Path) -> None:
    client = target.make_client()
    refs, expected = [], []
    for i in range(4):
        image = write_oci_layout(tmp_path / f"img{i}", seed=f"many-{target.kind}-{i}", tag="v1")
        ref = target.ref(f"resolve-many/app{i}:v1")
        push_image(client, ref, image)
        refs.append(ref)
        expected.append(image.digest)
    assert len(set(expected)) == 4
    # repeated, shuffled and digest-pinned references: answers follow the input order
    order = [3, 0, 2, 1, 0, 3, 1, 2] * 3
    asked = [refs[i] for i in order] + [refs[1].with_digest(expected[1])]
    wanted = [expected[i] for i in order] + [expected[1]]
    with client:
        assert client.resolve_digests(asked) == wanted
        assert client.resolve_digests(asked, max_workers=1) == wanted
        assert client.resolve_digests([]) == []


def test_resolve_digests_raises_for_a_missing_tag(target: Target, tmp_path: Path) -> None:
    client = target.make_client()
    image = write_oci_layout(tmp_path / "img", seed=f"many-missing-{target.kind}", tag="v1")
    present = target.ref("resolve-many/present:v1")
    push_image(client, present, image)
    with client, pytest.raises(ImageNotFoundError, match="absent:nope"):
        client.resolve_digests([present, target.ref("resolve-many/absent:nope"), present])
