"""A real TUF repository for the local stack, built with python-tuf's Metadata API.

Four top-level roles with ECDSA P-256 keys of their own (generated in memory:
the repository is rebuilt each time the stack starts), consistent snapshots,
files laid out as Sigstore's repository lays them out: ``N.root.json``,
``timestamp.json``, ``N.snapshot.json``, ``N.targets.json`` and
``targets/<sha256>.<name>``. :class:`TufServer` serves the directory read-only.

For tests the repository can publish new targets, rotate the root keys (any
count and threshold, signed by whichever keys the test chooses), and re-sign any
role with a chosen version or expiry, so that rollback, freeze, mix-and-match and
bad-threshold repositories can be produced with real signatures.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from signer.testing.httpbase import Request, Response, Service, text_response

#: how long each role's metadata stays valid when (re)signed
EXPIRY = {
    "root": timedelta(days=365),
    "targets": timedelta(days=180),
    "snapshot": timedelta(days=7),
    "timestamp": timedelta(days=1),
}
_SERIALIZER = JSONSerializer(compact=False)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class TufRepository:
    """A TUF repository on disk (``directory``), consistent snapshots on."""

    def __init__(self, directory: Path, *, root_keys: int = 1, root_threshold: int = 1) -> None:
        self.directory = Path(directory)
        (self.directory / "targets").mkdir(parents=True, exist_ok=True)
        #: the signers of each role; index 0.. in the order the keys were added
        self.signers: dict[str, list[Signer]] = {
            "root": [CryptoSigner.generate_ecdsa() for _ in range(root_keys)],
            "targets": [CryptoSigner.generate_ecdsa()],
            "snapshot": [CryptoSigner.generate_ecdsa()],
            "timestamp": [CryptoSigner.generate_ecdsa()],
        }
        root = Root(expires=_now() + EXPIRY["root"], consistent_snapshot=True)
        for role, signers in self.signers.items():
            for signer in signers:
                root.add_key(signer.public_key, role)
        root.roles["root"].threshold = root_threshold
        self.root = Metadata(root)
        self.targets = Metadata(Targets(expires=_now() + EXPIRY["targets"]))
        self.snapshot = Metadata(Snapshot(expires=_now() + EXPIRY["snapshot"]))
        self.timestamp = Metadata(Timestamp(expires=_now() + EXPIRY["timestamp"]))
        self.target_files: dict[str, bytes] = {}
        #: False: snapshot and timestamp name only versions, not lengths and hashes
        #: (allowed by TUF; then only the version check catches a mix-and-match)
        self.meta_hashes = True
        self._write_root(self.signers["root"])
        self.publish_targets({})

    # -- publishing -------------------------------------------------------------------
    @property
    def root_path(self) -> Path:
        """The first root, what a client is bootstrapped with (``1.root.json``)."""
        return self.directory / "1.root.json"

    def publish_targets(self, files: dict[str, bytes]) -> None:
        """Add or replace target files; new targets, snapshot and timestamp versions."""
        for name, data in files.items():
            digest = hashlib.sha256(data).hexdigest()
            _write(self.directory / "targets" / f"{digest}.{name}", data)
            self.targets.signed.targets[name] = TargetFile.from_data(name, data, ["sha256"])
            self.target_files[name] = data
        self.targets.signed.version += 1 if files or self.targets.signed.targets else 0
        self.sign_role("targets")
        self.sign_role("snapshot", bump=True)
        self.sign_role("timestamp", bump=True)

    def sign_role(self, role: str, *, bump: bool = False, version: int | None = None,
                  expires: datetime | None = None,
                  signers: Sequence[Signer] | None = None) -> bytes:
        """Re-sign ``targets``, ``snapshot`` or ``timestamp`` and write it; returns its bytes.

        Snapshot and timestamp point at the current targets and snapshot files.
        """
        metadata: Metadata[Any] = getattr(self, role)
        if role == "snapshot":
            self.snapshot.signed.meta["targets.json"] = self._meta_file("targets")
        if role == "timestamp":
            self.timestamp.signed.snapshot_meta = self._meta_file("snapshot")
        if bump:
            metadata.signed.version += 1
        if version is not None:
            metadata.signed.version = version
        metadata.signed.expires = expires or _now() + EXPIRY[role]
        metadata.signatures.clear()
        for signer in signers if signers is not None else self.signers[role]:
            metadata.sign(signer, append=True)
        raw = metadata.to_bytes(_SERIALIZER)
        name = "timestamp.json" if role == "timestamp" else \
            f"{metadata.signed.version}.{role}.json"
        _write(self.directory / name, raw)
        return raw

    def rotate_root(self, new_keys: int, threshold: int, *,
                    sign_with_old: Sequence[Signer] | None = None,
                    sign_with_new: Sequence[Signer] | None = None) -> bytes:
        """Replace the root keys with ``new_keys`` fresh keys and ``threshold``.

        The new root (version + 1) is signed by ``sign_with_old`` (default: every
        current root key) and ``sign_with_new`` (default: every new key); a test
        passes fewer to produce a rotation below threshold. Returns its bytes.
        """
        old = self.signers["root"]
        fresh: list[Signer] = [CryptoSigner.generate_ecdsa() for _ in range(new_keys)]
        root = self.root.signed
        for signer in old:
            root.revoke_key(signer.public_key.keyid, "root")
        for signer in fresh:
            root.add_key(signer.public_key, "root")
        root.roles["root"].threshold = threshold
        root.version += 1
        root.expires = _now() + EXPIRY["root"]
        self.signers["root"] = fresh
        signers = [*(old if sign_with_old is None else sign_with_old),
                   *(fresh if sign_with_new is None else sign_with_new)]
        return self._write_root(signers)

    def _write_root(self, signers: Sequence[Signer]) -> bytes:
        self.root.signatures.clear()
        for signer in signers:
            self.root.sign(signer, append=True)
        raw = self.root.to_bytes(_SERIALIZER)
        _write(self.directory / f"{self.root.signed.version}.root.json", raw)
        return raw

    def _meta_file(self, role: str) -> MetaFile:
        metadata: Metadata[Any] = getattr(self, role)
        if not self.meta_hashes:
            return MetaFile(version=metadata.signed.version)
        data = (self.directory / f"{metadata.signed.version}.{role}.json").read_bytes()
        return MetaFile(version=metadata.signed.version, length=len(data),
                        hashes={"sha256": hashlib.sha256(data).hexdigest()})


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class TufServer(Service):
    """Serves a repository directory read-only (GET only, no directory listings)."""

    name = "tuf"

    def __init__(self, directory: Path, port: int = 0) -> None:
        super().__init__(port)
        self.directory = Path(directory).resolve()

    def handle(self, request: Request) -> Response:
        """The file at the request path, or 404."""
        if request.method not in ("GET", "HEAD"):
            return text_response(405, "method not allowed\n")
        parts = [p for p in request.path.split("/") if p]
        if not parts or any(p in (".", "..") or p.startswith(".") for p in parts):
            return text_response(404, "not found\n")
        path = self.directory.joinpath(*parts)
        if not path.is_file():
            return text_response(404, "not found\n")
        return Response(200, path.read_bytes(), {"Content-Type": "application/octet-stream"})
