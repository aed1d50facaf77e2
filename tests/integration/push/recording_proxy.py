"""A recording HTTP proxy in front of a real registry, able to fail chosen requests.

Every request is forwarded unchanged (Host header included, so upload ``Location``
URLs point back at the proxy) and recorded as ``(method, path, status)``; a request
matching ``fail_method``/``fail_path`` (a regex) is answered ``fail_status`` instead.
Binds to 127.0.0.1 on a free port; stopped by the test.
"""

from __future__ import annotations

import http.client
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class RecordingProxy:
    """``host`` is ``127.0.0.1:PORT``; ``log`` lists ``(method, path, status)``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.log: list[tuple[str, str, int]] = []
        self.fail_method: str | None = None
        self.fail_path: str | None = None
        self.fail_status = 500
        self._lock = threading.Lock()
        handler = type("_Handler", (_Handler,), {"proxy": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def should_fail(self, method: str, path: str) -> bool:
        """True if this request is to be answered with ``fail_status``."""
        return (self.fail_path is not None and method == (self.fail_method or method)
                and re.search(self.fail_path, path) is not None)

    def record(self, method: str, path: str, status: int) -> None:
        """Append one request to the log."""
        with self._lock:
            self.log.append((method, path.split("?", 1)[0], status))

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> RecordingProxy:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    proxy: RecordingProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.proxy.should_fail(self.command, self.path):
            status, headers, data = self.proxy.fail_status, {}, b'{"errors":[]}'
        else:
            conn = http.client.HTTPConnection(self.proxy.upstream, timeout=30)
            try:
                forward = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                if body or self.command in ("POST", "PUT", "PATCH"):
                    forward["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body or None, headers=forward)
                response = conn.getresponse()
                status, headers, data = (response.status, dict(response.getheaders()),
                                         response.read())
            finally:
                conn.close()
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in _HOP:
                self.send_header(name, value)
        if self.command == "HEAD":
            self.send_header("Content-Length", headers.get("Content-Length", "0"))
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.proxy.record(self.command, self.path, status)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle
