"""200 references to 50 distinct images: one evaluation per image, concurrently, and
no registry work repeated per reference (requests counted on the real registry)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signer.gate.discovery import discover
from signer.gate.policy import parse_policy
from signer.gating import GateOptions, evaluate
from signer.reference import Reference, parse_reference
from signer.registry.client import RegistryClient
from signer.sign import SignOptions, sign_images
from signer.testing.images import write_oci_layout
from signer.testing.registry import LocalRegistry

pytestmark = pytest.mark.slow

DISTINCT = 50


class CountingClient(RegistryClient):
    """The real client, counting the calls the gate makes (thread-safe)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: Counter[str] = Counter()
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def _count(self, what: str) -> None:
        with self._lock:
            self.calls[what] += 1
            self.threads.add(threading.current_thread().name)

    def resolve_digest(self, ref: Reference, *args: Any, **kwargs: Any) -> str:
        self._count("resolve")
        return super().resolve_digest(ref, *args, **kwargs)

    def get_manifest(self, ref: Reference, *args: Any, **kwargs: Any) -> Any:
        self._count("manifest")
        return super().get_manifest(ref, *args, **kwargs)


def test_fifty_images_two_hundred_references(registry: LocalRegistry, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    refs: list[Reference] = []
    with RegistryClient(insecure=(registry.host,)) as client:
        for index in range(DISTINCT):
            layout = write_oci_layout(tmp_path / f"l{index}", seed=f"{tmp_path.name}-{index}")
            ref = parse_reference(f"{registry.host}/gate-many/{tmp_path.name}-{index}:v1")
            for digest, blob in layout.blobs.items():
                client.upload_blob(ref, blob, digest)
            assert layout.manifest is not None and layout.media_type is not None
            client.put_manifest(ref, layout.manifest, layout.media_type)
            refs.append(ref)
        sign_images(client, refs, SignOptions(key=key, tlog_upload=False))
    # four files, each naming all 50 images
    for number in range(4):
        containers = "\n".join(f"  - name: c{i}\n    image: {ref}" for i, ref in enumerate(refs))
        (tmp_path / f"pod{number}.yaml").write_text(
            f"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n{containers}\n")
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    key_text = "\n".join("        " + line for line in pem.decode().splitlines())
    policy = parse_policy(f"""\
validators:
- name: default
  type: cosign
  trustRoots:
  - name: default
    key: |
{key_text}
policy:
- pattern: "{registry.host}/gate-many/*"
  with:
    verifyInTransparencyLog: false
""", "values.yaml")
    uses, problems = discover([str(tmp_path)])
    assert not problems and len(uses) == 4 * DISTINCT
    from signer.trust import load_default

    with CountingClient(insecure=(registry.host,)) as client:
        results = evaluate(client, policy, uses, GateOptions(trust=load_default(),
                                                             max_workers=8))
    assert len(results) == DISTINCT
    assert all(r.status == "pass" for r in results), [r.reason for r in results]
    assert all(len(r.uses) == 4 for r in results)
    # per distinct image, not per reference: one tag resolution, one .sig manifest, one
    # referrers lookup (this registry has no referrers API: the sha256-<hex> tag index)
    # and the one bundle referrer it lists (signing writes both formats by default)
    assert client.calls == Counter({"resolve": DISTINCT, "manifest": 3 * DISTINCT})
    assert len(client.threads) > 1  # evaluated concurrently
