"""Issue 8.3 (network and archives): hostile registries and hostile push inputs.

A small scripted HTTP server (127.0.0.1) plays the hostile registry; ``signer verify``
and ``signer push`` run as real subprocesses. Each case must end in one ``Error:``
line with exit 1 (or the documented cosign code), quickly, with no secret leaving
for another host and no file written outside the work directory.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from signer.formats.legacy import (
    ANNOTATION_SIGNATURE,
    SIMPLE_SIGNING_MEDIA_TYPE,
    SignatureLayer,
    build_signature_manifest,
    signature_tag,
)
from signer.reference import parse_reference
from signer.registry.client import RegistryClient
from signer.testing.registry import LocalRegistry
from tests.hardening.conftest import PushImage, signer_cli

pytestmark = pytest.mark.slow

USER, PASSWORD = "hostile-user", "hostile-password-91f3"
DIGEST = "sha256:" + "ab" * 32
Route = Callable[["_Handler"], None]


@dataclass
class HostileServer:
    """A scripted HTTP server: ``routes`` maps 'METHOD path' to a handler."""

    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def start(self) -> None:
        handler = type("_Bound", (_Handler,), {"server_state": self})
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietServer(ThreadingHTTPServer):
    """Clients giving up on a hostile answer is expected: no tracebacks on stderr."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore per-connection errors."""


class _Handler(BaseHTTPRequestHandler):
    server_state: HostileServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              length: int | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _any(self) -> None:
        path = self.path.split("?", 1)[0]
        self.server_state.seen.append((self.command, path, dict(self.headers.items())))
        route = self.server_state.routes.get(f"{self.command} {path}") or \
            self.server_state.routes.get(f"* {path}")
        if route is None:
            self.reply(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"no"}]}',
                       {"Content-Type": "application/json"})
        else:
            route(self)

    do_GET = do_HEAD = do_POST = do_PUT = _any


@pytest.fixture
def hostile() -> Iterator[Callable[[], HostileServer]]:
    servers: list[HostileServer] = []

    def make() -> HostileServer:
        server = HostileServer()
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def _ok_ping(handler: _Handler) -> None:
    handler.reply(200, b"{}", {"Content-Type": "application/json",
                               "Docker-Distribution-API-Version": "registry/2.0"})


def _sig_path(repository: str = "r") -> str:
    return f"/v2/{repository}/manifests/{signature_tag(DIGEST)}"


def _verify(host: str, pub: Path, extra_env: dict[str, str] | None = None,
            timeout: float = 120) -> tuple[int, str, float]:
    started = time.monotonic()
    result = signer_cli(["verify", "--key", str(pub), "--insecure-ignore-tlog",
                         "--insecure-registry", host, f"{host}/r@{DIGEST}"],
                        env=extra_env, timeout=timeout)
    return result.returncode, result.stderr, time.monotonic() - started


def _one_error(stderr: str) -> str:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.fixture
def pub(key_pair: tuple[Path, Path, Any]) -> Path:
    return key_pair[1]


@pytest.mark.parametrize("declared", [True, False])
def test_manifest_over_the_size_cap(hostile: Callable[[], HostileServer], pub: Path,
                                    declared: bool) -> None:
    """A 6 MiB .sig manifest (cap 4 MiB), with or without Content-Length."""
    server = hostile()
    huge = b'{"schemaVersion":2,"layers":[' + b" " * (6 * 1024 * 1024) + b"]}"

    def send(handler: _Handler) -> None:
        headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        if declared:
            handler.reply(200, huge, headers)
        else:  # chunked, no declared length: the cap must hold while reading
            handler.send_response(200)
            for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
                handler.send_header(name, value)
            handler.end_headers()
            for start in range(0, len(huge), 65536):
                chunk = huge[start:start + 65536]
                handler.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            handler.wfile.write(b"0\r\n\r\n")

    server.routes = {"GET /v2/": _ok_ping, f"GET {_sig_path()}": send}
    code, stderr, seconds = _verify(server.host, pub)
    line = _one_error(stderr)
    assert code == 1 and "limit" in line, stderr
    assert seconds < 30


def test_deeply_nested_manifest_from_the_registry(hostile: Callable[[], HostileServer],
                                                 pub: Path) -> None:
    """Regression (found by hardening): 200000 nested '[' in a .sig manifest raised
    RecursionError ("internal error"); now one line, exit 1."""
    server = hostile()
    nested = b"[" * 200_000 + b"]" * 200_000
    server.routes = {"GET /v2/": _ok_ping, f"GET {_sig_path()}": lambda h: h.reply(
        200, nested, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})}
    code, stderr, _ = _verify(server.host, pub)
    line = _one_error(stderr)
    assert code == 1 and "JSON" in line, stderr


@pytest.mark.parametrize("location", ["self", "file:///etc/passwd", "ftp://127.0.0.1/x",
                                      "http://[::1", "gopher://x"])
def test_hostile_redirects(hostile: Callable[[], HostileServer], pub: Path,
                           location: str) -> None:
    """A redirect loop or a redirect to another scheme: one line, exit 1, no file read."""
    server = hostile()
    target = _sig_path() if location == "self" else location
    server.routes = {"GET /v2/": _ok_ping, f"GET {_sig_path()}": lambda h: h.reply(
        307, b"", {"Location": target})}
    code, stderr, seconds = _verify(server.host, pub)
    _one_error(stderr)
    assert code == 1 and seconds < 30, stderr
    assert "root:" not in stderr


def test_signature_blob_larger_than_declared(hostile: Callable[[], HostileServer],
                                             pub: Path) -> None:
    """A layer blob that is bigger than the payload cap is refused while reading; that
    signature fails alone (issue 13 item 3), so the image has no matching signature."""
    server = hostile()
    blob = b"x" * (512 * 1024)
    layer = SignatureLayer(b"{}", SIMPLE_SIGNING_MEDIA_TYPE, {ANNOTATION_SIGNATURE: "AA=="})
    manifest, _ = build_signature_manifest([layer])
    server.routes = {
        "GET /v2/": _ok_ping,
        f"GET {_sig_path()}": lambda h: h.reply(200, manifest, {
            "Content-Type": "application/vnd.oci.image.manifest.v1+json"}),
        f"GET /v2/r/blobs/{layer.digest}": lambda h: h.reply(200, blob),
    }
    code, stderr, _ = _verify(server.host, pub)
    line = _one_error(stderr)
    assert code == 12 and line.startswith("Error: no matching signatures"), stderr
    assert "524288 bytes, over the 131072-byte limit" in stderr


@pytest.mark.parametrize("kind", ["long-line", "many-headers"])
def test_huge_response_headers(hostile: Callable[[], HostileServer], pub: Path,
                               kind: str) -> None:
    server = hostile()

    def send(handler: _Handler) -> None:
        handler.send_response(200)
        if kind == "long-line":
            handler.send_header("X-Huge", "a" * (256 * 1024))
        else:
            for number in range(5000):
                handler.send_header(f"X-H{number}", "v")
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"{}")

    server.routes = {"* /v2/": send}
    code, stderr, seconds = _verify(server.host, pub)
    _one_error(stderr)
    assert code == 1 and seconds < 30


def test_redirect_to_another_host_does_not_carry_credentials(
        hostile: Callable[[], HostileServer], pub: Path, tmp_path: Path) -> None:
    """Basic credentials for the registry never reach the host a blob redirects to."""
    registry, elsewhere = hostile(), hostile()
    layer = SignatureLayer(b'{"critical":{}}', SIMPLE_SIGNING_MEDIA_TYPE,
                           {ANNOTATION_SIGNATURE: "AA=="})
    manifest, _ = build_signature_manifest([layer])
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def authed(route: Route) -> Route:
        def check(handler: _Handler) -> None:
            if handler.headers.get("Authorization") != expected:
                handler.reply(401, b"{}", {"WWW-Authenticate": 'Basic realm="hostile"'})
            else:
                route(handler)
        return check

    registry.routes = {
        "GET /v2/": authed(_ok_ping),
        f"GET {_sig_path()}": authed(lambda h: h.reply(200, manifest, {
            "Content-Type": "application/vnd.oci.image.manifest.v1+json"})),
        f"GET /v2/r/blobs/{layer.digest}": authed(lambda h: h.reply(
            307, b"", {"Location": f"http://{elsewhere.host}/blob"})),
    }
    elsewhere.routes = {"GET /blob": lambda h: h.reply(200, layer.payload)}
    config = tmp_path / "docker"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"auths": {registry.host: {
        "auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}}}))
    code, stderr, _ = _verify(registry.host, pub, {"DOCKER_CONFIG": str(config)})
    assert code == 12, stderr  # the blob arrived; its signature is garbage
    assert any(path == "/blob" for _, path, _ in elsewhere.seen)
    for _, _, headers in elsewhere.seen:
        assert "Authorization" not in headers and "authorization" not in headers
    assert PASSWORD not in stderr


def test_bearer_realm_on_another_plain_http_host_is_refused(
        hostile: Callable[[], HostileServer], pub: Path, tmp_path: Path) -> None:
    """A registry naming a plain-HTTP token realm on a non-loopback host gets no
    credentials: a one-line error, nothing sent there."""
    registry = hostile()
    registry.routes = {"* /v2/": lambda h: h.reply(401, b"{}", {
        "WWW-Authenticate": 'Bearer realm="http://192.0.2.1:9/token",service="evil"'})}
    config = tmp_path / "docker"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"auths": {registry.host: {
        "auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}}}))
    code, stderr, seconds = _verify(registry.host, pub, {"DOCKER_CONFIG": str(config)})
    line = _one_error(stderr)
    assert code == 1 and seconds < 20, stderr
    assert PASSWORD not in stderr and "192.0.2.1" in line + stderr


def test_bearer_realm_on_another_loopback_host_gets_the_token_flow(
        hostile: Callable[[], HostileServer], pub: Path, tmp_path: Path) -> None:
    """The realm host (another port) gets the basic credentials -- as the registry asked
    -- but the bearer token it hands out is only sent back to the registry."""
    registry, realm = hostile(), hostile()
    token = "hostile-bearer-token-5e7d"

    def v2(handler: _Handler) -> None:
        if handler.headers.get("Authorization") == f"Bearer {token}":
            handler.reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"x"}]}',
                          {"Content-Type": "application/json"})
        else:
            handler.reply(401, b"{}", {"WWW-Authenticate":
                                       f'Bearer realm="http://{realm.host}/token",service="s"'})

    registry.routes = {"GET /v2/": v2, f"GET {_sig_path()}": v2, f"HEAD {_sig_path()}": v2}
    realm.routes = {"GET /token": lambda h: h.reply(200, json.dumps({"token": token}).encode(),
                                                    {"Content-Type": "application/json"})}
    config = tmp_path / "docker"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"auths": {registry.host: {
        "auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}}}))
    code, stderr, _ = _verify(registry.host, pub, {"DOCKER_CONFIG": str(config)})
    _one_error(stderr)
    assert code == 10, stderr  # no signatures: the token flow worked
    assert all(f"Bearer {token}" not in str(h) for _, _, h in realm.seen)
    assert token not in stderr and PASSWORD not in stderr


def test_signature_manifest_with_thousands_of_layers(
        registry: LocalRegistry, direct_client: RegistryClient, push_image: PushImage,
        pub: Path, key_pair: tuple[Path, Path, Any]) -> None:
    """A real .sig manifest with 3000 layers: verify refuses it in bounded time and
    signing does not add a 3001st (both one-line errors); nothing is changed."""
    image = push_image("many-layers")
    digest = direct_client.resolve_digest(image)
    sig_ref = image.repository_only().with_tag(signature_tag(digest))
    layers = [SignatureLayer(f'{{"n":{n}}}'.encode(), SIMPLE_SIGNING_MEDIA_TYPE,
                             {ANNOTATION_SIGNATURE: "AA=="}) for n in range(3000)]
    for layer in layers:
        direct_client.upload_blob(sig_ref, layer.payload, layer.digest)
    manifest, config = build_signature_manifest(layers)
    direct_client.upload_blob(sig_ref, config)
    direct_client.put_manifest(sig_ref, manifest, "application/vnd.oci.image.manifest.v1+json")
    started = time.monotonic()
    result = signer_cli(["verify", "--key", str(pub), "--insecure-ignore-tlog",
                         "--insecure-registry", registry.host, str(image)])
    seconds = time.monotonic() - started
    line = _one_error(result.stderr)
    assert result.returncode == 1 and "1000" in line and seconds < 30, result.stderr
    key_path, _, _ = key_pair
    from tests.hardening.conftest import KEY_PASSWORD

    signed = signer_cli(["sign", "--key", str(key_path), "--tlog-upload=false",
                         "--insecure-registry", registry.host, str(image)],
                        env={"COSIGN_PASSWORD": KEY_PASSWORD})
    _one_error(signed.stderr)
    assert signed.returncode == 1, signed.stderr
    assert hashlib.sha256(direct_client.get_manifest(sig_ref).data).hexdigest() == \
        hashlib.sha256(manifest).hexdigest()


def _tar(entries: list[tarfile.TarInfo], payloads: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for info in entries:
            data = payloads.get(info.name)
            if data is not None:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                archive.addfile(info)
    return buffer.getvalue()


@pytest.mark.parametrize("attack", ["dotdot", "absolute", "symlink-out", "hardlink-out",
                                    "symlink-manifest"])
def test_push_refuses_hostile_tar(registry: LocalRegistry, tmp_path: Path,
                                  attack: str) -> None:
    """Path traversal and links in a docker-save tar given to ``signer push``."""
    manifest = json.dumps([{"Config": "config.json", "RepoTags": ["x:1"],
                            "Layers": ["layer.tar"]}]).encode()
    payloads = {"manifest.json": manifest, "config.json": b'{"rootfs":{"type":"layers"}}',
                "layer.tar": b""}
    entries = [tarfile.TarInfo(name) for name in ("manifest.json", "config.json", "layer.tar")]
    victim = tmp_path / "victim.txt"
    victim.write_text("secret")
    if attack == "dotdot":
        entries[1] = tarfile.TarInfo("../../../../tmp/signer-hardening-escape")
        payloads[entries[1].name] = b"x"
    elif attack == "absolute":
        entries[1] = tarfile.TarInfo("/tmp/signer-hardening-escape")
        payloads[entries[1].name] = b"x"
    elif attack in ("symlink-out", "hardlink-out", "symlink-manifest"):
        link = tarfile.TarInfo("config.json" if attack != "symlink-manifest"
                               else "manifest.json")
        link.type = tarfile.SYMTYPE if attack != "hardlink-out" else tarfile.LNKTYPE
        link.linkname = str(victim)
        index = 1 if attack != "symlink-manifest" else 0
        entries[index] = link
        payloads.pop(link.name, None)
    archive = tmp_path / "hostile.tar"
    archive.write_bytes(_tar(entries, payloads))
    work = tmp_path / "cwd"
    work.mkdir()
    result = signer_cli(["push", "--insecure-registry", registry.host, str(archive),
                         f"{registry.host}/hardening/hostile-tar:{attack}"], cwd=work)
    line = _one_error(result.stderr)
    assert result.returncode in (1, 2), result.stderr
    assert not Path("/tmp/signer-hardening-escape").exists()
    assert victim.read_text() == "secret" and list(work.iterdir()) == []
    assert "secret" not in result.stderr + result.stdout
    with RegistryClient(insecure=(registry.host,)) as client:
        assert client.head_manifest(parse_reference(
            f"{registry.host}/hardening/hostile-tar:{attack}")) is None
    assert line


def test_rekor_redirect_to_an_unparseable_url(hostile: Callable[[], HostileServer]) -> None:
    """Regression (found by hardening): requests parses a redirect's Location even when
    it does not follow it; 'http://[::1' raised a bare ValueError out of every session
    (Rekor, Fulcio, token endpoints). Now a request error -> one-line signer error."""
    from signer.errors import Error
    from signer.services.rekor import RekorClient

    server = hostile()
    moved: Route = lambda h: h.reply(307, b"", {"Location": "http://[::1"})  # noqa: E731
    server.routes = {"* /api/v1/log/entries": moved, f"* /api/v1/log/entries/{'ab' * 32}": moved}
    rekor = RekorClient(f"http://{server.host}", attempts=1)
    try:
        for call in (lambda: rekor.get_entry("ab" * 32), lambda: rekor.create_entry({"a": 1})):
            with pytest.raises(Error):
                call()
    finally:
        rekor.close()


@pytest.mark.parametrize("document", ["index.json", "oci-layout"])
def test_push_refuses_deeply_nested_layout_json(registry: LocalRegistry, tmp_path: Path,
                                                document: str) -> None:
    """Regression (found by hardening): deeply nested JSON in an OCI layout ended in
    RecursionError; now one line."""
    layout = tmp_path / "layout"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text('{"schemaVersion":2,"manifests":[]}')
    (layout / document).write_bytes(b"[" * 200_000 + b"]" * 200_000)
    result = signer_cli(["push", "--insecure-registry", registry.host, f"oci:{layout}",
                         f"{registry.host}/hardening/nested:v1"])
    _one_error(result.stderr)
    assert result.returncode in (1, 2), result.stderr
