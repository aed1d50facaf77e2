"""Start Debian's ``docker-registry`` (distribution 2.8) on a free 127.0.0.1 port.

Plain HTTP by default; TLS, htpasswd and token auth are options. The process is
started in its own session and stopped by its own pid.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from signer.testing.ports import free_port, wait_until

REGISTRY_BINARY = "docker-registry"


@dataclass
class RegistryOptions:
    """Optional registry features; each is a path or a value in the registry config."""

    tls_cert: Path | None = None
    tls_key: Path | None = None
    htpasswd: Path | None = None
    token_realm: str | None = None
    token_service: str | None = None
    token_issuer: str | None = None
    token_rootcertbundle: Path | None = None
    extra_yaml: str = ""


@dataclass
class LocalRegistry:
    """A running registry: ``host`` is ``127.0.0.1:PORT``."""

    host: str
    root: Path
    process: subprocess.Popen[bytes]
    tls: bool = False
    log_path: Path = field(default_factory=Path)

    @property
    def url(self) -> str:
        """Base URL of the registry API."""
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def stop(self) -> None:
        """Stop the registry by its own pid and wait for it."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)

    def __enter__(self) -> LocalRegistry:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _config(storage: Path, port: int, options: RegistryOptions) -> str:
    lines = [
        "version: 0.1",
        "log:",
        "  level: warn",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {storage}",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        "  secret: signer-test-secret",
    ]
    if options.tls_cert and options.tls_key:
        lines += ["  tls:", f"    certificate: {options.tls_cert}", f"    key: {options.tls_key}"]
    if options.htpasswd:
        lines += ["auth:", "  htpasswd:", "    realm: signer-test", f"    path: {options.htpasswd}"]
    elif options.token_realm:
        lines += [
            "auth:", "  token:",
            f"    realm: {options.token_realm}",
            f"    service: {options.token_service}",
            f"    issuer: {options.token_issuer}",
            f"    rootcertbundle: {options.token_rootcertbundle}",
        ]
    return "\n".join(lines) + "\n" + options.extra_yaml


def registry_available() -> bool:
    """True if the ``docker-registry`` binary is installed."""
    return shutil.which(REGISTRY_BINARY) is not None


def start_registry(root: Path | None = None, options: RegistryOptions | None = None,
                   timeout: float = 10.0) -> LocalRegistry:
    """Start a registry storing under ``root`` (a new temp dir if None) and wait until up."""
    options = options or RegistryOptions()
    root = Path(tempfile.mkdtemp(prefix="signer-registry-")) if root is None else root
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config_path = root / "config.yml"
    config_path.write_text(_config(root / "storage", port, options))
    log_path = root / "registry.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(config_path)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    tls = options.tls_cert is not None
    registry = LocalRegistry(f"127.0.0.1:{port}", root, process, tls, log_path)

    def is_up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log_path.read_text()[-2000:]}")
        conn: http.client.HTTPConnection
        if tls:
            import ssl
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=1, context=context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            conn.request("GET", "/v2/")
            return conn.getresponse().status in (200, 401)
        finally:
            conn.close()

    if not wait_until(is_up, timeout):
        registry.stop()
        raise RuntimeError(f"docker-registry did not start on port {port}")
    return registry
