"""The local Rekor v2 HTTP API over :class:`~signer.testing.rekor_v2.RekorV2Log`.

``POST /api/v2/log/entries`` takes ``{"hashedRekordRequestV002": {...}}`` and answers
201 with the ``TransparencyLogEntry`` (400 ``{"code","message"}`` for a refused
request; a ``dsseRequestV002`` is refused as deprecated). The read API is rekor-tiles':
``GET /api/v2/checkpoint`` (the signed note), ``GET /api/v2/tile/{L}/{N}[.p/{W}]``
and ``GET /api/v2/tile/entries/{N}[.p/{W}]``, with C2SP's ``x001/x234/067`` index
paths; a tile the tree does not hold yet is 404.
"""

from __future__ import annotations

import re

from signer.testing.httpbase import Request, Response, Service, json_response, text_response
from signer.testing.rekor_v2 import EntryError, RekorV2Log, origin_of

_ENTRIES = "/api/v2/log/entries"
_TILE = re.compile(
    r"^/api/v2/tile/(?P<level>entries|\d{1,2})/(?P<index>(?:x\d{3}/)*\d{3})(?:\.p/(?P<width>\d{1,3}))?$")


def _error(status: int, message: str) -> Response:
    return json_response(status, {"code": status, "message": message})


def tile_index(path: str) -> int:
    """The tile index of a C2SP path element such as ``x001/x234/067`` (1234067)."""
    return int(path.replace("x", "").replace("/", ""))


class RekorV2Server(Service):
    """HTTP front end of the v2 log. Its checkpoint origin is set from its URL on bind."""

    name = "rekor-v2"

    def __init__(self, log: RekorV2Log, port: int = 0) -> None:
        super().__init__(port)
        self.log = log

    def bind(self) -> None:
        """Bind, then name the log after its URL (C2SP origin = URL without scheme)."""
        super().bind()
        self.log.origin = origin_of(self.url)

    def handle(self, request: Request) -> Response:
        """Route the write and tile APIs."""
        path = request.path.rstrip("/")
        if path == _ENTRIES and request.method == "POST":
            return self._create(request)
        if request.method != "GET":
            return _error(404, "path not found")
        if path == "/api/v2/checkpoint":
            return text_response(200, self.log.checkpoint(), "text/plain; charset=utf-8")
        match = _TILE.match(path)
        if match is None:
            return _error(404, "path not found")
        index = tile_index(match["index"])
        width = int(match["width"]) if match["width"] else None
        if match["level"] == "entries":
            data = self.log.entry_bundle(index, width)
        else:
            data = self.log.tile(int(match["level"]), index, width)
        if data is None:
            return _error(404, "tile not found")
        return Response(200, data, {"Content-Type": "application/octet-stream"})

    def _create(self, request: Request) -> Response:
        try:
            document = request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "error parsing request body as JSON")
        if not isinstance(document, dict) or len(document) != 1:
            return _error(400, "the request needs exactly one of hashedRekordRequestV002 "
                          "or dsseRequestV002")
        if "dsseRequestV002" in document:
            return _error(400, "dsseRequestV002 is deprecated: log a DSSE envelope as a "
                          "hashedRekordRequestV002 over its PAE")
        if "hashedRekordRequestV002" not in document:
            return _error(400, f"unsupported request type {next(iter(document))!r}")
        try:
            entry = self.log.add(document["hashedRekordRequestV002"])
        except EntryError as error:
            return _error(400, f"invalid entry: {error}")
        return json_response(201, entry)
