"""A server that sends its answer one byte at a time never holds a call for ever.

The read timeout is per socket read: a registry, token server, Fulcio or Rekor that
sends one byte every half second never trips it, and a 4 MiB manifest would take weeks.
Every body read through :func:`signer.http.read_bounded` therefore has a deadline for
the whole body (at least :data:`signer.http.BODY_MIN_SECONDS`, more for large limits).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from signer.errors import ServiceTimeoutError
from signer.formats.legacy import signature_tag
from signer.http import new_session, read_bounded
from tests.hardening.conftest import signer_cli
from tests.hardening.test_hostile_network import HostileServer, _Handler, hostile  # noqa: F401

DIGEST = "sha256:" + "cd" * 32


def _trickle(handler: _Handler, length: int = 100_000, interval: float = 0.5) -> None:
    """Headers at once, then one byte per ``interval`` for ``length`` bytes."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
    handler.send_header("Content-Length", str(length))
    handler.end_headers()
    try:
        for _ in range(length):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(interval)
    except OSError:
        return


@pytest.fixture
def trickling_socket() -> Iterator[str]:
    """A raw HTTP server on 127.0.0.1 whose body arrives one byte every 0.2 s."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            while not stop.is_set():
                try:
                    connection.sendall(b"x")
                except OSError:
                    return
                time.sleep(0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    stop.set()
    server.close()


def test_read_bounded_gives_up_at_its_deadline(trickling_socket: str) -> None:
    session = new_session(timeout=(2, 2), retries=0)
    response = session.get(trickling_socket, stream=True)
    started = time.monotonic()
    with pytest.raises(ServiceTimeoutError, match=r"test body did not arrive within 1\.5 s"):
        read_bounded(response, 4096, "test body", deadline=1.5)
    assert time.monotonic() - started < 4  # the deadline, plus at most one read timeout


@pytest.mark.slow
def test_verify_against_a_registry_that_trickles_the_signature_manifest(
        hostile: Callable[[], HostileServer], key_pair: tuple[Path, Path, Any]) -> None:  # noqa: F811
    server = hostile()
    server.routes = {
        "GET /v2/": lambda h: h.reply(200, b"{}", {"Content-Type": "application/json"}),
        f"GET /v2/r/manifests/{signature_tag(DIGEST)}": _trickle,
    }
    started = time.monotonic()
    result = signer_cli(["verify", "--key", str(key_pair[1]), "--insecure-ignore-tlog",
                         "--insecure-registry", server.host, f"{server.host}/r@{DIGEST}"],
                        timeout=240)
    seconds = time.monotonic() - started
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "did not arrive within" in errors[0], result.stderr
    assert result.returncode == 1, result.stderr
    assert seconds < 200, seconds  # the minimum deadline per attempt, and the retries
