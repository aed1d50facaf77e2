"""The local Rekor v1 log: sqlite-persisted entries, an RFC 6962 tree, SETs, checkpoints.

Entries, their integrated times, the tree ID and a search index live in sqlite, so a
restart in the same directory keeps the log (the signing key is kept next to it by the
stack). ``index_offset`` simulates earlier inactive shards: global index = offset +
shard-local index, as on public-good Rekor.
"""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from signer.testing.keystore import key_id
from signer.testing.merkle import MerkleTree, leaf_hash


class DuplicateEntryError(Exception):
    """An equivalent entry is already in the log."""

    def __init__(self, uuid: str) -> None:
        super().__init__(uuid)
        self.uuid = uuid


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON for values made of str/int/bool/None/lists/dicts."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


@dataclass(frozen=True)
class StoredEntry:
    """One log entry as stored."""

    local_index: int
    uuid: str  # 64-hex leaf hash
    body: bytes
    integrated_time: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    local_index INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL,
    integrated_time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS search_index (
    key TEXT NOT NULL,
    uuid TEXT NOT NULL,
    PRIMARY KEY (key, uuid)
);
"""


class RekorLog:
    """The transparency log state and its signatures."""

    def __init__(
        self,
        db_path: Path,
        key: ec.EllipticCurvePrivateKey,
        origin_host: str = "rekor.local",
        index_offset: int = 0,
    ) -> None:
        self.key = key
        self.origin_host = origin_host
        self.clock_skew_seconds = 0  # added to integratedTime of new entries (tests)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(db_path), check_same_thread=False)
        self._db.executescript(_SCHEMA)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self.tree_id = int(self._meta("tree_id", str(secrets.randbelow(2**62) + 1)))
        self.index_offset = int(self._meta("index_offset", str(index_offset)))
        rows = self._db.execute("SELECT uuid FROM entries ORDER BY local_index").fetchall()
        self.tree = MerkleTree([bytes.fromhex(row[0]) for row in rows])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def _meta(self, name: str, default: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return str(row[0])
        self._db.execute("INSERT INTO meta (name, value) VALUES (?, ?)", (name, default))
        self._db.commit()
        return default

    # -- identity -------------------------------------------------------------------
    @property
    def log_id(self) -> bytes:
        """SHA-256 of the log key's DER SubjectPublicKeyInfo."""
        return key_id(self.key.public_key())

    @property
    def origin(self) -> str:
        """Checkpoint origin line: ``<host> - <treeID>``."""
        return f"{self.origin_host} - {self.tree_id}"

    def entry_id(self, uuid: str) -> str:
        """80-hex EntryID: 16-hex tree ID followed by the UUID."""
        return f"{self.tree_id:016x}{uuid}"

    @property
    def size(self) -> int:
        """Shard-local tree size."""
        return self.tree.size

    # -- writes ---------------------------------------------------------------------
    def append(self, body: bytes, search_keys: list[str]) -> StoredEntry:
        """Add a canonical body; raises :class:`DuplicateEntryError` if present."""
        uuid = leaf_hash(body).hex()
        with self._lock:
            existing = self.get_by_uuid(uuid)
            if existing is not None:
                raise DuplicateEntryError(uuid)
            index = self.tree.size
            now = int(time.time()) + self.clock_skew_seconds
            with self._db:
                self._db.execute(
                    "INSERT INTO entries (local_index, uuid, body, integrated_time)"
                    " VALUES (?, ?, ?, ?)",
                    (index, uuid, body, now),
                )
                self._db.executemany(
                    "INSERT OR IGNORE INTO search_index (key, uuid) VALUES (?, ?)",
                    [(k, uuid) for k in search_keys],
                )
            self.tree.append(bytes.fromhex(uuid))
            return StoredEntry(index, uuid, body, now)

    # -- reads ----------------------------------------------------------------------
    def _row(self, row: tuple[Any, ...] | None) -> StoredEntry | None:
        if row is None:
            return None
        return StoredEntry(int(row[0]), str(row[1]), bytes(row[2]), int(row[3]))

    def get_by_uuid(self, uuid: str) -> StoredEntry | None:
        """The entry with this 64-hex UUID, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT local_index, uuid, body, integrated_time FROM entries WHERE uuid = ?",
                (uuid.lower(),),
            ).fetchone()
        return self._row(row)

    def get_by_global_index(self, index: int) -> StoredEntry | None:
        """The entry at global index ``index``, or None."""
        local = index - self.index_offset
        if local < 0:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT local_index, uuid, body, integrated_time FROM entries"
                " WHERE local_index = ?",
                (local,),
            ).fetchone()
        return self._row(row)

    def search(self, key: str) -> list[str]:
        """UUIDs indexed under ``key``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT uuid FROM search_index WHERE key = ? ORDER BY uuid", (key,)
            ).fetchall()
        return [str(r[0]) for r in rows]

    # -- signatures -----------------------------------------------------------------
    def sign(self, data: bytes) -> bytes:
        """ECDSA P-256 / SHA-256 DER signature by the log key."""
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def checkpoint(self, size: int) -> str:
        """Signed note for tree ``size`` (Rekor v1 format, no timestamp line)."""
        root = self.tree.root(size)
        note = f"{self.origin}\n{size}\n{base64.b64encode(root).decode()}\n"
        signature = self.sign(note.encode("utf-8"))
        line = base64.b64encode(self.log_id[:4] + signature).decode()
        return f"{note}\n\u2014 {self.origin_host} {line}\n"

    def log_entry(self, entry: StoredEntry) -> dict[str, Any]:
        """The v1 LogEntry map ``{entryID: {...}}`` with SET and inclusion proof."""
        with self._lock:
            size = self.tree.size
            proof = self.tree.inclusion_proof(entry.local_index, size)
            root = self.tree.root(size)
            checkpoint = self.checkpoint(size)
        body_b64 = base64.b64encode(entry.body).decode("ascii")
        global_index = self.index_offset + entry.local_index
        log_id_hex = self.log_id.hex()
        promise = {
            "body": body_b64,
            "integratedTime": entry.integrated_time,
            "logID": log_id_hex,
            "logIndex": global_index,
        }
        signed_entry_timestamp = base64.b64encode(self.sign(canonical_json(promise))).decode()
        return {
            self.entry_id(entry.uuid): {
                "body": body_b64,
                "integratedTime": entry.integrated_time,
                "logID": log_id_hex,
                "logIndex": global_index,
                "verification": {
                    "inclusionProof": {
                        "checkpoint": checkpoint,
                        "hashes": [h.hex() for h in proof],
                        "logIndex": entry.local_index,
                        "rootHash": root.hex(),
                        "treeSize": size,
                    },
                    "signedEntryTimestamp": signed_entry_timestamp,
                },
            }
        }

    def log_info(self) -> dict[str, Any]:
        """``GET /api/v1/log``: current root, size, signed tree head, tree ID."""
        with self._lock:
            size = self.tree.size
            return {
                "rootHash": self.tree.root(size).hex(),
                "treeSize": size,
                "signedTreeHead": self.checkpoint(size),
                "treeID": str(self.tree_id),
            }

    def consistency(self, first: int, last: int) -> dict[str, Any]:
        """``GET /api/v1/log/proof``: consistency proof between two sizes."""
        with self._lock:
            hashes_ = self.tree.consistency_proof(first, last)
            root = self.tree.root(last)
        return {"rootHash": root.hex(), "hashes": [h.hex() for h in hashes_]}
