"""A tiny threaded HTTP service base for the local Sigstore stack, with fault knobs.

Each service is a ``ThreadingHTTPServer`` on 127.0.0.1 running in a daemon thread.
A service implements ``handle(Request) -> Response``; this module does the socket
work, body-size limits, JSON helpers and fault injection (latency, failing the next
N requests with a status, dropping connections).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_REQUEST_BODY = 4 * 1024 * 1024
_MAX_DRAIN = 64 * 1024 * 1024


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request as seen by a service."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    base_url: str

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name."""
        return self.headers.get(name.lower())

    def query_value(self, name: str) -> str | None:
        """The first value of a query parameter, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError when it is not JSON)."""
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    """What a service answers: status, body bytes, headers."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, value: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON response (compact, like Go servers produce)."""
    body = json.dumps(value, separators=(",", ":")).encode("utf-8")
    merged = {"Content-Type": "application/json"}
    merged.update(headers or {})
    return Response(status, body, merged)


def text_response(status: int, text: str, content_type: str = "text/plain") -> Response:
    """A plain text response."""
    return Response(status, text.encode("utf-8"), {"Content-Type": content_type})


class FaultInjector:
    """Fault knobs for one service: latency, failing N requests, dropping connections.

    All knobs are bounded (counts and seconds) and thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latency = 0.0
        self._fail_remaining = 0
        self._fail_status = 503
        self._fail_prefix: str | None = None
        self.retry_after: int | None = None
        self._drop_remaining = 0
        self._drop_prefix: str | None = None

    def set_latency(self, seconds: float) -> None:
        """Delay every request by ``seconds`` (0 to turn off; capped at 30 s)."""
        with self._lock:
            self.latency = max(0.0, min(float(seconds), 30.0))

    def fail_next(
        self,
        count: int,
        status: int = 503,
        path_prefix: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``count`` requests (optionally only under ``path_prefix``)
        with ``status`` and a JSON error body (plus ``Retry-After`` when given)."""
        with self._lock:
            self._fail_remaining = max(0, count)
            self._fail_status = status
            self._fail_prefix = path_prefix
            self.retry_after = retry_after

    def drop_next(self, count: int, path_prefix: str | None = None) -> None:
        """Close the connection without answering for the next ``count`` requests."""
        with self._lock:
            self._drop_remaining = max(0, count)
            self._drop_prefix = path_prefix

    def clear(self) -> None:
        """Turn every fault off."""
        with self._lock:
            self.latency = 0.0
            self._fail_remaining = 0
            self._drop_remaining = 0

    def decide(self, path: str) -> tuple[float, str | None, int]:
        """Consume the knobs for one request: (delay, "drop"|"fail"|None, status)."""
        with self._lock:
            delay = self.latency
            if self._drop_remaining and (
                self._drop_prefix is None or path.startswith(self._drop_prefix)
            ):
                self._drop_remaining -= 1
                return delay, "drop", 0
            if self._fail_remaining and (
                self._fail_prefix is None or path.startswith(self._fail_prefix)
            ):
                self._fail_remaining -= 1
                return delay, "fail", self._fail_status
            return delay, None, 0


class Service:
    """Base class: subclasses implement ``handle``; ``start``/``stop`` run the server."""

    name = "service"

    def __init__(self, port: int = 0) -> None:
        self.faults = FaultInjector()
        self.request_count = 0
        self.last_error: BaseException | None = None
        self._count_lock = threading.Lock()
        self._requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()

    # -- to implement -------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        """Answer one request."""
        raise NotImplementedError

    # -- lifecycle ------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port (after ``start``)."""
        if self._server is None:
            raise RuntimeError(f"{self.name} is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def bind(self) -> None:
        """Bind the listening socket (so the URL is known before serving starts)."""
        if self._server is None:
            self._server = _Server(("127.0.0.1", self._requested_port), _make_handler(self))

    def start(self) -> None:
        """Bind (if needed) and serve in a daemon thread."""
        self.bind()
        assert self._server is not None
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"signer-testing-{self.name}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the listener and every open client connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._conn_lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- internals used by the handler ------------------------------------------------
    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _count(self) -> None:
        with self._count_lock:
            self.request_count += 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # bursts of concurrent clients must not overflow the backlog

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-answer (e.g. refusing an oversized body) is not a
        server error: no traceback for it; anything else is reported as usual."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def _make_handler(service: Service) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = f"signer-testing-{service.name}"
        timeout = 30
        # Buffered writes: status, headers and body leave in one segment. Separate small
        # writes on a keep-alive connection meet Nagle + delayed ACK (40 ms a request).
        wbufsize = 64 * 1024

        def setup(self) -> None:
            super().setup()
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            service._track(self.connection, True)

        def finish(self) -> None:
            try:
                super().finish()
            finally:
                service._track(self.connection, False)

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep test output quiet

        def _dispatch(self) -> None:
            service._count()
            split = urlsplit(self.path)
            delay, action, status = service.faults.decide(split.path)
            if delay:
                time.sleep(delay)
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                self.close_connection = True
                self._send(json_response(411, {"code": 411, "message": "length required"}))
                return
            length_text = self.headers.get("Content-Length") or "0"
            try:
                length = int(length_text)
            except ValueError:
                length = -1
            if MAX_REQUEST_BODY < length <= _MAX_DRAIN:
                # Read (and drop) the body so the client sees the 413, not a reset.
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 1 << 16))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            if length < 0 or length > MAX_REQUEST_BODY:
                self._send(json_response(413, {"code": 413, "message": "request too large"}))
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            if action == "drop":
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if action == "fail":
                retry_after = service.faults.retry_after
                headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
                error = {"code": status, "message": "injected fault"}
                self._send(json_response(status, error, headers))
                return
            host = self.headers.get("Host") or f"127.0.0.1:{service.port}"
            request = Request(
                method=self.command,
                path=split.path,
                query=parse_qs(split.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                base_url=f"http://{host}",
            )
            try:
                response = service.handle(request)
            except Exception as exc:  # a bug in a test server must not kill the thread
                service.last_error = exc
                response = json_response(
                    500, {"code": 500, "message": f"internal error: {type(exc).__name__}"}
                )
            self._send(response)

        def _send(self, response: Response) -> None:
            self.send_response(response.status)
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            self.wfile.flush()

        do_GET = _dispatch
        do_POST = _dispatch
        do_PUT = _dispatch
        do_DELETE = _dispatch
        do_HEAD = _dispatch

    return Handler
