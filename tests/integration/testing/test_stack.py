"""Stack lifecycle: start-up time, trust files, fault knobs, ``python -m signer.testing up``."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from signer.testing.stack import Stack, start_stack

STARTUP_BUDGET_SECONDS = 2.0


def test_startup_time_of_a_fresh_stack(tmp_path: Path) -> None:
    """Median of three starts, each in a fresh directory (so every key is generated:
    RSA issuer key, P-384 CA, P-256 logs), and again in the existing directory."""
    fresh: list[float] = []
    warm: list[float] = []
    for n in range(3):
        started = time.perf_counter()
        with start_stack(tmp_path / str(n)) as stack:
            fresh.append(time.perf_counter() - started)
            requests.get(stack.rekor_url + "/api/v1/log", timeout=5).raise_for_status()
        started = time.perf_counter()
        with start_stack(tmp_path / str(n)) as stack:
            warm.append(time.perf_counter() - started)
            requests.get(stack.fulcio_url + "/api/v2/configuration", timeout=5).raise_for_status()
    fresh_median, warm_median = statistics.median(fresh), statistics.median(warm)
    print(f"stack start-up: fresh {fresh_median:.3f} s, existing dir {warm_median:.3f} s")
    assert fresh_median < STARTUP_BUDGET_SECONDS
    assert warm_median < STARTUP_BUDGET_SECONDS


def test_trust_files_are_written(sigstore_stack: Stack) -> None:
    root = json.loads(sigstore_stack.trusted_root_path.read_text())
    assert root["mediaType"] == "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
    assert root["tlogs"][0]["baseUrl"] == sigstore_stack.rekor_url
    assert root["certificateAuthorities"][0]["uri"] == sigstore_stack.fulcio_url
    assert len(root["certificateAuthorities"][0]["certChain"]["certificates"]) == 2
    config = json.loads(sigstore_stack.client_trust_config_path.read_text())
    assert config["mediaType"] == "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
    assert config["trustedRoot"] == root
    signing = config["signingConfig"]
    assert signing["caUrls"][0]["url"] == sigstore_stack.fulcio_url
    assert signing["rekorTlogUrls"][0]["url"] == sigstore_stack.rekor_url
    assert signing["oidcUrls"][0]["url"] == sigstore_stack.oidc_issuer_url
    info = json.loads(sigstore_stack.stack_json_path.read_text())
    assert info["fulcio_url"] == sigstore_stack.fulcio_url
    assert os.stat(sigstore_stack.stack_json_path).st_mode & 0o077 == 0


def test_fault_fail_next(fresh_faults: Stack) -> None:
    url = fresh_faults.rekor_url + "/api/v1/log"
    fresh_faults.faults("rekor").fail_next(2, status=503)
    assert requests.get(url, timeout=5).status_code == 503
    assert requests.get(url, timeout=5).status_code == 503
    assert requests.get(url, timeout=5).status_code == 200


def test_fault_fail_next_only_under_a_prefix(fresh_faults: Stack) -> None:
    fresh_faults.faults("fulcio").fail_next(1, status=500, path_prefix="/api/v2/signingCert")
    config = requests.get(fresh_faults.fulcio_url + "/api/v2/configuration", timeout=5)
    assert config.status_code == 200
    failed = requests.post(fresh_faults.fulcio_url + "/api/v2/signingCert", json={}, timeout=5)
    assert failed.status_code == 500


def test_fault_latency(fresh_faults: Stack) -> None:
    fresh_faults.faults("oidc").set_latency(0.3)
    started = time.perf_counter()
    requests.get(fresh_faults.oidc_issuer_url + "/.well-known/jwks", timeout=5)
    assert time.perf_counter() - started >= 0.3
    with pytest.raises(requests.Timeout):
        requests.get(fresh_faults.oidc_issuer_url + "/.well-known/jwks", timeout=0.1)


def test_fault_drop_connection(fresh_faults: Stack) -> None:
    fresh_faults.faults("rekor").drop_next(1)
    with pytest.raises(requests.ConnectionError):
        requests.get(fresh_faults.rekor_url + "/api/v1/log", timeout=5)
    assert requests.get(fresh_faults.rekor_url + "/api/v1/log", timeout=5).status_code == 200


@pytest.mark.slow
def test_module_up_writes_stack_json_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "signer.testing", "up", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()
        assert line == str(tmp_path / "stack.json")
        info = json.loads(Path(line).read_text())
        for name in (
            "oidc_issuer_url", "token_request_url", "token_request_token", "identity_token",
            "fulcio_url", "rekor_url", "trusted_root_path", "client_trust_config_path",
        ):  # fmt: skip
            assert info[name], name
        assert info["startup_seconds"] < STARTUP_BUDGET_SECONDS
        requests.get(info["rekor_url"] + "/api/v1/log", timeout=5).raise_for_status()
        token = requests.get(
            info["token_request_url"] + "&audience=sigstore",
            headers={"Authorization": "Bearer " + info["token_request_token"]},
            timeout=5,
        ).json()["value"]
        assert token.count(".") == 2
    finally:
        os.kill(process.pid, signal.SIGTERM)
        code = process.wait(timeout=10)
    assert code == 0
    assert process.stderr is not None
    assert b"Traceback" not in process.stderr.read()


@pytest.mark.slow
def test_module_up_with_registry(tmp_path: Path) -> None:
    from signer.testing.registry import registry_available

    if not registry_available():
        pytest.fail("docker-registry is not installed; run the README's test command")
    process = subprocess.Popen(
        [sys.executable, "-m", "signer.testing", "up", "--dir", str(tmp_path), "--with-registry"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(Path(process.stdout.readline().decode().strip()).read_text())
        assert info["registry_host"].startswith("127.0.0.1:")
        assert requests.get(info["registry_url"] + "/v2/", timeout=5).status_code == 200
    finally:
        os.kill(process.pid, signal.SIGTERM)
        code = process.wait(timeout=10)
    assert code == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(info["registry_url"] + "/v2/", timeout=2)


def test_fault_retry_after_header(fresh_faults: Stack) -> None:
    fresh_faults.faults("fulcio").fail_next(1, status=429, retry_after=2)
    response = requests.get(fresh_faults.fulcio_url + "/api/v2/configuration", timeout=5)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"


def test_concurrent_rekor_writers_get_distinct_indexes(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.integration.testing.rekor_checks import hashedrekord, only_entry, verify_entry

    with start_stack(tmp_path) as stack:
        key = ec.generate_private_key(ec.SECP256R1())
        proposals = [hashedrekord(key, b"concurrent %d" % n) for n in range(40)]

        def post(proposal: dict[str, object]) -> dict[str, object]:
            response = requests.post(
                stack.rekor_url + "/api/v1/log/entries", json=proposal, timeout=10
            )
            assert response.status_code == 201
            return only_entry(response.json())[1]

        with ThreadPoolExecutor(max_workers=8) as pool:
            entries = list(pool.map(post, proposals))
        assert sorted(int(str(e["logIndex"])) for e in entries) == list(range(40))
        for entry in entries:
            verify_entry(entry, stack.rekor_log.key.public_key())


def test_chunked_and_oversized_bodies_are_refused(sigstore_stack: Stack) -> None:
    url = sigstore_stack.rekor_url + "/api/v1/log/entries"
    chunked = requests.post(url, data=iter([b"{}"]), timeout=5)
    assert chunked.status_code == 411
    huge = requests.post(url, data=b"x" * (4 * 1024 * 1024 + 1), timeout=10)
    assert huge.status_code == 413
    assert requests.get(sigstore_stack.rekor_url + "/api/v1/log", timeout=5).ok
