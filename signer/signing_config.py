"""The signing config: which Fulcio, OIDC issuer, Rekor logs and TSAs to sign with (L1).

A ``SigningConfig`` v0.2 (``application/vnd.dev.sigstore.signingconfig.v0.2+json``,
docs/sigstore-protocols.md §5.4) lists services, each with a URL, a major API version,
a validity window and an operator; ``rekorTlogConfig`` and ``tsaConfig`` say how many
to use (``ANY``: one, ``ALL``: every one, ``EXACT`` + ``count``). As Sigstore clients
do, :meth:`SigningConfig.select` keeps the services valid now whose API version this
client speaks, takes the highest version per operator, then applies the selector.
The public-good config is embedded (``load_default``) until TUF fetches it.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from signer.errors import TrustError
from signer.trust import ValidityPeriod, parse_timestamp

SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
#: API versions this client speaks, per service kind
FULCIO_VERSIONS = (1,)
REKOR_VERSIONS = (1, 2)
TSA_VERSIONS = (1,)
_SELECTORS = ("ALL", "ANY", "EXACT")


@dataclass(frozen=True)
class Service:
    """One service endpoint of a signing config."""

    url: str
    major_api_version: int
    valid_for: ValidityPeriod
    operator: str


@dataclass(frozen=True)
class ServiceSelection:
    """``rekorTlogConfig`` / ``tsaConfig``: a selector and, for ``EXACT``, a count."""

    selector: str = "ANY"
    count: int = 1


@dataclass(frozen=True)
class SigningConfig:
    """Parsed signing config (immutable)."""

    ca_urls: tuple[Service, ...]
    oidc_urls: tuple[Service, ...]
    rekor_tlog_urls: tuple[Service, ...]
    tsa_urls: tuple[Service, ...]
    rekor_selection: ServiceSelection = ServiceSelection()
    tsa_selection: ServiceSelection = ServiceSelection()
    source: str = "signing config"

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "signing config") -> SigningConfig:
        """Parse signing config JSON (a ClientTrustConfig's ``signingConfig`` too)."""
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise TrustError(f"{source} is not JSON") from None
        if isinstance(document, dict) and isinstance(document.get("signingConfig"), dict):
            document = document["signingConfig"]
        if not isinstance(document, dict):
            raise TrustError(f"{source} is not a JSON object")
        media_type = document.get("mediaType")
        if media_type != SIGNING_CONFIG_MEDIA_TYPE:
            raise TrustError(f"{source} has media type {media_type!r}, not "
                             f"{SIGNING_CONFIG_MEDIA_TYPE}",
                             hint="pass a signing_config.v0.2.json")
        return cls(
            ca_urls=_services(document, "caUrls", source),
            oidc_urls=_services(document, "oidcUrls", source),
            rekor_tlog_urls=_services(document, "rekorTlogUrls", source),
            tsa_urls=_services(document, "tsaUrls", source),
            rekor_selection=_selection(document.get("rekorTlogConfig"), source),
            tsa_selection=_selection(document.get("tsaConfig"), source),
            source=source,
        )

    @classmethod
    def from_file(cls, path: str | Path) -> SigningConfig:
        """Read and parse a signing config file."""
        from signer.localfile import read_local_file

        data = read_local_file(path, "signing config", error=TrustError,
                               hint="pass an existing signing_config.v0.2.json")
        return cls.from_bytes(data, source=str(path))

    def fulcio(self, at: datetime | None = None) -> Service | None:
        """The Fulcio to ask for a certificate (the first one selected), or None."""
        chosen = select(self.ca_urls, FULCIO_VERSIONS, ServiceSelection("ANY"), at, self.source)
        return chosen[0] if chosen else None

    def rekor_logs(self, at: datetime | None = None) -> list[Service]:
        """The transparency logs to write to."""
        return select(self.rekor_tlog_urls, REKOR_VERSIONS, self.rekor_selection, at,
                      self.source)

    def timestamp_authorities(self, at: datetime | None = None) -> list[Service]:
        """The timestamp authorities to ask (none when the config names none)."""
        return select(self.tsa_urls, TSA_VERSIONS, self.tsa_selection, at, self.source)

    def rekor_v1(self, at: datetime | None = None) -> Service | None:
        """A Rekor v1 log valid now (for the legacy ``.sig``, which needs a SET)."""
        chosen = select(self.rekor_tlog_urls, (1,), ServiceSelection("ANY"), at, self.source)
        return chosen[0] if chosen else None


def select(services: Sequence[Service], versions: Sequence[int], selection: ServiceSelection,
           at: datetime | None = None, source: str = "signing config") -> list[Service]:
    """Services valid at ``at`` (now) in a supported version, the highest version per
    operator (in listed order of operators), cut down as ``selection`` says."""
    when = at or datetime.now(timezone.utc)
    by_operator: dict[str, list[Service]] = defaultdict(list)
    for service in services:
        if service.major_api_version in versions and service.valid_for.contains(when):
            by_operator[service.operator].append(service)
    chosen = [max(group, key=lambda s: s.major_api_version) for group in by_operator.values()]
    if selection.selector == "ALL":
        return chosen
    count = selection.count if selection.selector == "EXACT" else 1
    if selection.selector == "EXACT" and len(chosen) < count:
        raise TrustError(f"{source} asks for {count} services but only {len(chosen)} are "
                         "usable now")
    return chosen[:count]


def _services(document: dict[str, Any], key: str, source: str) -> tuple[Service, ...]:
    items = document.get(key, [])
    if not isinstance(items, list):
        raise TrustError(f"{source}: {key} is not a list")
    services = []
    for index, item in enumerate(items):
        where = f"{source}: {key}[{index}]"
        if not isinstance(item, dict):
            raise TrustError(f"{where} is not an object")
        url, version, operator = (item.get("url"), item.get("majorApiVersion"),
                                  item.get("operator", ""))
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise TrustError(f"{where} has no http(s) url")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise TrustError(f"{where} has no majorApiVersion")
        valid = item.get("validFor")
        start = valid.get("start") if isinstance(valid, dict) else None
        if not isinstance(start, str):
            raise TrustError(f"{where} has no validFor.start")
        end = valid.get("end") if isinstance(valid, dict) else None
        window = ValidityPeriod(parse_timestamp(start),
                                parse_timestamp(end) if isinstance(end, str) else None)
        services.append(Service(url.rstrip("/"), version, window,
                                operator if isinstance(operator, str) else ""))
    return tuple(services)


def _selection(value: Any, source: str) -> ServiceSelection:
    if value is None:
        return ServiceSelection("ANY")
    selector = value.get("selector", "ANY") if isinstance(value, dict) else None
    if selector not in _SELECTORS:
        raise TrustError(f"{source}: unknown service selector {selector!r}")
    count = value.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise TrustError(f"{source}: the EXACT selector needs a positive count")
    return ServiceSelection(selector, count)


@functools.lru_cache(maxsize=1)
def load_default() -> SigningConfig:
    """The public-good signing config embedded in the package (parsed once)."""
    data = resources.files("signer").joinpath("data/signing_config.v0.2.json").read_bytes()
    return SigningConfig.from_bytes(data, source="embedded public-good signing config")
