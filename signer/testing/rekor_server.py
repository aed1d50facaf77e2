"""A local Rekor v1 REST server over :class:`~signer.testing.rekor_log.RekorLog`.

Endpoints: ``POST /api/v1/log/entries`` (201 + ETag/Location; 409 + Location for a
duplicate; 400 ``error processing entry: ...``), ``GET /api/v1/log/entries?logIndex=``,
``GET /api/v1/log/entries/{uuid|entryID}``, ``POST /api/v1/log/entries/retrieve``,
``GET /api/v1/log``, ``GET /api/v1/log/publicKey``, ``GET /api/v1/log/proof``,
``POST /api/v1/index/retrieve``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from signer.testing.httpbase import Request, Response, Service, json_response, text_response
from signer.testing.keystore import spki_pem
from signer.testing.merkle import leaf_hash
from signer.testing.rekor_log import DuplicateEntryError, RekorLog, StoredEntry
from signer.testing.rekor_types import EntryError, canonicalize, parse_verifier

_ENTRIES = "/api/v1/log/entries"
_UUID = re.compile(r"^([0-9a-fA-F]{16})?([0-9a-fA-F]{64})$")
_MAX_BATCH = 10


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {"code": status, "message": message}, headers)


def _int_param(request: Request, name: str) -> int | None:
    value = request.query_value(name)
    if value is None or value == "":
        return None
    return int(value)


class RekorServer(Service):
    """HTTP front end of the log."""

    name = "rekor"

    def __init__(self, log: RekorLog, port: int = 0) -> None:
        super().__init__(port)
        self.log = log

    def handle(self, request: Request) -> Response:
        """Route the v1 API."""
        path = request.path.rstrip("/") or "/"
        method = request.method
        try:
            if path == _ENTRIES and method == "POST":
                return self._create(request)
            if path == _ENTRIES and method == "GET":
                return self._get_by_index(request)
            if path == _ENTRIES + "/retrieve" and method == "POST":
                return self._retrieve(request)
            if path.startswith(_ENTRIES + "/") and method == "GET":
                return self._get_by_uuid(path[len(_ENTRIES) + 1 :])
            if path == "/api/v1/log" and method == "GET":
                return json_response(200, self.log.log_info())
            if path == "/api/v1/log/publicKey" and method == "GET":
                return text_response(
                    200, spki_pem(self.log.key.public_key()), "application/x-pem-file"
                )
            if path == "/api/v1/log/proof" and method == "GET":
                return self._proof(request)
            if path == "/api/v1/index/retrieve" and method == "POST":
                return self._search(request)
        except ValueError as exc:
            return _error(400, str(exc))
        return _error(404, "path not found")

    # -- entries --------------------------------------------------------------------
    def _location(self, request: Request, uuid: str) -> str:
        return f"{request.base_url}{_ENTRIES}/{self.log.entry_id(uuid)}"

    def _create(self, request: Request) -> Response:
        try:
            proposed = request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "error parsing request body as JSON")
        try:
            entry = canonicalize(proposed)
        except EntryError as exc:
            return _error(400, f"error processing entry: {exc}")
        try:
            stored = self.log.append(entry.body, entry.search_keys)
        except DuplicateEntryError as dup:
            entry_id = self.log.entry_id(dup.uuid)
            return _error(
                409,
                f"an equivalent entry already exists in the transparency log with UUID {entry_id}",
                {"Location": self._location(request, dup.uuid)},
            )
        entry_id = self.log.entry_id(stored.uuid)
        return json_response(
            201,
            self.log.log_entry(stored),
            {"ETag": entry_id, "Location": self._location(request, stored.uuid)},
        )

    def _found(self, stored: StoredEntry | None) -> Response:
        if stored is None:
            return _error(404, "entry not found")
        return json_response(200, self.log.log_entry(stored))

    def _get_by_index(self, request: Request) -> Response:
        index = _int_param(request, "logIndex")
        if index is None or index < 0:
            return _error(400, "logIndex must be a non-negative integer")
        return self._found(self.log.get_by_global_index(index))

    def _lookup_uuid(self, text: str) -> StoredEntry | None:
        match = _UUID.match(text)
        if match is None:
            raise ValueError(f"invalid entry UUID {text!r}")
        tree, uuid = match.groups()
        if tree is not None and int(tree, 16) != self.log.tree_id:
            return None
        return self.log.get_by_uuid(uuid.lower())

    def _get_by_uuid(self, text: str) -> Response:
        return self._found(self._lookup_uuid(text))

    def _retrieve(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise ValueError("request body must be an object")
        found: list[StoredEntry | None] = []
        uuids, indexes, entries = (
            body.get("entryUUIDs"),
            body.get("logIndexes"),
            body.get("entries"),
        )
        for items in (uuids, indexes, entries):
            if items is not None and (not isinstance(items, list) or len(items) > _MAX_BATCH):
                raise ValueError(f"at most {_MAX_BATCH} items per search")
        for text in uuids or []:
            found.append(self._lookup_uuid(str(text)))
        for index in indexes or []:
            found.append(self.log.get_by_global_index(int(index)))
        for proposed in entries or []:
            try:
                canonical = canonicalize(proposed)
            except EntryError as exc:
                raise ValueError(f"error processing entry: {exc}") from exc
            found.append(self.log.get_by_uuid(leaf_hash(canonical.body).hex()))
        return json_response(200, [self.log.log_entry(s) for s in found if s is not None])

    # -- log --------------------------------------------------------------------------
    def _proof(self, request: Request) -> Response:
        first = _int_param(request, "firstSize")
        last = _int_param(request, "lastSize")
        first = 1 if first is None else first
        if last is None:
            return _error(400, "lastSize is required")
        if first < 1 or first > last:
            return _error(400, "firstSize must be between 1 and lastSize")
        if last > self.log.size:
            return _error(400, f"lastSize {last} is larger than the tree size {self.log.size}")
        return json_response(200, self.log.consistency(first, last))

    def _search(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise ValueError("request body must be an object")
        sets: list[set[str]] = []
        digest = body.get("hash")
        if digest:
            text = str(digest).lower()
            sets.append(set(self.log.search(text if ":" in text else f"sha256:{text}")))
        for name in ("email", "subject"):
            if body.get(name):
                value = str(body[name])
                sets.append(set(self.log.search(value.lower() if name == "email" else value)))
        public_key = body.get("publicKey")
        if isinstance(public_key, dict) and public_key.get("content"):
            try:
                pem = base64.b64decode(str(public_key["content"]), validate=True)
                verifier = parse_verifier(pem)
            except (binascii.Error, EntryError) as exc:
                raise ValueError(f"invalid public key: {exc}") from exc
            sets.append(set(self.log.search(hashlib.sha256(verifier.canonical_pem).hexdigest())))
        if not sets:
            raise ValueError("empty search request")
        combined = set.union(*sets) if body.get("operator") == "or" else set.intersection(*sets)
        return json_response(200, sorted(self.log.entry_id(u) for u in combined))
