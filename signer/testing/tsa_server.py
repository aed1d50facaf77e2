"""The local timestamp authority's HTTP API, as sigstore/timestamp-authority serves it.

``POST /api/v1/timestamp`` with ``Content-Type: application/timestamp-query`` and a DER
``TimeStampReq`` answers 201 ``application/timestamp-reply`` (a rejected request is
still a ``TimeStampResp``, with status rejection, answered 400);
``GET /api/v1/timestamp/certchain`` answers the PEM chain (leaf then root).
"""

from __future__ import annotations

from signer.testing.httpbase import Request, Response, Service, text_response
from signer.testing.tsa import RequestError, TimestampAuthority, parse_request, rejection

TIMESTAMP_PATH = "/api/v1/timestamp"
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"


class TsaServer(Service):
    """HTTP front end of :class:`~signer.testing.tsa.TimestampAuthority`."""

    name = "tsa"

    def __init__(self, authority: TimestampAuthority, port: int = 0) -> None:
        super().__init__(port)
        self.authority = authority

    @property
    def timestamp_url(self) -> str:
        """The URL clients POST requests to (what a signing config names)."""
        return self.url + TIMESTAMP_PATH

    def handle(self, request: Request) -> Response:
        """Route the timestamp API."""
        path = request.path.rstrip("/")
        if path == TIMESTAMP_PATH and request.method == "POST":
            content_type = (request.header("content-type") or "").split(";")[0].strip()
            if content_type != QUERY_TYPE:
                return text_response(415, f"expected Content-Type {QUERY_TYPE}\n")
            try:
                parse_request(request.body)
            except RequestError as error:
                return Response(400, rejection(str(error), error.fail_bit),
                                {"Content-Type": REPLY_TYPE})
            return Response(201, self.authority.respond(request.body),
                            {"Content-Type": REPLY_TYPE})
        if path == TIMESTAMP_PATH + "/certchain" and request.method == "GET":
            return text_response(200, self.authority.chain_pem(),
                                 "application/pem-certificate-chain")
        return text_response(404, "path not found\n")
