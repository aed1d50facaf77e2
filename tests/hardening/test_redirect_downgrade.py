"""A registry reached over verified TLS never hands a request to plain HTTP.

If a TLS registry (or whatever answers in its name) redirects a manifest request to an
``http://`` URL, anyone on the path to that URL can answer it: for a tag, the digest
that ``signer sign`` then signs, or the ``.sig`` manifest it merges into. The redirect
is refused with one line; nothing is asked of the plain-HTTP host. (A registry the user
names insecure may still redirect to plain HTTP.)
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signer.testing.registry import write_tls_certificate
from tests.hardening.conftest import KEY_PASSWORD, signer_cli
from tests.hardening.test_hostile_network import HostileServer, _Handler, hostile  # noqa: F401

pytestmark = pytest.mark.slow

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
FORGED_DIGEST = "sha256:" + "e" * 64


@pytest.fixture
def tls_and_plain(tmp_path: Path) -> Iterator[tuple[HostileServer, HostileServer, Path]]:
    """A hostile registry on HTTPS (its certificate the CA bundle) and a plain-HTTP
    server that the registry redirects to."""
    cert, key = write_tls_certificate(tmp_path / "tls")
    secure, plain = HostileServer(), HostileServer()
    secure.start()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    secure.httpd.socket = context.wrap_socket(secure.httpd.socket, server_side=True)
    plain.start()
    yield secure, plain, cert
    secure.stop()
    plain.stop()


def _ping(handler: _Handler) -> None:
    handler.reply(200, b"{}", {"Content-Type": "application/json"})


def _forged(handler: _Handler) -> None:
    handler.reply(200, b"{}", {"Content-Type": OCI_MANIFEST,
                               "Docker-Content-Digest": FORGED_DIGEST})


def _redirect_tag_to_plain(servers: tuple[HostileServer, HostileServer, Path]
                           ) -> tuple[HostileServer, HostileServer, Path]:
    """Script the TLS registry to redirect tag v1 of ``r`` to the plain host, which
    answers with a forged digest."""
    secure, plain, _ = servers
    path = "/v2/r/manifests/v1"
    secure.routes = {"GET /v2/": _ping,
                     f"* {path}": lambda h: h.reply(307, b"", {
                         "Location": f"http://{plain.host}{path}"})}
    plain.routes = {f"* {path}": _forged}
    return servers


@pytest.mark.parametrize("command", ["verify", "sign"])
def test_tls_registry_redirecting_a_tag_to_plain_http(
        tls_and_plain: tuple[HostileServer, HostileServer, Path], command: str,
        key_pair: tuple[Path, Path, Any]) -> None:
    secure, plain, ca_bundle = _redirect_tag_to_plain(tls_and_plain)
    key_path, pub_path, _ = key_pair
    args = (["verify", "--key", str(pub_path), "--insecure-ignore-tlog"] if command == "verify"
            else ["sign", "--key", str(key_path), "--tlog-upload=false"])
    result = signer_cli([*args, f"{secure.host}/r:v1"],
                        env={"SIGNER_CA_BUNDLE": str(ca_bundle), "COSIGN_PASSWORD": KEY_PASSWORD},
                        timeout=60)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    assert "plain HTTP" in errors[0] and plain.host in errors[0], result.stderr
    assert result.returncode == 1, result.stderr
    assert plain.seen == [], plain.seen  # not one request left over plain HTTP
    assert FORGED_DIGEST not in result.stderr + result.stdout


def test_insecure_registry_may_still_redirect_to_plain_http(
        tls_and_plain: tuple[HostileServer, HostileServer, Path],
        key_pair: tuple[Path, Path, Any]) -> None:
    secure, plain, ca_bundle = _redirect_tag_to_plain(tls_and_plain)
    result = signer_cli(["verify", "--key", str(key_pair[1]), "--insecure-ignore-tlog",
                         "--insecure-registry", secure.host, f"{secure.host}/r:v1"],
                        env={"SIGNER_CA_BUNDLE": str(ca_bundle)}, timeout=60)
    assert plain.seen, result.stderr  # the user allowed plain HTTP for this registry
    assert "plain HTTP" not in result.stderr
