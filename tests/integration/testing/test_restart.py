"""The Rekor log and the trust anchors survive a restart of the stack in the same directory."""

from __future__ import annotations

import json
from pathlib import Path

import requests
from cryptography.hazmat.primitives.asymmetric import ec

from signer.testing.stack import start_stack
from tests.integration.testing.rekor_checks import hashedrekord, only_entry, verify_entry
from tests.unit.testing.rfc6962_verifier import verify_consistency

ENTRIES = "/api/v1/log/entries"


def test_log_survives_restart(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    created: dict[str, dict[str, object]] = {}
    proposals = [hashedrekord(key, b"before %d" % n) for n in range(25)]
    with start_stack(tmp_path) as stack:
        for proposal in proposals:
            response = requests.post(stack.rekor_url + ENTRIES, json=proposal, timeout=10)
            entry_id, entry = only_entry(response.json())
            created[entry_id] = entry
        info_before = requests.get(stack.rekor_url + "/api/v1/log", timeout=10).json()
        trusted_root_before = json.loads(stack.trusted_root_path.read_text())
        log_key_before = stack.rekor_log.key.public_key()
        old_url = stack.rekor_url

    with start_stack(tmp_path) as stack:
        assert stack.rekor_log.key.public_key() == log_key_before
        info = requests.get(stack.rekor_url + "/api/v1/log", timeout=10).json()
        assert info == {**info_before, "signedTreeHead": info["signedTreeHead"]}
        trusted_root = json.loads(stack.trusted_root_path.read_text())
        # Same keys and CA chain; only the service URLs may differ.
        assert trusted_root["tlogs"][0]["logId"] == trusted_root_before["tlogs"][0]["logId"]
        assert (
            trusted_root["certificateAuthorities"][0]["certChain"]
            == trusted_root_before["certificateAuthorities"][0]["certChain"]
        )
        assert trusted_root["ctlogs"][0]["logId"] == trusted_root_before["ctlogs"][0]["logId"]
        log_key = stack.rekor_log.key.public_key()
        for entry_id, before in created.items():
            fetched = requests.get(f"{stack.rekor_url}{ENTRIES}/{entry_id}", timeout=10).json()
            fetched_id, entry = only_entry(fetched)
            assert fetched_id == entry_id
            for field in ("body", "integratedTime", "logID", "logIndex"):
                assert entry[field] == before[field]
            verify_entry(entry, log_key)
        # The log keeps growing from where it was, consistently with the old tree head.
        response = requests.post(
            stack.rekor_url + ENTRIES, json=hashedrekord(key, b"after restart"), timeout=10
        )
        assert response.status_code == 201
        _, entry = only_entry(response.json())
        assert entry["logIndex"] == 25
        verify_entry(entry, log_key)
        proof = requests.get(
            stack.rekor_url + "/api/v1/log/proof",
            params={"firstSize": 25, "lastSize": 26},
            timeout=10,
        ).json()
        assert verify_consistency(
            25,
            26,
            bytes.fromhex(info_before["rootHash"]),
            bytes.fromhex(entry["verification"]["inclusionProof"]["rootHash"]),
            [bytes.fromhex(h) for h in proof["hashes"]],
        )
        # A duplicate of a pre-restart entry is still detected.
        duplicate = requests.post(stack.rekor_url + ENTRIES, json=proposals[3], timeout=10)
        assert duplicate.status_code == 409
    # The old server is really gone.
    try:
        requests.get(old_url + "/api/v1/log", timeout=2)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("the stopped Rekor still answers")
