"""A small fault-injecting HTTP proxy in front of a real registry (test code).

Requests are forwarded to the upstream registry unchanged (Host header included,
so upload ``Location`` URLs point back at the proxy) unless a fault applies to the
request's path. Faults: a fixed status answer (429 storm, 500, 403, 404), an HTML
page, one altered byte in a forwarded body, or a redirect of blob downloads to
another origin (``localhost`` instead of ``127.0.0.1``) whose request headers are
recorded. Faults can be limited to the first N matching requests. Binds to
127.0.0.1 on a free port; stopped by the test.
"""

from __future__ import annotations

import http.client
import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

HTML_PAGE = (b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
             b"<body><h1>Welcome to the hotel Wi-Fi</h1></body></html>")
REDIRECT_PREFIX = "/__redirected__/"


@dataclass
class Fault:
    """What to do to requests whose path matches ``path`` (and ``method``, if set).

    ``kind``: ``status`` (answer ``status`` with ``body``/``headers``), ``html``
    (answer ``status`` with an HTML page), ``flip`` (forward, then alter one byte
    of a successful body), ``redirect`` (forward, keep the body, answer 307 to
    ``redirect_host``), ``delay`` (forward after ``seconds``). ``times`` limits how
    often it fires (None: always).
    """

    kind: str
    path: str = r"^/v2/.+"
    method: str | None = None
    status: int = 500
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = None
    redirect_host: str = "localhost"
    seconds: float = 0.0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        """True if this fault applies to ``method path`` now."""
        if self.times is not None and self.fired >= self.times:
            return False
        if self.method is not None and self.method != method:
            return False
        return re.search(self.path, path) is not None


class FaultProxy:
    """A running proxy; ``host`` is ``127.0.0.1:PORT``; set ``faults`` per test."""

    def __init__(self, upstream_host: str) -> None:
        self.upstream_host = upstream_host
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, int]] = []
        self.redirected_headers: list[dict[str, str]] = []
        self._stash: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        handler = type("_BoundProxyHandler", (_ProxyHandler,), {"proxy": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name="fault-proxy")
        self._thread.start()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` of the proxy."""
        return f"127.0.0.1:{self.port}"

    def count(self, method: str | None = None, path: str = "") -> int:
        """How many requests (of ``method``, whose path contains ``path``) arrived."""
        with self._lock:
            return sum(1 for m, p, _ in self.log if (method in (None, m)) and path in p)

    def fault_for(self, method: str, path: str) -> Fault | None:
        """The first fault that applies (and count it as fired)."""
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.fired += 1
                    return fault
        return None

    def record(self, method: str, path: str, status: int) -> None:
        """Log one request."""
        with self._lock:
            self.log.append((method, path, status))

    def stash(self, status: int, headers: dict[str, str], body: bytes) -> str:
        """Keep a response to serve at a redirect target; returns its id."""
        with self._lock:
            key = str(next(self._ids))
            self._stash[key] = (status, headers, body)
            return key

    def unstash(self, key: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Serve a stashed response, recording the headers the client sent."""
        with self._lock:
            self.redirected_headers.append(headers)
            return self._stash.pop(key, (404, {}, b""))

    def stop(self) -> None:
        """Stop the proxy thread."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    """Ignore clients hanging up (e.g. the client's TLS probe of a plain-HTTP port)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Drop connection resets silently; report anything else."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
                "proxy-authorization", "proxy-authenticate", "content-length"}


class _ProxyHandler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.proxy.record(self.command, self.path, status)
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in _HOP_HEADERS:
                self.send_header(name, value)
        length = str(len(body))
        if self.command == "HEAD":
            length = next((v for k, v in headers.items() if k.lower() == "content-length"), "0")
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.proxy.upstream_host, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            if body or self.command in ("POST", "PUT", "PATCH"):
                headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, dict(response.getheaders()), data
        finally:
            conn.close()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path
        if path.startswith(REDIRECT_PREFIX):
            status, headers, data = self.proxy.unstash(path[len(REDIRECT_PREFIX):],
                                                       dict(self.headers.items()))
            self._reply(status, headers, data)
            return
        fault = self.proxy.fault_for(self.command, urlsplit(path).path)
        if fault is None:
            self._reply(*self._forward(body))
            return
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            self._reply(*self._forward(body))
        elif fault.kind == "status":
            headers = {"Content-Type": "application/json", **fault.headers}
            self._reply(fault.status, headers, fault.body)
        elif fault.kind == "html":
            self._reply(fault.status, {"Content-Type": "text/html; charset=utf-8"}, HTML_PAGE)
        elif fault.kind == "flip":
            status, headers, data = self._forward(body)
            if status == 200 and data:
                middle = len(data) // 2
                data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]
            self._reply(status, headers, data)
        elif fault.kind == "redirect":
            status, headers, data = self._forward(body)
            if status != 200:
                self._reply(status, headers, data)
                return
            key = self.proxy.stash(status, headers, data)
            location = f"http://{fault.redirect_host}:{self.proxy.port}{REDIRECT_PREFIX}{key}"
            self._reply(307, {"Location": location}, b"")
        else:
            raise ValueError(f"unknown fault kind {fault.kind}")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle
