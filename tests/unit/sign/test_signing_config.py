"""The signing config: parsing, and choosing services as Sigstore clients do (valid
now, a supported API version, the highest per operator, then the selector)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from signer.errors import TrustError
from signer.signing_config import SigningConfig, load_default

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def _service(url: str, version: int = 1, operator: str = "op", start: str = "2024-01-01T00:00:00Z",
             end: str | None = None) -> dict[str, Any]:
    valid = {"start": start, **({"end": end} if end else {})}
    return {"url": url, "majorApiVersion": version, "validFor": valid, "operator": operator}


def _config(**changes: Any) -> SigningConfig:
    document: dict[str, Any] = {
        "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls": [_service("https://fulcio.example")],
        "oidcUrls": [],
        "rekorTlogUrls": [_service("https://rekor.example")],
        "tsaUrls": [],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"},
    }
    document.update(changes)
    return SigningConfig.from_bytes(json.dumps(document).encode())


def test_the_embedded_public_good_config() -> None:
    config = load_default()
    assert config.fulcio(NOW).url == "https://fulcio.sigstore.dev"  # type: ignore[union-attr]
    assert [(s.url, s.major_api_version) for s in config.rekor_logs(NOW)] == [
        ("https://rekor.sigstore.dev", 1)]
    assert [s.url for s in config.timestamp_authorities(NOW)] == [
        "https://timestamp.sigstore.dev/api/v1/timestamp"]


def test_highest_supported_version_per_operator_then_the_selector() -> None:
    config = _config(rekorTlogUrls=[
        _service("https://v1.a", 1, "a"), _service("https://v2.a", 2, "a"),
        _service("https://v3.a", 3, "a"),  # a version this client does not speak
        _service("https://v1.b", 1, "b")])
    assert [s.url for s in config.rekor_logs(NOW)] == ["https://v2.a"]
    every = _config(rekorTlogUrls=[_service("https://v1.a", 1, "a"),
                                   _service("https://v1.b", 1, "b")],
                    rekorTlogConfig={"selector": "ALL"})
    assert [s.url for s in every.rekor_logs(NOW)] == ["https://v1.a", "https://v1.b"]
    assert config.rekor_v1(NOW).url == "https://v1.a"  # type: ignore[union-attr]


def test_services_outside_their_window_are_skipped() -> None:
    config = _config(tsaUrls=[_service("https://old.tsa", end="2025-01-01T00:00:00Z"),
                              _service("https://future.tsa", start="2027-01-01T00:00:00Z")])
    assert config.timestamp_authorities(NOW) == []


def test_exact_needs_enough_services() -> None:
    config = _config(tsaUrls=[_service("https://one.tsa")],
                     tsaConfig={"selector": "EXACT", "count": 2})
    with pytest.raises(TrustError, match="asks for 2 services"):
        config.timestamp_authorities(NOW)


@pytest.mark.parametrize("changes, message", [
    ({"mediaType": "application/json"}, "not application/vnd.dev.sigstore.signingconfig"),
    ({"caUrls": [{"url": "ftp://x", "majorApiVersion": 1}]}, "no http"),
    ({"caUrls": [{"url": "https://x"}]}, "no majorApiVersion"),
    ({"caUrls": [{"url": "https://x", "majorApiVersion": 1}]}, "no validFor.start"),
    ({"rekorTlogConfig": {"selector": "SOME"}}, "unknown service selector"),
])
def test_malformed_configs_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(TrustError, match=message):
        _config(**changes)
