"""Issue 8.1: sign and verify through a fault-injecting proxy in front of the real
registry, Fulcio and Rekor; a permanently-down service gives a clear error in bounded
time.

Counts (injected, survived) are printed with ``-s`` and asserted to be non-zero.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
import requests

from signer.errors import Error
from signer.fetch import VerifyOptions, verify_image
from signer.keys import PrivateKey
from signer.registry.client import RegistryClient
from signer.sign import SignOptions, sign_images
from signer.testing.faultproxy import FaultPlan, FaultProxy
from signer.testing.stack import Stack
from signer.trust import TrustedRoot
from signer.verify.policy import IdentityPolicy
from signer.verify.verifier import VerificationPolicy
from tests.hardening.conftest import PushImage, via

ENTRIES = "/api/v1/log/entries"
#: Retry budget for the 30% run. With the defaults (3 retries per request, 3 Rekor /
#: Fulcio attempts) about 1 in 100 operations still fails at a 30% fault rate (four
#: faults in a row); 6 makes a run of 120 operations pass (0.3**7 per request).
RETRIES = 6


def _plan(rate: float) -> FaultPlan:
    return FaultPlan(rate=rate, retry_after=1, stall_seconds=0.3)


def test_proxy_injects_every_kind_and_counts(registry_proxy: FaultProxy) -> None:
    """Each fault kind is observable by a plain client; the schedule is seeded."""
    session = requests.Session()
    url = registry_proxy.url + "/v2/"
    seen: dict[str, int] = defaultdict(int)
    for kind in ("503", "429", "reset", "stall", "truncate"):
        registry_proxy.set_plan(FaultPlan(rate=1.0, kinds=(kind,), stall_seconds=0.1))
        try:
            response = session.get(url, timeout=5)
            seen[kind] = response.status_code
            if kind in ("503", "429"):
                assert response.headers["Retry-After"] == "1"
        except requests.RequestException as exc:
            seen[kind] = -1
            assert kind in ("reset", "stall", "truncate"), exc
    assert seen == {"503": 503, "429": 429, "reset": -1, "stall": -1, "truncate": -1}
    registry_proxy.set_plan(FaultPlan())
    assert session.get(url, timeout=5).status_code == 200
    summary = registry_proxy.summary()
    assert registry_proxy.injected == 5
    assert summary["requests"] == 6 and summary["forwarded"] == 2  # truncate + clean

    def schedule(seed: int) -> list[str | None]:
        with FaultProxy(registry_proxy.upstream_host, FaultPlan(rate=0.5), seed=seed) as p:
            return [p._admit("GET", "/v2/")[1] for _ in range(40)]

    assert schedule(7) == schedule(7) != schedule(8)


def _check_rekor_posts_not_blindly_repeated(rekor_proxy: FaultProxy) -> tuple[int, int]:
    """Between two POSTs of the same entry the client looked it up; never two 201s."""
    by_body: dict[str, list[tuple[str, str, int | None]]] = defaultdict(list)
    last_post: dict[str, int] = {}
    lookups_after: dict[str, bool] = {}
    repeated = 0
    for exchange in sorted(rekor_proxy.exchanges, key=lambda e: e.number):
        if exchange.method == "POST" and exchange.path == ENTRIES:
            body = exchange.body_sha256
            if body in last_post:
                repeated += 1
                assert lookups_after.get(body), "a Rekor POST was repeated without a lookup"
            last_post[body] = exchange.number
            lookups_after[body] = False
            by_body[body].append(("POST", exchange.fault or "", exchange.upstream_status))
        elif exchange.method == "GET" and exchange.path.startswith(ENTRIES + "/"):
            for body in last_post:
                lookups_after[body] = True  # a lookup (of some uuid) happened after it
    for body, events in by_body.items():
        created = [e for e in events if e[2] == 201]
        assert len(created) <= 1, f"entry {body[:12]} created twice"
    return len(by_body), repeated


@pytest.mark.slow
def test_thirty_percent_faults_20_signs_100_verifies(
        sigstore_stack: Stack, registry_proxy: FaultProxy, fulcio_proxy: FaultProxy,
        rekor_proxy: FaultProxy, push_image: PushImage,
        key_pair: tuple[Path, Path, PrivateKey]) -> None:
    """With 30% of requests failing, every sign and every verify succeeds (and 30 more
    Fulcio certificate requests, so Fulcio meets every fault kind)."""
    trust = TrustedRoot.from_file(sigstore_stack.trusted_root_path)
    images = [via(push_image("faults"), registry_proxy.host) for _ in range(20)]
    for seed, proxy in enumerate((registry_proxy, fulcio_proxy, rekor_proxy), start=11):
        proxy.set_plan(_plan(0.3), seed=seed)
    _, _, key = key_pair
    keyed = SignOptions(key=key, rekor_url=rekor_proxy.url, trusted_root=trust,
                        settle_seconds=0.05, service_attempts=RETRIES)
    keyless = SignOptions(identity_token=sigstore_stack.issue_token(),
                          fulcio_url=fulcio_proxy.url, rekor_url=rekor_proxy.url,
                          trusted_root=trust, settle_seconds=0.05, service_attempts=RETRIES)
    started = time.monotonic()
    failures: list[str] = []
    with RegistryClient(insecure=(registry_proxy.host,), retries=RETRIES) as client:
        for number, image in enumerate(images):
            options = keyless if number % 4 == 0 else keyed  # 5 keyless, 15 with a key
            try:
                sign_images(client, [image], options)
            except Error as error:
                failures.append(f"sign {number}: {error.diagnostics()}")
        sign_seconds = time.monotonic() - started
        # more certificate requests, so Fulcio sees faults of every kind too
        from cryptography.hazmat.primitives.asymmetric import ec

        from signer.oidc import parse_identity_token
        from signer.services.fulcio import FulcioClient

        fulcio = FulcioClient(fulcio_proxy.url, attempts=RETRIES, backoff=0.2)
        token = parse_identity_token(sigstore_stack.issue_token())
        try:
            for number in range(30):
                try:
                    fulcio.request_certificate(ec.generate_private_key(ec.SECP256R1()), token)
                except Error as error:
                    failures.append(f"certificate {number}: {error.diagnostics()}")
        finally:
            fulcio.close()
        key_policy = VerificationPolicy(key=key.public_key())
        identity_policy = VerificationPolicy(identity=IdentityPolicy(
            identity=sigstore_stack.default_identity, issuer=sigstore_stack.oidc_issuer_url))
        verified = 0
        for round_number in range(5):
            for number, image in enumerate(images):
                policy = identity_policy if number % 4 == 0 else key_policy
                result = verify_image(client, image, VerifyOptions(trust, policy))
                if result.verified:
                    verified += 1
                else:
                    failures.append(f"verify {round_number}/{number}: "
                                    f"{result.error.diagnostics() if result.error else '?'}")
    total = time.monotonic() - started
    injected = {p.name: p.summary() for p in (registry_proxy, fulcio_proxy, rekor_proxy)}
    entries, repeated_posts = _check_rekor_posts_not_blindly_repeated(rekor_proxy)
    print(f"\nfaults: {injected}\nsign {sign_seconds:.1f}s, total {total:.1f}s, "
          f"verified {verified}, rekor entries {entries}, re-POSTs after lookup "
          f"{repeated_posts}")
    assert not failures, "\n".join(failures)
    assert verified == 100
    # two Rekor entries per sign (the .sig's hashedrekord, the bundle's dsse): no duplicates
    assert entries == 40
    assert registry_proxy.injected > 50 and rekor_proxy.injected > 3
    assert fulcio_proxy.count("POST") >= 35 and fulcio_proxy.injected > 3


def test_proxy_down_up_and_hold(registry_proxy: FaultProxy) -> None:
    session = requests.Session()
    url = registry_proxy.url + "/v2/"
    registry_proxy.down("503")
    assert session.get(url, timeout=5).status_code == 503
    registry_proxy.down("reset")
    with pytest.raises(requests.RequestException):
        session.get(url, timeout=5)
    registry_proxy.up()
    assert session.get(url, timeout=5).status_code == 200
    held = registry_proxy.hold(method="GET", path="^/v2/$", after_forward=True)
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(requests.get(url, timeout=10).status_code)
        except requests.RequestException as exc:
            outcome.append(type(exc).__name__)

    thread = threading.Thread(target=call)
    thread.start()
    assert held.wait(10) and held.exchange_number is not None
    registry_proxy.release()
    thread.join(10)
    assert outcome and outcome[0] != 200  # the parked request was reset, not answered
    assert session.get(url, timeout=5).status_code == 200  # a hold fires once
    with pytest.raises(ValueError):
        FaultPlan(rate=1.5)
    with pytest.raises(ValueError):
        FaultPlan(kinds=("teapot",))
