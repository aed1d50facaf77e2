"""Fixtures for registry-client integration tests: one ``target`` per registry setup.

``target`` is parametrised over the three real registries of the test bed (plain
HTTP, TLS + htpasswd, bearer token) and knows how to make a client for it and how
to point skopeo at it (an auth file and a certificate directory, never a password
in argv).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from signer.reference import Reference, parse_reference
from signer.registry.client import RegistryClient
from signer.registry.credentials import AnonymousKeychain, Credentials, StaticKeychain
from signer.testing.images import TestImage
from signer.testing.registry import AuthRegistry, LocalRegistry


@dataclass
class Target:
    """One registry under test and how to reach it."""

    kind: str
    host: str
    make_client: Callable[..., RegistryClient]
    skopeo_dest: list[str] = field(default_factory=list)
    skopeo_src: list[str] = field(default_factory=list)
    password: str | None = field(default=None, repr=False)

    @property
    def skopeo_inspect(self) -> list[str]:
        """Options for ``skopeo inspect`` (its flags have no ``src-`` prefix)."""
        return [o.replace("--src-", "--", 1) for o in self.skopeo_src]

    def ref(self, text: str) -> Reference:
        """A reference to ``text`` (``repo[:tag]``) on this registry."""
        return parse_reference(f"{self.host}/{text}")


def _skopeo_options(reg: AuthRegistry, directory: Path) -> tuple[list[str], list[str]]:
    auth = directory / "auth.json"
    token = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
    auth.write_text(json.dumps({"auths": {reg.host: {"auth": token}}}))
    dest, src = [f"--dest-authfile={auth}"], [f"--src-authfile={auth}"]
    if reg.ca_bundle is not None:
        certs = directory / "certs"
        certs.mkdir(exist_ok=True)
        shutil.copy(reg.ca_bundle, certs / "ca.crt")
        dest.append(f"--dest-cert-dir={certs}")
        src.append(f"--src-cert-dir={certs}")
    else:
        dest.append("--dest-tls-verify=false")
        src.append("--src-tls-verify=false")
    return dest, src


@pytest.fixture(params=["plain", "tls", "token"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """The plain, TLS+htpasswd and bearer-token registries in turn."""
    clients: list[RegistryClient] = []

    def track(client: RegistryClient) -> RegistryClient:
        clients.append(client)
        return client

    if request.param == "plain":
        plain: LocalRegistry = request.getfixturevalue("registry")
        yield Target(
            "plain", plain.host,
            lambda **kw: track(RegistryClient(AnonymousKeychain(), **kw)),
            ["--dest-tls-verify=false"], ["--src-tls-verify=false"],
        )
    else:
        reg: AuthRegistry = request.getfixturevalue(
            "tls_registry" if request.param == "tls" else "token_registry")
        dest, src = _skopeo_options(reg, tmp_path)
        ca = str(reg.ca_bundle) if reg.ca_bundle else None
        creds = Credentials(reg.username, reg.password)
        yield Target(
            request.param, reg.host,
            lambda **kw: track(RegistryClient(StaticKeychain(creds), ca_bundle=ca, **kw)),
            dest, src, reg.password,
        )
    for client in clients:
        client.close()


def push_image(client: RegistryClient, ref: Reference, image: TestImage) -> str:
    """Push a test image with our client: blobs, child manifests, then the top one."""
    assert image.manifest is not None and image.media_type is not None
    for digest, data in image.blobs.items():
        if not client.blob_exists(ref, digest):
            client.upload_blob(ref, data, digest)
    for digest, data in image.manifests.items():
        if digest != image.digest:
            media_type = json.loads(data)["mediaType"]
            client.put_manifest(ref.with_digest(digest), data, media_type)
    return client.put_manifest(ref, image.manifest, image.media_type)


def skopeo(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    """Run skopeo, failing the test with its stderr if it fails."""
    done = subprocess.run(["skopeo", *args], capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        pytest.fail(f"skopeo {args[0]} failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return done
