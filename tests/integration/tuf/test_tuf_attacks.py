"""The TUF client (signer.services.tuf over python-tuf's ngclient) against a real,
locally served repository whose metadata a test re-signs to play an attacker or a
broken mirror: every attack is refused with a one-line TrustError naming the check,
and legitimate changes (new targets, root rotations) are followed."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone

import pytest

from signer.errors import Error, NetworkError, TrustError
from tests.integration.tuf.conftest import SIGNING_CONFIG, TRUSTED_ROOT, Served


def _refused(served: Served, *words: str) -> str:
    with pytest.raises(TrustError) as caught:
        served.load()
    message = caught.value.message
    assert "\n" not in message
    assert message.startswith(f"TUF repository {served.url}: refused")
    for word in words:
        assert word in message, message
    return message


def test_first_update_downloads_everything_and_returns_the_targets(served: Served) -> None:
    trust = served.load()
    assert trust.origin == "online" and trust.notice is None
    assert trust.signing_config == SIGNING_CONFIG
    assert len(trust.trusted_root.tlogs) == 2  # the public-good root published as target
    names = [url.rsplit("/", 1)[1] for url in trust.requests]
    assert names[:2] == ["2.root.json", "timestamp.json"]
    assert any(name.endswith(".trusted_root.json") for name in names)


def test_a_warm_cache_costs_two_small_requests(served: Served) -> None:
    served.load()
    trust = served.load()
    assert [url.rsplit("/", 1)[1] for url in trust.requests] == ["2.root.json",
                                                                  "timestamp.json"]
    assert trust.signing_config == SIGNING_CONFIG


def test_new_targets_are_followed(served: Served) -> None:
    served.load()
    served.repo.publish_targets({"signing_config.v0.2.json": b"{}\n"})
    assert served.load().signing_config == b"{}\n"


def test_rollback_of_the_timestamp_is_refused(served: Served) -> None:
    served.load()
    current = served.repo.timestamp.signed.version
    served.repo.sign_role("timestamp", version=current - 1)
    message = _refused(served, "rollback", "timestamp")
    assert f"must be >= {current}" in message


def test_rollback_of_the_snapshot_is_refused(served: Served) -> None:
    served.load()
    current = served.repo.snapshot.signed.version
    served.repo.sign_role("snapshot", version=current - 1)
    served.repo.sign_role("timestamp", bump=True)  # a fresh timestamp naming the old snapshot
    _refused(served, "rollback", "snapshot")


def test_a_frozen_repository_expired_timestamp_is_refused(served: Served) -> None:
    served.load()
    served.repo.sign_role("timestamp", bump=True,
                          expires=datetime.now(timezone.utc) - timedelta(hours=1))
    _refused(served, "expired", "timestamp.json is expired")


def test_a_frozen_repository_replaying_an_expired_cache_is_refused(served: Served) -> None:
    # the timestamp the client caches expires shortly; the repository then stops
    # answering: the expired cache is not used in its place
    served.repo.sign_role("timestamp", bump=True,
                          expires=datetime.now(timezone.utc) + timedelta(seconds=1))
    served.load()
    time.sleep(1.5)
    served.server.stop()
    with pytest.raises(TrustError) as caught:
        served.load()
    assert "unreachable" in caught.value.message and "refused stale" in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize("meta_hashes", [False, True], ids=["versions-only", "with-hashes"])
def test_mix_and_match_of_snapshot_and_targets_is_refused(served: Served,
                                                          meta_hashes: bool) -> None:
    # the repository serves, under the current targets version's name, the bytes of
    # the previous targets metadata (validly signed, but from another snapshot)
    served.repo.meta_hashes = meta_hashes
    served.load()
    old = served.repo.directory / f"{served.repo.targets.signed.version}.targets.json"
    previous = old.read_bytes()
    served.repo.publish_targets({"signing_config.v0.2.json": b"{}\n"})
    current = served.repo.directory / f"{served.repo.targets.signed.version}.targets.json"
    current.write_bytes(previous)
    if meta_hashes:  # the snapshot's length (and hash) for targets.json catch it first
        _refused(served, "length")
    else:
        _refused(served, "rollback or mix-and-match", "targets")


def test_a_snapshot_naming_another_targets_version_is_refused(served: Served) -> None:
    served.load()
    snapshot = served.repo.snapshot.signed
    served.repo.publish_targets({"signing_config.v0.2.json": b"{}\n"})
    # a snapshot claiming an older targets version than the client already holds
    from tuf.api.metadata import MetaFile

    served.repo.sign_role("snapshot", bump=True)
    snapshot.meta["targets.json"] = MetaFile(version=1)
    served.repo.snapshot.signatures.clear()
    for signer in served.repo.signers["snapshot"]:
        served.repo.snapshot.sign(signer, append=True)
    from tuf.api.serialization.json import JSONSerializer

    (served.repo.directory / f"{snapshot.version}.snapshot.json").write_bytes(
        served.repo.snapshot.to_bytes(JSONSerializer()))
    served.repo.sign_role("timestamp", bump=True)
    _refused(served, "rollback", "targets.json version")


def test_a_target_whose_hash_does_not_match_is_refused(served: Served) -> None:
    digest = hashlib.sha256(TRUSTED_ROOT).hexdigest()
    path = served.repo.directory / "targets" / f"{digest}.trusted_root.json"
    tampered = bytearray(TRUSTED_ROOT)
    tampered[10] ^= 1
    path.write_bytes(bytes(tampered))
    _refused(served, "length or hash does not match")


def test_a_target_longer_than_signed_is_refused(served: Served) -> None:
    digest = hashlib.sha256(TRUSTED_ROOT).hexdigest()
    path = served.repo.directory / "targets" / f"{digest}.trusted_root.json"
    path.write_bytes(TRUSTED_ROOT + b" " * 100)
    _refused(served, "oversized")


def test_a_target_shorter_than_signed_is_refused(served: Served) -> None:
    digest = hashlib.sha256(TRUSTED_ROOT).hexdigest()
    path = served.repo.directory / "targets" / f"{digest}.trusted_root.json"
    path.write_bytes(TRUSTED_ROOT[:-1])
    _refused(served, "length or hash does not match")


def test_endless_timestamp_data_is_cut_at_the_limit(served: Served) -> None:
    (served.repo.directory / "timestamp.json").write_bytes(b" " * (64 * 1024 * 1024))
    started = time.monotonic()
    message = _refused(served, "oversized", "16384")
    assert time.monotonic() - started < 5, message


def test_an_oversized_root_is_refused(served: Served) -> None:
    (served.repo.directory / "2.root.json").write_bytes(b"{" * (1024 * 1024))
    _refused(served, "oversized")


def test_a_root_rotation_signed_below_the_new_threshold_is_refused(served: Served) -> None:
    served.load()
    served.repo.rotate_root(3, 2, sign_with_new=[])  # the new keys sign nothing
    served.repo.signers["root"] = served.repo.signers["root"][:1]
    _refused(served, "without enough valid signatures", "root")


def test_a_root_rotation_not_signed_by_the_old_keys_is_refused(tmp_path: object,
                                                               served: Served) -> None:
    served.load()
    served.repo.rotate_root(2, 2, sign_with_old=[])
    _refused(served, "without enough valid signatures", "root")


def test_a_root_rotation_below_a_raised_old_threshold_is_refused(served: Served) -> None:
    served.repo.rotate_root(3, 2)  # v2: three keys, threshold 2 (valid)
    served.load()
    holders = served.repo.signers["root"]
    served.repo.rotate_root(3, 2, sign_with_old=holders[:1])  # v3: one of v2's three keys
    _refused(served, "without enough valid signatures", "root")


def test_valid_root_rotations_v1_v2_v3_are_followed(served: Served) -> None:
    served.load()
    served.repo.rotate_root(3, 2)  # v2: keys and threshold changed
    served.repo.rotate_root(5, 3)  # v3: again
    # metadata signed by the current timestamp/snapshot/targets keys still verifies
    served.repo.publish_targets({"signing_config.v0.2.json": b"{}\n"})
    trust = served.load()
    names = [url.rsplit("/", 1)[1] for url in trust.requests]
    assert names[:4] == ["2.root.json", "3.root.json", "4.root.json", "timestamp.json"]
    assert trust.signing_config == b"{}\n"
    history = served.cache.glob("*/metadata/root_history/*.root.json")
    assert sorted(p.name for p in history) == ["1.root.json", "2.root.json", "3.root.json"]
    assert [url.rsplit("/", 1)[1] for url in served.load().requests] == ["4.root.json",
                                                                          "timestamp.json"]


def test_an_unreachable_repository_with_a_valid_cache_uses_it_with_a_warning(
        served: Served) -> None:
    first = served.load()
    served.server.stop()
    trust = served.load()
    assert trust.origin == "cache"
    assert trust.trusted_root == first.trusted_root
    assert trust.notice is not None and trust.notice.startswith("Warning: TUF repository")
    assert "unreachable" in trust.notice and "last refreshed" in trust.notice


def test_an_unreachable_repository_without_a_cache_is_an_error_with_a_hint(
        served: Served) -> None:
    served.server.stop()
    with pytest.raises(NetworkError) as caught:
        served.load()
    assert "unreachable" in caught.value.message and "no usable cache" in caught.value.message
    assert caught.value.hint is not None and "--offline" in caught.value.hint


def test_offline_uses_the_cache_and_says_how_old_it_is(served: Served) -> None:
    served.load()
    served.server.stop()
    trust = served.load(offline=True)
    assert trust.origin == "offline-cache"
    assert trust.notice is not None and "last refreshed" in trust.notice
    assert "expires" in trust.notice and trust.signing_config == SIGNING_CONFIG


def test_offline_without_a_cache_of_a_private_repository_is_an_error(served: Served) -> None:
    with pytest.raises(TrustError) as caught:
        served.load(offline=True)
    assert "nothing cached" in caught.value.message
    assert caught.value.requests if hasattr(caught.value, "requests") else True


def test_offline_public_good_without_a_cache_uses_the_embedded_root(tmp_path: object) -> None:
    from pathlib import Path

    from signer.services.tuf.client import load_trust
    from signer.services.tuf.instances import public_good
    from signer.trust import load_default

    trust = load_trust(public_good(), Path(str(tmp_path)), offline=True)
    assert trust.origin == "embedded"
    assert trust.trusted_root.tlogs == load_default().tlogs
    assert trust.notice is not None and "embedded" in trust.notice


def test_errors_are_one_line(served: Served) -> None:
    served.repo.sign_role("timestamp", bump=True,
                          expires=datetime.now(timezone.utc) - timedelta(hours=1))
    with pytest.raises(Error) as caught:
        served.load()
    assert "\n" not in caught.value.message
    assert "freeze attack" in caught.value.diagnostics()


def test_a_corrupt_cache_is_refetched_online_and_not_used_offline(served: Served) -> None:
    served.load()
    [targets] = served.cache.glob("*/metadata/targets.json")
    targets.write_bytes(b"{not json")
    with pytest.raises(TrustError) as caught:
        served.load(offline=True)
    assert "nothing cached" in caught.value.message
    trust = served.load()  # ngclient refuses the local copy and fetches targets again
    assert trust.signing_config == SIGNING_CONFIG
    assert any(url.endswith(".targets.json") for url in trust.requests)
    assert served.load(offline=True).origin == "offline-cache"


def test_a_tampered_cached_target_is_not_used_offline(served: Served) -> None:
    served.load()
    [cached] = served.cache.glob("*/targets/trusted_root.json")
    cached.write_bytes(cached.read_bytes().replace(b"rekor", b"rekoR", 1))
    with pytest.raises(TrustError):
        served.load(offline=True)
    assert served.load().trusted_root.tlogs  # online: fetched again and checked
