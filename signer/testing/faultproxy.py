"""A fault-injecting HTTP reverse proxy for tests (registry, Fulcio, Rekor, ...).

``FaultProxy(upstream)`` listens on 127.0.0.1 (free port) and forwards every request
to the plain-HTTP ``upstream`` (``127.0.0.1:PORT`` or ``http://127.0.0.1:PORT``),
keeping the ``Host`` header, so URLs the upstream builds from it (registry upload
``Location`` headers) point back at the proxy. At a configurable rate it injects:

* ``503`` -- answers 503 with ``Retry-After`` (not forwarded);
* ``429`` -- answers 429 with ``Retry-After`` (not forwarded);
* ``reset`` -- resets the connection (TCP RST) without answering (not forwarded);
* ``stall`` -- waits ``stall_seconds`` then resets (not forwarded);
* ``truncate`` -- forwards, then sends the full headers and only half of the body
  and closes: the upstream acted, the client cannot know (the unknown-outcome case).

``set_rewrite(Rewrite(...), ...)`` makes it a hostile service instead: matching
requests are forwarded, and the upstream's answer is replaced by the status, headers
and body the test chose (the first rule that matches applies); a body may echo a
request header, as some servers echo ``Authorization`` into their error pages, and
every echoed value is kept in :attr:`FaultProxy.echoed`.

Draws come from one ``random.Random(seed)`` under a lock, so a sequential client
sees the same faults on every run. ``down(mode)`` turns the service permanently off
(``"503"`` or ``"reset"``) and ``up()`` back on; ``hold(...)`` parks one chosen
request (before or after forwarding it) until released, so a test can kill a client
at that exact step. Every request is logged (:class:`Exchange`) and counted
(:attr:`FaultProxy.counters`). All waits are bounded.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

FAULT_KINDS: tuple[str, ...] = ("503", "429", "reset", "stall", "truncate")
#: Longest a stall or a hold may last, in seconds (keeps every test bounded).
MAX_WAIT_SECONDS = 60.0
#: Largest request body the proxy accepts.
MAX_REQUEST_BYTES = 256 * 1024 * 1024
_HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer",
                          "upgrade", "proxy-authorization", "proxy-authenticate",
                          "content-length"})


@dataclass(frozen=True)
class FaultPlan:
    """What to inject: ``rate`` in [0, 1] of matching requests get one of ``kinds``.

    ``path`` (a regular expression searched in the request path) and ``methods``
    restrict which requests are eligible; ``retry_after`` is the ``Retry-After``
    value (seconds) of 503 and 429 answers; ``stall_seconds`` how long a stall lasts.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    retry_after: int = 1
    stall_seconds: float = 0.5
    path: str | None = None
    methods: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        if not 0.0 <= self.stall_seconds <= MAX_WAIT_SECONDS:
            raise ValueError("stall_seconds out of range")

    def eligible(self, method: str, path: str) -> bool:
        """True if a request may receive a fault under this plan."""
        if self.methods is not None and method not in self.methods:
            return False
        return self.path is None or re.search(self.path, path) is not None


@dataclass(frozen=True)
class Rewrite:
    """Replace the answer to matching requests (they are still forwarded first).

    ``path`` is a regular expression searched in the request path; ``methods``
    restricts the methods. The answer is ``status`` with ``headers`` and ``body``,
    in which every ``{echo}`` is replaced by the value of the request header
    ``echo_header`` (JSON-string-escaped, without quotes), if set.
    """

    path: str | None = None
    methods: frozenset[str] | None = None
    status: int = 403
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    echo_header: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """True if the answer to ``method path`` is to be replaced."""
        if self.methods is not None and method not in self.methods:
            return False
        return self.path is None or re.search(self.path, path) is not None

    def echoed(self, request_headers: Any) -> str | None:
        """The value of ``echo_header`` in ``request_headers`` ("" if absent), or None."""
        if self.echo_header is None:
            return None
        return str(request_headers.get(self.echo_header) or "")

    def answer(self, request_headers: Any) -> tuple[int, list[tuple[str, str]], bytes]:
        """The replacement answer for a request with ``request_headers``."""
        body = self.body
        value = self.echoed(request_headers)
        if value is not None:
            body = body.replace(b"{echo}", json.dumps(value)[1:-1].encode())
        return self.status, list(self.headers), body


@dataclass(frozen=True)
class Exchange:
    """One request as the proxy saw it."""

    number: int  # 1-based arrival order
    method: str
    path: str
    body_sha256: str
    fault: str | None  # the injected fault kind, or None
    forwarded: bool  # the upstream received the request
    upstream_status: int | None  # what the upstream answered (None if not forwarded)


@dataclass
class Hold:
    """A request parked by :meth:`FaultProxy.hold` (``reached`` is set when it arrives)."""

    number: int | None
    method: str | None
    path: str | None
    after_forward: bool
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    exchange_number: int | None = None

    def matches(self, number: int, method: str, path: str) -> bool:
        """True if the request ``number``/``method``/``path`` is the one to park."""
        if self.reached.is_set():
            return False
        if self.number is not None and number != self.number:
            return False
        if self.method is not None and method != self.method:
            return False
        return self.path is None or re.search(self.path, path) is not None

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait until the request arrives; False on timeout."""
        return self.reached.wait(min(timeout, MAX_WAIT_SECONDS))


class _QuietServer(ThreadingHTTPServer):
    """Clients vanishing mid-connection is the point here: no tracebacks on stderr."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore per-connection errors (resets, broken pipes)."""


class FaultProxy:
    """A running fault-injecting reverse proxy (see the module docstring)."""

    def __init__(self, upstream: str, plan: FaultPlan | None = None, *, seed: int = 0,
                 name: str = "upstream") -> None:
        parts = urlsplit(upstream if "://" in upstream else f"http://{upstream}")
        if parts.scheme != "http" or not parts.netloc:
            raise ValueError("the fault proxy forwards to plain-HTTP upstreams only")
        self.upstream_host = parts.netloc
        self.name = name
        self.plan = plan or FaultPlan()
        self.counters: Counter[str] = Counter()
        self.exchanges: list[Exchange] = []
        self._random = random.Random(seed)  # noqa: S311 (test fault schedule, not crypto)
        self._down: str | None = None
        self._holds: list[Hold] = []
        self._rewrites: tuple[Rewrite, ...] = ()
        self.echoed: list[str] = []
        self._lock = threading.Lock()
        self._number = 0
        self._stopping = threading.Event()
        handler = type("_BoundFaultHandler", (_FaultHandler,), {"proxy": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.port: int = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"fault-proxy-{name}")
        self._thread.start()

    # -- addresses -------------------------------------------------------------------
    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` of the proxy."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` of the proxy."""
        return f"http://{self.host}"

    # -- knobs -----------------------------------------------------------------------
    def set_plan(self, plan: FaultPlan, seed: int | None = None) -> None:
        """Replace the fault plan (and optionally reseed the RNG)."""
        with self._lock:
            self.plan = plan
            if seed is not None:
                self._random.seed(seed)

    def set_rewrite(self, *rewrites: Rewrite) -> None:
        """Replace the answers to the requests the ``rewrites`` match (none: stop)."""
        with self._lock:
            self._rewrites = rewrites

    def rewrite_for(self, method: str, path: str) -> Rewrite | None:
        """The first rewrite that applies to ``method path``, if any."""
        with self._lock:
            rewrites = self._rewrites
        return next((r for r in rewrites if r.matches(method, path)), None)

    def _note_echo(self, value: str | None) -> None:
        if value is not None:
            with self._lock:
                self.echoed.append(value)

    def down(self, mode: str = "503") -> None:
        """Make the service permanently unavailable: every request ``503`` or ``reset``."""
        if mode not in ("503", "reset"):
            raise ValueError("mode is '503' or 'reset'")
        with self._lock:
            self._down = mode

    def up(self) -> None:
        """Undo :meth:`down`."""
        with self._lock:
            self._down = None

    def hold(self, *, number: int | None = None, method: str | None = None,
             path: str | None = None, after_forward: bool = False) -> Hold:
        """Park the next request matching (arrival ``number``, ``method``, ``path`` regex).

        With ``after_forward`` the upstream acts first and the answer is withheld.
        The request waits until :meth:`release`, :meth:`stop` or ``MAX_WAIT_SECONDS``,
        then its connection is reset.
        """
        held = Hold(number, method, path, after_forward)
        with self._lock:
            self._holds.append(held)
        return held

    def release(self) -> None:
        """Let every parked request go (its connection is reset)."""
        with self._lock:
            holds = list(self._holds)
        for held in holds:
            held.released.set()

    # -- results ---------------------------------------------------------------------
    @property
    def injected(self) -> int:
        """How many faults were injected (down-mode answers included)."""
        with self._lock:
            return sum(n for kind, n in self.counters.items() if kind.startswith("fault:"))

    def count(self, method: str | None = None, path: str = "") -> int:
        """How many requests (of ``method``, whose path contains ``path``) arrived."""
        with self._lock:
            return sum(1 for e in self.exchanges
                       if method in (None, e.method) and path in e.path)

    def summary(self) -> dict[str, int]:
        """Counters as a plain dict (``requests``, ``forwarded``, ``fault:<kind>``...)."""
        with self._lock:
            return dict(self.counters)

    # -- lifecycle -------------------------------------------------------------------
    def stop(self) -> None:
        """Release parked requests and stop serving (idempotent)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self.release()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- used by the handler ---------------------------------------------------------
    def _admit(self, method: str, path: str) -> tuple[int, str | None, Hold | None]:
        """Number the request and decide its fault (or hold) under the lock."""
        with self._lock:
            self._number += 1
            number = self._number
            self.counters["requests"] += 1
            held = next((h for h in self._holds if h.matches(number, method, path)), None)
            if held is not None:
                held.exchange_number = number
                held.reached.set()
                self.counters["held"] += 1
                return number, None, held
            if self._down is not None:
                kind: str | None = self._down
            elif self.plan.rate and self.plan.eligible(method, path) and \
                    self._random.random() < self.plan.rate:
                kind = self._random.choice(self.plan.kinds)
            else:
                kind = None
            if kind is not None:
                self.counters[f"fault:{kind}"] += 1
            return number, kind, None

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)
            if exchange.forwarded:
                self.counters["forwarded"] += 1

    def _wait_released(self, held: Hold) -> None:
        deadline = time.monotonic() + MAX_WAIT_SECONDS
        while not held.released.is_set() and not self._stopping.is_set():
            if time.monotonic() > deadline:
                break
            held.released.wait(0.05)


class _FaultHandler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    # -- low-level answers -----------------------------------------------------------
    def _send(self, status: int, headers: Sequence[tuple[str, str]], body: bytes,
              declared_length: int | None = None) -> None:
        lines = [f"HTTP/1.1 {status} {http.client.responses.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers if k.lower() not in _HOP_HEADERS]
        if declared_length is None:
            declared_length = len(body)
        lines.append(f"Content-Length: {declared_length}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        payload = head if self.command == "HEAD" else head + body
        self.wfile.write(payload)

    def _reset(self) -> None:
        """Abort the connection with a TCP RST."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.proxy.upstream_host, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            if body or self.command in ("POST", "PUT", "PATCH"):
                headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            data = b"" if self.command == "HEAD" else response.read()
            return response.status, response.getheaders(), data
        finally:
            conn.close()

    # -- one request -----------------------------------------------------------------
    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self._reset()
            return
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        number, kind, held = self.proxy._admit(self.command, path)
        body_hash = hashlib.sha256(body).hexdigest()
        forwarded = False
        status: int | None = None
        recorded = False
        try:
            if held is not None:
                if held.after_forward:
                    status, _, _ = self._forward(body)
                    forwarded = True
                self.proxy._wait_released(held)
                self._reset()
            elif kind in ("503", "429"):
                retry_after = str(self.proxy.plan.retry_after)
                self._send(int(kind), [("Content-Type", "application/json"),
                                       ("Retry-After", retry_after)],
                           b'{"message":"injected fault"}')
            elif kind == "reset":
                self._reset()
            elif kind == "stall":
                self.proxy._stopping.wait(self.proxy.plan.stall_seconds)
                self._reset()
            elif kind == "truncate":
                status, headers, data = self._forward(body)
                forwarded = True
                if data and self.command != "HEAD":
                    self._send(status, headers, data[:len(data) // 2],
                               declared_length=len(data))
                self._reset()
            else:
                status, headers, data = self._forward(body)
                forwarded = True
                rewrite = self.proxy.rewrite_for(self.command, path)
                if rewrite is not None:
                    self.proxy._note_echo(rewrite.echoed(self.headers))
                    status, headers, data = rewrite.answer(self.headers)
                declared = None
                if self.command == "HEAD":
                    declared = int(next((v for k, v in headers
                                         if k.lower() == "content-length"), "0"))
                # recorded before answering, so a client that got the answer sees it counted
                self.proxy._record(Exchange(number, self.command, path, body_hash, kind,
                                            forwarded, status))
                recorded = True
                self._send(status, headers, data, declared_length=declared)
        except OSError:
            self.close_connection = True
        finally:
            if not recorded:
                self.proxy._record(Exchange(number, self.command, path, body_hash, kind,
                                            forwarded, status))

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle
