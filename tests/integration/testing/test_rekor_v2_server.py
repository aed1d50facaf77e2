"""The local Rekor v2 over HTTP: a hashedrekord 0.0.2 entry, refused requests, the
C2SP checkpoint and the tile read API (tiles and entry bundles recompute the tree)."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from signer.testing.rekor_v2_server import tile_index
from signer.testing.stack import Stack
from signer.verify.tlog import leaf_hash, node_hash, verify_checkpoint, verify_inclusion

ENTRIES = "/api/v2/log/entries"


def _request(key: ec.EllipticCurvePrivateKey, data: bytes,
             key_details: str = "PKIX_ECDSA_P256_SHA_256") -> dict[str, object]:
    digest = hashlib.sha256(data).digest()
    signature = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"hashedRekordRequestV002": {
        "digest": base64.b64encode(digest).decode(),
        "signature": {"content": base64.b64encode(signature).decode(),
                      "verifier": {"publicKey": {"rawBytes": base64.b64encode(spki).decode()},
                                   "keyDetails": key_details}}}}


def _post(stack: Stack, body: object) -> requests.Response:
    return requests.post(stack.rekor_v2_url + ENTRIES, json=body, timeout=10)


def test_an_entry_verifies_against_its_checkpoint(sigstore_stack: Stack) -> None:
    request = _request(ec.generate_private_key(ec.SECP256R1()), b"v2 entry")
    response = _post(sigstore_stack, request)
    assert response.status_code == 201, response.text
    entry = response.json()
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
    assert "integratedTime" not in entry and "inclusionPromise" not in entry
    body = base64.b64decode(entry["canonicalizedBody"])
    spec = json.loads(body)["spec"]["hashedRekordV002"]
    assert spec["data"] == {"algorithm": "SHA2_256", "digest": base64.b64encode(
        hashlib.sha256(b"v2 entry").digest()).decode()}
    assert body == json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    proof = entry["inclusionProof"]
    verify_inclusion(leaf_hash(body), int(proof["logIndex"]), int(proof["treeSize"]),
                     [base64.b64decode(h) for h in proof["hashes"]],
                     base64.b64decode(proof["rootHash"]))
    origin = sigstore_stack.rekor_v2_url.removeprefix("http://")
    checkpoint = verify_checkpoint(proof["checkpoint"]["envelope"],
                                   sigstore_stack.rekor_v2_log.key.public_key(), origin)
    assert checkpoint.origin == origin
    assert checkpoint.root_hash == base64.b64decode(proof["rootHash"])
    # the same request again is answered with the same entry, not logged twice
    again = _post(sigstore_stack, request).json()
    assert again["logIndex"] == entry["logIndex"]


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r["hashedRekordRequestV002"].update(digest=base64.b64encode(b"x" * 32).decode()),
     "does not verify"),
    (lambda r: r["hashedRekordRequestV002"]["signature"]["verifier"].update(
        keyDetails="PKIX_ECDSA_P384_SHA_384"), "does not match keyDetails"),
    (lambda r: r["hashedRekordRequestV002"]["signature"]["verifier"].update(
        keyDetails="PGP"), "unsupported keyDetails"),
    (lambda r: r.update(dsseRequestV002=r.pop("hashedRekordRequestV002")), "deprecated"),
])
def test_bad_requests_are_refused(sigstore_stack: Stack, mutate: object, message: str) -> None:
    request = _request(ec.generate_private_key(ec.SECP256R1()), b"refused")
    assert callable(mutate)
    mutate(request)
    response = _post(sigstore_stack, request)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_tiles_and_entry_bundles_rebuild_the_checkpoint_root(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    for n in range(5):
        assert _post(sigstore_stack, _request(key, b"tile %d" % n)).status_code == 201
    note = requests.get(sigstore_stack.rekor_v2_url + "/api/v2/checkpoint",
                        timeout=10).content.decode("utf-8")
    checkpoint = verify_checkpoint(note, sigstore_stack.rekor_v2_log.key.public_key(),
                                   sigstore_stack.rekor_v2_url.removeprefix("http://"))
    size = checkpoint.tree_size
    assert size < 256  # one partial level-0 tile holds every leaf hash
    tile = requests.get(f"{sigstore_stack.rekor_v2_url}/api/v2/tile/0/000.p/{size}",
                        timeout=10)
    bundle = requests.get(f"{sigstore_stack.rekor_v2_url}/api/v2/tile/entries/000.p/{size}",
                          timeout=10)
    assert tile.status_code == bundle.status_code == 200
    hashes_ = [tile.content[i:i + 32] for i in range(0, len(tile.content), 32)]
    leaves, offset = [], 0
    while offset < len(bundle.content):
        length = int.from_bytes(bundle.content[offset:offset + 2], "big")
        leaves.append(bundle.content[offset + 2:offset + 2 + length])
        offset += 2 + length
    assert [leaf_hash(leaf) for leaf in leaves] == hashes_

    def root(nodes: list[bytes]) -> bytes:
        if len(nodes) == 1:
            return nodes[0]
        k = 1 << ((len(nodes) - 1).bit_length() - 1)
        return node_hash(root(nodes[:k]), root(nodes[k:]))

    assert root(hashes_) == checkpoint.root_hash
    # a full tile, or a wider partial one, does not exist yet
    full = requests.get(f"{sigstore_stack.rekor_v2_url}/api/v2/tile/0/000", timeout=10)
    wider = requests.get(f"{sigstore_stack.rekor_v2_url}/api/v2/tile/0/000.p/{size + 1}",
                         timeout=10)
    assert full.status_code == wider.status_code == 404


def test_tile_index_paths() -> None:
    assert tile_index("067") == 67
    assert tile_index("x001/x234/067") == 1234067
