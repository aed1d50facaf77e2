"""The trusted root and signing config of a TUF repository, updated or from the cache.

:func:`load_trust` is what the commands call. Online (the default) it runs
python-tuf's ngclient ``Updater`` over the cached metadata: with a warm cache that
costs two small requests (the next ``root.json``, answered 404, and
``timestamp.json``); snapshot, targets and the target files are fetched only when
the repository changed. The failure policy is fail-closed:

- the repository cannot be reached but the cache is still valid (not expired):
  the cache is used and :attr:`TufTrust.notice` says so;
- anything ngclient refuses (expired, rolled back, badly signed, mismatched or
  oversized metadata or targets) is a :class:`signer.errors.TrustError` naming
  the check;
- no usable cache and no repository: an error whose hint names ``--offline``.
  The embedded targets are never used silently.

With ``offline`` nothing is fetched: the cached targets are used however old they
are (checked against the cached, once-verified ``targets.json``), else the
embedded ones of public good and staging; the notice says how old they are.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from tuf.api import exceptions
from tuf.api.metadata import Metadata, TargetFile, Targets, Timestamp
from tuf.api.serialization import DeserializationError
from tuf.ngclient import Updater, UpdaterConfig

from signer import __version__
from signer.errors import NetworkError, TrustError
from signer.services.tuf.cache import (
    locked,
    read_refresh_record,
    repository_dir,
    write_refresh_record,
)
from signer.services.tuf.fetcher import CachingFetcher
from signer.services.tuf.instances import PUBLIC_GOOD_MIRROR, TufInstance, embedded_file
from signer.signing_config import SigningConfig
from signer.trust import TrustedRoot

TRUSTED_ROOT_TARGET = "trusted_root.json"
SIGNING_CONFIG_TARGET = "signing_config.v0.2.json"
#: largest target file accepted (the public-good trusted root is ~7 KiB)
MAX_TARGET_BYTES = 4 * 1024 * 1024

#: ngclient's limits: how many root rotations one update may walk and how large
#: each metadata file may be (public good: root ~6 KiB, timestamp ~1 KiB,
#: snapshot ~1 KiB, targets ~30 KiB)
UPDATER_CONFIG = UpdaterConfig(
    max_root_rotations=64,
    max_delegations=8,
    root_max_length=512 * 1024,
    timestamp_max_length=16 * 1024,
    snapshot_max_length=1024 * 1024,
    targets_max_length=4 * 1024 * 1024,
    app_user_agent=f"signer/{__version__}",
)

_STALE_HINT = ("the repository (or something between it and you) serves stale metadata: "
               "an outage or a freeze attack; try again later, or pass --offline to use "
               "the cache knowingly")


@dataclass(frozen=True)
class TufTrust:
    """What a TUF repository says to trust, and how fresh it is."""

    trusted_root: TrustedRoot
    #: ``signing_config.v0.2.json`` as published (None if the repository has none)
    signing_config: bytes | None
    mirror: str
    #: "online", "cache" (repository unreachable), "offline-cache" or "embedded"
    origin: str
    #: when the data was last confirmed by the repository (None: embedded)
    refreshed: datetime | None
    #: a line for the user (a warning or the age), None when fresh from the network
    notice: str | None = None
    #: the network requests this update made (for the bench and tests)
    requests: tuple[str, ...] = ()


def signing_config_for(trust: TufTrust) -> SigningConfig | None:
    """The signing config a TUF repository publishes, parsed, to sign with.

    None for public good without one (the embedded public-good config names the same
    services). Any other repository without one is an error: the embedded config would
    send the identity token to public good's Fulcio beside a private trusted root.
    """
    if trust.signing_config is not None:
        return SigningConfig.from_bytes(trust.signing_config,
                                        source=f"signing config from TUF {trust.mirror}")
    if trust.mirror == PUBLIC_GOOD_MIRROR:
        return None
    raise TrustError(f"the TUF repository {trust.mirror} publishes no signing config, so "
                     "signer cannot tell which Fulcio and Rekor go with its trusted root",
                     hint="pass --signing-config FILE, or --fulcio-url and --rekor-url")


def load_trust(instance: TufInstance, base: Path, *, offline: bool = False,
               ca_bundle: str | None = None, now: datetime | None = None) -> TufTrust:
    """The repository's trusted root and signing config (see the module docstring)."""
    moment = now or datetime.now(timezone.utc)
    if offline:
        return _offline(instance, base, moment)
    return _update(instance, base, moment, ca_bundle)


def _update(instance: TufInstance, base: Path, now: datetime, ca_bundle: str | None) -> TufTrust:
    directory = repository_dir(base, instance.mirror)
    metadata_dir = directory / "metadata"
    targets_dir = directory / "targets"
    try:
        metadata_dir.mkdir(parents=True, exist_ok=True)
        targets_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cache_error(directory, exc) from None
    fetcher = CachingFetcher(instance.mirror, metadata_dir, ca_bundle=ca_bundle)
    try:
        with locked(directory):
            updater = Updater(str(metadata_dir), f"{instance.mirror}/", str(targets_dir),
                              instance.targets_url, fetcher=fetcher, config=UPDATER_CONFIG,
                              bootstrap=instance.bootstrap_root)
            updater.refresh()
            trusted = _target(updater, TRUSTED_ROOT_TARGET, targets_dir, instance)
            signing = _target(updater, SIGNING_CONFIG_TARGET, targets_dir, instance)
            expires = _timestamp_expiry(metadata_dir)
            if fetcher.unreachable is None:
                write_refresh_record(directory, now, expires)
    except exceptions.DownloadError as exc:
        raise _download_error(instance, fetcher, exc, metadata_dir, now) from None
    except exceptions.RepositoryError as exc:
        raise _repository_error(instance, exc) from None
    except OSError as exc:
        raise _cache_error(directory, exc) from None
    finally:
        fetcher.close()
    assert trusted is not None
    source = f"trusted root from TUF {instance.mirror}"
    if fetcher.unreachable is None:
        return TufTrust(TrustedRoot.from_bytes(trusted, source), signing, instance.mirror,
                        "online", now, None, tuple(fetcher.requested))
    record = read_refresh_record(directory)
    refreshed = record[0] if record else None
    notice = (f"Warning: TUF repository {instance.mirror} is unreachable "
              f"({fetcher.unreachable}); using its cached metadata, "
              f"{_age(refreshed, now)}, valid until {_when(expires)}")
    return TufTrust(TrustedRoot.from_bytes(trusted, source), signing, instance.mirror,
                    "cache", refreshed, notice, tuple(fetcher.requested))


def _target(updater: Updater, name: str, targets_dir: Path,
            instance: TufInstance) -> bytes | None:
    """A target's verified bytes (from the cache if current); None if not published."""
    info = updater.get_targetinfo(name)
    if info is None:
        if name == TRUSTED_ROOT_TARGET:
            raise TrustError(f"TUF repository {instance.mirror} publishes no {name}",
                             hint="is this a Sigstore TUF repository?")
        return None
    if info.length > MAX_TARGET_BYTES:
        raise TrustError(f"TUF repository {instance.mirror}: target {name} is {info.length} "
                         f"bytes, over the {MAX_TARGET_BYTES}-byte limit")
    final = targets_dir / quote(name, safe="")
    cached = updater.find_cached_target(info, str(final))
    if cached is None:
        fd, temporary = tempfile.mkstemp(dir=targets_dir, prefix=f".{final.name}.")
        os.close(fd)
        try:
            updater.download_target(info, temporary)
            os.replace(temporary, final)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
    data = final.read_bytes()
    info.verify_length_and_hashes(data)  # the file may have changed since it was checked
    return data


def _timestamp_expiry(metadata_dir: Path) -> datetime:
    timestamp = Metadata[Timestamp].from_bytes((metadata_dir / "timestamp.json").read_bytes())
    return timestamp.signed.expires


def _offline(instance: TufInstance, base: Path, now: datetime) -> TufTrust:
    directory = repository_dir(base, instance.mirror)
    cached = _cached_targets_consistently(directory)
    if cached is not None:
        trusted, signing = cached
        record = read_refresh_record(directory)
        refreshed = record[0] if record else None
        state = ""
        if record is not None:
            verb = "expired" if record[1] < now else "expires"
            state = f"; its metadata {verb} {_when(record[1])}"
        notice = (f"Offline: trusted root from the TUF cache of {instance.mirror}, "
                  f"{_age(refreshed, now)}{state}")
        return TufTrust(TrustedRoot.from_bytes(trusted, f"cached trusted root of TUF "
                                               f"{instance.mirror}"),
                        signing, instance.mirror, "offline-cache", refreshed, notice)
    embedded = embedded_file(instance.embedded_name, TRUSTED_ROOT_TARGET) \
        if instance.embedded_name else None
    if embedded is None:
        raise TrustError(f"--offline: nothing cached for TUF repository {instance.mirror} "
                         f"under {directory}",
                         hint="run once without --offline (or 'signer initialize') to fill "
                              "the cache, or pass --trusted-root FILE")
    signing = embedded_file(instance.embedded_name, SIGNING_CONFIG_TARGET)
    notice = (f"Offline: no TUF cache for {instance.mirror}; using the {instance.embedded_name} "
              f"trusted root embedded in signer {__version__}, which may be out of date")
    return TufTrust(TrustedRoot.from_bytes(embedded, f"embedded {instance.embedded_name} "
                                           "trusted root"),
                    signing, instance.mirror, "embedded", None, notice)


def _cached_targets_consistently(directory: Path) -> tuple[bytes, bytes | None] | None:
    """:func:`_cached_targets` while no update writes the cache (its lock held), so that
    targets.json and the target files are of one update; a cache that cannot be locked
    (read-only, or absent) is read as it is."""
    if not directory.is_dir():
        return None
    try:
        with locked(directory):
            return _cached_targets(directory)
    except OSError:
        return _cached_targets(directory)


def _cached_targets(directory: Path) -> tuple[bytes, bytes | None] | None:
    """The cached targets, checked against the cached (once verified) targets.json."""
    try:
        targets = Metadata[Targets].from_bytes(
            (directory / "metadata" / "targets.json").read_bytes()).signed
    except (OSError, DeserializationError):  # none, or a corrupt one: no usable cache
        return None
    found: dict[str, bytes] = {}
    for name in (TRUSTED_ROOT_TARGET, SIGNING_CONFIG_TARGET):
        info: TargetFile | None = targets.targets.get(name)
        if info is None:
            continue
        try:
            data = (directory / "targets" / quote(name, safe="")).read_bytes()
            info.verify_length_and_hashes(data)
        except (OSError, exceptions.LengthOrHashMismatchError):
            continue
        found[name] = data
    if TRUSTED_ROOT_TARGET not in found:
        return None
    return found[TRUSTED_ROOT_TARGET], found.get(SIGNING_CONFIG_TARGET)


def _age(refreshed: datetime | None, now: datetime) -> str:
    if refreshed is None:
        return "last refreshed at an unknown time"
    seconds = max(0, int((now - refreshed).total_seconds()))
    return f"last refreshed {_span(seconds)} ago ({_when(refreshed)})"


def _span(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _repository_error(instance: TufInstance, exc: exceptions.RepositoryError) -> TrustError:
    where = f"TUF repository {instance.mirror}"
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, exceptions.ExpiredMetadataError):
        return TrustError(f"{where}: refused expired metadata ({detail})", hint=_STALE_HINT)
    if isinstance(exc, exceptions.BadVersionNumberError):
        return TrustError(f"{where}: refused a rollback or mix-and-match ({detail})",
                          hint="the repository or a mirror serves older metadata than "
                               "signer has already seen; do not trust it")
    if isinstance(exc, exceptions.UnsignedMetadataError):
        return TrustError(f"{where}: refused metadata without enough valid signatures "
                          f"({detail})", hint="the metadata is not signed by the keys the "
                                              "trusted TUF root names")
    if isinstance(exc, exceptions.LengthOrHashMismatchError):
        return TrustError(f"{where}: refused a file whose length or hash does not match "
                          f"the signed metadata ({detail})")
    return TrustError(f"{where}: refused its metadata ({detail})")


def _download_error(instance: TufInstance, fetcher: CachingFetcher,
                    exc: exceptions.DownloadError, metadata_dir: Path,
                    now: datetime) -> NetworkError | TrustError:
    where = f"TUF repository {instance.mirror}"
    if isinstance(exc, exceptions.DownloadLengthMismatchError):
        return TrustError(f"{where}: refused an oversized file ({exc})",
                          hint="the repository sent more data than the signed metadata "
                               "(or signer's limits) allow")
    if fetcher.unreachable is not None:
        try:
            expired = _timestamp_expiry(metadata_dir)
        except (OSError, DeserializationError):  # no cached timestamp, or a corrupt one
            expired = None
        if expired is not None and expired < now:
            return TrustError(f"{where} is unreachable ({fetcher.unreachable}) and its cache "
                              f"expired {_when(expired)}: refused stale metadata",
                              hint=_STALE_HINT)
        return NetworkError(f"{where} is unreachable ({fetcher.unreachable}) and there is "
                            "no usable cache",
                            hint="check the network; to verify without it, --offline "
                                 "uses the cache or the embedded trusted root knowingly, "
                                 "--trusted-root FILE a root of your choice")
    cause = exc.__cause__
    detail = str(cause) if cause is not None else str(exc)
    return NetworkError(f"{where}: download failed ({detail or type(exc).__name__})")


def _cache_error(directory: Path, exc: OSError) -> TrustError:
    return TrustError(f"TUF cache {directory}: {exc.strerror or exc}",
                      hint="set TUF_ROOT to a writable directory")

