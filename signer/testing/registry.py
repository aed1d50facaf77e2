"""Start Debian's ``docker-registry`` (distribution 2.8) on a free 127.0.0.1 port.

Plain HTTP by default; TLS, htpasswd and token auth are options
(:func:`start_tls_registry`, :func:`start_token_registry`). The process is
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
from signer.testing.tokenserver import TokenServer, TokenUser

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


# -- TLS, htpasswd and token-auth registries -------------------------------------------


def write_tls_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for 127.0.0.1 and localhost: (cert path, key path).

    The certificate is its own CA, so its path doubles as the client's CA bundle.
    """
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer test registry")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost"),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "registry-cert.pem", directory / "registry-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def write_htpasswd(path: Path, users: dict[str, str]) -> Path:
    """An htpasswd file with bcrypt (cost 4, fast for tests) hashes of ``users``."""
    import bcrypt  # test-only dependency

    lines = [f"{name}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}"
             for name, pw in users.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class AuthRegistry:
    """A running registry that needs credentials, with what a client needs to reach it.

    ``ca_bundle`` is set for TLS registries; ``token_server`` for bearer-token ones.
    ``users`` maps every known username to its password (``username``/``password``
    are the main read-write user).
    """

    registry: LocalRegistry
    username: str
    password: str = field(repr=False)
    users: dict[str, str] = field(default_factory=dict, repr=False)
    ca_bundle: Path | None = None
    token_server: TokenServer | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return self.registry.host

    @property
    def url(self) -> str:
        """Base URL of the registry API."""
        return self.registry.url

    def stop(self) -> None:
        """Stop the registry (and the token server)."""
        self.registry.stop()
        if self.token_server is not None:
            self.token_server.stop()

    def __enter__(self) -> AuthRegistry:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _random_password() -> str:
    import secrets

    return "pw-" + secrets.token_urlsafe(18)


def start_tls_registry(root: Path, username: str = "alice",
                       password: str | None = None,
                       extra_users: dict[str, str] | None = None) -> AuthRegistry:
    """A registry on HTTPS (self-signed cert for 127.0.0.1) with htpasswd basic auth."""
    root.mkdir(parents=True, exist_ok=True)
    password = password or _random_password()
    users = {username: password, **(extra_users or {})}
    cert, key = write_tls_certificate(root / "tls")
    htpasswd = write_htpasswd(root / "htpasswd", users)
    registry = start_registry(root / "registry",
                              RegistryOptions(tls_cert=cert, tls_key=key, htpasswd=htpasswd))
    return AuthRegistry(registry, username, password, users, ca_bundle=cert)


def start_token_registry(root: Path, username: str = "alice", password: str | None = None,
                         reader: str = "reader", reader_password: str | None = None,
                         ) -> AuthRegistry:
    """A plain-HTTP registry using ``auth.token`` with a local :class:`TokenServer`.

    ``username`` may pull, push and delete; ``reader`` may only pull; anonymous
    clients get tokens without any access.
    """
    root.mkdir(parents=True, exist_ok=True)
    password = password or _random_password()
    reader_password = reader_password or _random_password()
    server = TokenServer(root / "token", {
        username: TokenUser(password, frozenset({"pull", "push", "delete"}),
                            refresh_token="rt-" + _random_password()),
        reader: TokenUser(reader_password, frozenset({"pull"})),
    })
    try:
        registry = start_registry(root / "registry", RegistryOptions(
            token_realm=server.realm, token_service=server.service,
            token_issuer=server.issuer, token_rootcertbundle=server.rootcertbundle))
    except BaseException:
        server.stop()
        raise
    return AuthRegistry(registry, username, password,
                        {username: password, reader: reader_password}, token_server=server)
