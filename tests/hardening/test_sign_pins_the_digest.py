"""signer sign signs the digest it resolved, even if the tag moves while it works.

A fault proxy in front of the real registry parks sign's read of the ``.sig`` tag (after
the tag was resolved); meanwhile the tag is pointed at another image. The signature
made must name the first image's digest, be stored under that digest, and the image the
tag now names must have no signature.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from signer.formats.legacy import signature_tag
from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.testing.faultproxy import FaultProxy
from tests.hardening.conftest import KEY_PASSWORD, PushImage, via

pytestmark = pytest.mark.slow


def test_tag_moved_between_resolve_and_publish(registry_proxy: FaultProxy,
                                               direct_client: RegistryClient,
                                               push_image: PushImage,
                                               key_pair: tuple[Path, Path, Any]) -> None:
    first = push_image("toctou")
    other = push_image("toctou-other")
    digest_first = direct_client.resolve_digest(first)
    digest_other = direct_client.resolve_digest(other)
    held = registry_proxy.hold(method="GET", path=r"/manifests/sha256-")
    env = {**os.environ, "COSIGN_PASSWORD": KEY_PASSWORD}
    target = via(first, registry_proxy.host)
    process = subprocess.Popen(
        [sys.executable, "-m", "signer", "sign", "--key", str(key_pair[0]),
         "--tlog-upload=false", "--insecure-registry", registry_proxy.host, str(target)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert held.wait(60), "sign never read the signature tag"
        # the tag now names another image
        moved = direct_client.get_manifest(Reference(other.registry, other.repository, None,
                                                     digest_other))
        document = moved.json()
        for blob in [document["config"], *document["layers"]]:
            direct_client.upload_blob(first, direct_client.get_blob(other, blob["digest"]),
                                      blob["digest"])
        direct_client.put_manifest(first, moved.data, moved.media_type)
        assert direct_client.resolve_digest(first) == digest_other
        registry_proxy.release()
        _out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, err
    sig_first = direct_client.get_manifest(first.with_tag(signature_tag(digest_first))).json()
    layer = sig_first["layers"][0]
    payload = json.loads(direct_client.get_blob(first, layer["digest"]))
    assert payload["critical"]["image"]["docker-manifest-digest"] == digest_first
    missing = direct_client.head_manifest(first.with_tag(signature_tag(digest_other)))
    assert missing is None  # the image the tag names now was not signed
