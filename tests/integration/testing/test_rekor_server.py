"""The local Rekor v1 over HTTP: create/duplicate/refuse, reads, search, proofs."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signer.testing.stack import Stack, start_stack
from tests.integration.testing.rekor_checks import (
    hashedrekord,
    only_entry,
    verify_checkpoint,
    verify_entry,
)
from tests.unit.testing.rfc6962_verifier import verify_consistency

ENTRIES = "/api/v1/log/entries"


def _log_key(stack: Stack) -> ec.EllipticCurvePublicKey:
    return stack.rekor_log.key.public_key()


def _create(stack: Stack, proposal: dict[str, object]) -> requests.Response:
    return requests.post(stack.rekor_url + ENTRIES, json=proposal, timeout=10)


def test_create_returns_a_verifiable_entry(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    proposal = hashedrekord(key, b"create test")
    response = _create(sigstore_stack, proposal)
    assert response.status_code == 201, response.text
    entry_id, entry = only_entry(response.json())
    assert len(entry_id) == 80
    assert response.headers["ETag"] == entry_id
    assert response.headers["Location"].endswith(f"{ENTRIES}/{entry_id}")
    body = base64.b64decode(entry["body"])
    # The stored body is RFC 8785 canonical JSON of the entry (keys sorted, no spaces).
    assert body == json.dumps(proposal, sort_keys=True, separators=(",", ":")).encode()
    assert entry_id[16:] == hashlib.sha256(b"\x00" + body).hexdigest()
    assert int(entry_id[:16], 16) == sigstore_stack.rekor_log.tree_id
    assert entry["logID"] == sigstore_stack.rekor_log.log_id.hex()
    assert list(entry) == ["body", "integratedTime", "logID", "logIndex", "verification"]
    assert list(entry["verification"]["inclusionProof"]) == [
        "checkpoint", "hashes", "logIndex", "rootHash", "treeSize",
    ]  # fmt: skip
    verify_entry(entry, _log_key(sigstore_stack))
    origin, _, _ = verify_checkpoint(
        entry["verification"]["inclusionProof"]["checkpoint"], _log_key(sigstore_stack)
    )
    assert origin == sigstore_stack.rekor_log.origin


def test_invalid_signature_is_refused(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    proposal = hashedrekord(key, b"signed artifact")
    proposal["spec"]["data"]["hash"]["value"] = hashlib.sha256(b"another").hexdigest()  # type: ignore[index]
    before = sigstore_stack.rekor_log.size
    response = _create(sigstore_stack, proposal)
    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert response.json()["message"].startswith("error processing entry: ")
    assert "signature" in response.json()["message"]
    assert sigstore_stack.rekor_log.size == before


def test_malformed_entries_are_refused(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    short = hashedrekord(key, b"x")
    short["spec"]["data"]["hash"]["value"] = "abcd"  # type: ignore[index]
    unknown = {**hashedrekord(key, b"x"), "kind": "rekord"}
    for proposal in (short, unknown, {"kind": "hashedrekord"}):
        response = _create(sigstore_stack, proposal)
        assert response.status_code == 400, proposal
    raw = requests.post(sigstore_stack.rekor_url + ENTRIES, data=b"{", timeout=10)
    assert raw.status_code == 400


def test_duplicate_is_409_with_location(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    proposal = hashedrekord(key, b"duplicate")
    first = _create(sigstore_stack, proposal)
    assert first.status_code == 201
    second = _create(sigstore_stack, proposal)
    assert second.status_code == 409
    entry_id, _ = only_entry(first.json())
    assert second.headers["Location"] == first.headers["Location"]
    assert entry_id in second.json()["message"]
    fetched = requests.get(second.headers["Location"], timeout=10)
    assert fetched.status_code == 200
    assert only_entry(fetched.json())[0] == entry_id


def test_reads_by_index_uuid_and_retrieve(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    proposal = hashedrekord(key, b"reads")
    entry_id, created = only_entry(_create(sigstore_stack, proposal).json())
    url = sigstore_stack.rekor_url + ENTRIES
    by_index = requests.get(url, params={"logIndex": created["logIndex"]}, timeout=10).json()
    by_entry_id = requests.get(f"{url}/{entry_id}", timeout=10).json()
    by_uuid = requests.get(f"{url}/{entry_id[16:]}", timeout=10).json()
    for fetched in (by_index, by_entry_id, by_uuid):
        fetched_id, entry = only_entry(fetched)
        assert fetched_id == entry_id
        assert entry["body"] == created["body"]
        assert entry["integratedTime"] == created["integratedTime"]
        verify_entry(entry, _log_key(sigstore_stack))
    for body in (
        {"entryUUIDs": [entry_id]},
        {"logIndexes": [created["logIndex"]]},
        {"entries": [proposal]},
    ):
        found = requests.post(f"{url}/retrieve", json=body, timeout=10).json()
        assert [only_entry(m)[0] for m in found] == [entry_id], body
    assert requests.get(f"{url}/{'0' * 64}", timeout=10).status_code == 404
    assert requests.get(url, params={"logIndex": 10**9}, timeout=10).status_code == 404
    assert requests.get(f"{url}/not-a-uuid", timeout=10).status_code == 400


def test_search_index(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    artifact = b"search me"
    entry_id, _ = only_entry(_create(sigstore_stack, hashedrekord(key, artifact)).json())
    url = sigstore_stack.rekor_url + "/api/v1/index/retrieve"
    digest = "sha256:" + hashlib.sha256(artifact).hexdigest()
    assert requests.post(url, json={"hash": digest}, timeout=10).json() == [entry_id]
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    by_key = {"publicKey": {"format": "x509", "content": base64.b64encode(pem).decode()}}
    assert requests.post(url, json=by_key, timeout=10).json() == [entry_id]


def test_log_info_public_key_and_consistency(sigstore_stack: Stack) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    _create(sigstore_stack, hashedrekord(key, b"info 1"))
    first = requests.get(sigstore_stack.rekor_url + "/api/v1/log", timeout=10).json()
    _create(sigstore_stack, hashedrekord(key, b"info 2"))
    _create(sigstore_stack, hashedrekord(key, b"info 3"))
    second = requests.get(sigstore_stack.rekor_url + "/api/v1/log", timeout=10).json()
    assert second["treeSize"] == first["treeSize"] + 2
    assert second["treeID"] == str(sigstore_stack.rekor_log.tree_id)
    log_key = _log_key(sigstore_stack)
    _, size, root = verify_checkpoint(second["signedTreeHead"], log_key)
    assert (size, root.hex()) == (second["treeSize"], second["rootHash"])
    pem = requests.get(sigstore_stack.rekor_url + "/api/v1/log/publicKey", timeout=10)
    assert pem.headers["Content-Type"] == "application/x-pem-file"
    assert serialization.load_pem_public_key(pem.content) == log_key
    proof = requests.get(
        sigstore_stack.rekor_url + "/api/v1/log/proof",
        params={"firstSize": first["treeSize"], "lastSize": second["treeSize"]},
        timeout=10,
    ).json()
    assert proof["rootHash"] == second["rootHash"]
    assert verify_consistency(
        first["treeSize"],
        second["treeSize"],
        bytes.fromhex(first["rootHash"]),
        bytes.fromhex(second["rootHash"]),
        [bytes.fromhex(h) for h in proof["hashes"]],
    )
    bad = requests.get(
        sigstore_stack.rekor_url + "/api/v1/log/proof",
        params={"firstSize": 1, "lastSize": second["treeSize"] + 100},
        timeout=10,
    )
    assert bad.status_code == 400


def test_index_offset_separates_global_and_shard_index(tmp_path: Path) -> None:
    with start_stack(tmp_path, rekor_index_offset=1000) as stack:
        key = ec.generate_private_key(ec.SECP256R1())
        _, entry = only_entry(_create(stack, hashedrekord(key, b"sharded")).json())
        assert entry["logIndex"] == 1000
        assert entry["verification"]["inclusionProof"]["logIndex"] == 0
        verify_entry(entry, _log_key(stack))
        fetched = requests.get(
            stack.rekor_url + ENTRIES, params={"logIndex": 1000}, timeout=10
        ).json()
        assert only_entry(fetched)[1]["body"] == entry["body"]


@pytest.mark.slow
def test_every_tree_size_1_to_300_over_http(tmp_path: Path) -> None:
    """300 entries: each creation proof (tree sizes 1..300) and each consecutive
    consistency proof verify with the test's own RFC 9162 verifier."""
    with start_stack(tmp_path) as stack:
        key = ec.generate_private_key(ec.SECP256R1())
        log_key = _log_key(stack)
        roots: list[bytes] = []
        session = requests.Session()
        for n in range(300):
            response = session.post(
                stack.rekor_url + ENTRIES, json=hashedrekord(key, b"entry %d" % n), timeout=10
            )
            assert response.status_code == 201
            _, entry = only_entry(response.json())
            proof = entry["verification"]["inclusionProof"]
            assert (proof["logIndex"], proof["treeSize"]) == (n, n + 1)
            verify_entry(entry, log_key)
            roots.append(bytes.fromhex(proof["rootHash"]))
        for first in range(1, 300):
            proof = session.get(
                stack.rekor_url + "/api/v1/log/proof",
                params={"firstSize": first, "lastSize": first + 1},
                timeout=10,
            ).json()
            hashes_ = [bytes.fromhex(h) for h in proof["hashes"]]
            assert verify_consistency(first, first + 1, roots[first - 1], roots[first], hashes_)
        proof = session.get(
            stack.rekor_url + "/api/v1/log/proof", params={"lastSize": 300}, timeout=10
        ).json()
        hashes_ = [bytes.fromhex(h) for h in proof["hashes"]]
        assert verify_consistency(1, 300, roots[0], roots[299], hashes_)
