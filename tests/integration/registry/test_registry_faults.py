"""Failure cases against the real registry: through a fault-injecting proxy, a port
with nothing listening, a name that cannot resolve, and wrong credentials.

Each must give its own one-line error with a hint, the right exit code, and never
a secret in ``str()``, ``repr()`` or the diagnostics.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from signer.errors import (
    AuthenticationError,
    DigestMismatchError,
    Error,
    ImageNotFoundError,
    NetworkError,
    RegistryError,
)
from signer.reference import Reference, parse_reference
from signer.registry.client import RegistryClient
from signer.registry.credentials import Credentials, StaticKeychain
from signer.testing.images import write_oci_layout
from signer.testing.ports import free_port
from signer.testing.registry import AuthRegistry, LocalRegistry
from tests.integration.registry.conftest import push_image
from tests.integration.registry.faultproxy import Fault, FaultProxy

pytestmark = pytest.mark.slow

SECRET = "pw-this-must-never-leak-7f3a9"
DENIED = json.dumps({"errors": [{"code": "DENIED",
                                 "message": "requested access to the resource is denied"}]})
TOO_MANY = json.dumps({"errors": [{"code": "TOOMANYREQUESTS", "message": "slow down"}]})


@pytest.fixture(scope="module")
def seeded(registry: LocalRegistry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image in the plain registry (repository ``faults/app:v1``); its digest."""
    image = write_oci_layout(tmp_path_factory.mktemp("faults") / "img", seed="faults", tag="v1")
    with RegistryClient(StaticKeychain(Credentials("user", SECRET))) as client:
        return push_image(client, parse_reference(f"{registry.host}/faults/app:v1"), image)


@pytest.fixture
def proxy(registry: LocalRegistry, seeded: str) -> Iterator[FaultProxy]:
    """A fault proxy in front of the plain registry."""
    with FaultProxy(registry.host) as running:
        yield running


def _client() -> RegistryClient:
    return RegistryClient(StaticKeychain(Credentials("user", SECRET)), retries=3,
                          backoff=0.01)


def _check_error(error: Error, exit_code: int = 1) -> str:
    """Common assertions on a user-facing error; returns its message."""
    assert "\n" not in error.message
    assert error.hint
    assert error.exit_code == exit_code
    for text in (str(error), repr(error), error.diagnostics()):
        assert SECRET not in text
        assert "Traceback" not in text
    return error.message


def _ref(host: str, rest: str = "faults/app:v1") -> Reference:
    return parse_reference(f"{host}/{rest}")


def test_429_storm_gives_up_after_bounded_retries(proxy: FaultProxy) -> None:
    proxy.faults = [Fault("status", status=429, body=TOO_MANY.encode(),
                          headers={"Retry-After": "0"})]
    with _client() as client, pytest.raises(RegistryError) as info:
        client.get_manifest(_ref(proxy.host))
    message = _check_error(info.value)
    assert "rate-limiting" in message and "429" in message
    # One request plus three retries, no more.
    assert proxy.count("GET", "/manifests/") == 4


def test_429_then_success_honours_retry_after(proxy: FaultProxy, seeded: str) -> None:
    proxy.faults = [Fault("status", status=429, headers={"Retry-After": "1"}, times=1)]
    with _client() as client:
        assert client.get_manifest(_ref(proxy.host)).digest == seeded
    assert proxy.count("GET", "/manifests/") == 2


def test_500(proxy: FaultProxy) -> None:
    proxy.faults = [Fault("status", status=500, body=b'{"errors":[]}')]
    with _client() as client, pytest.raises(RegistryError) as info:
        client.get_manifest(_ref(proxy.host))
    message = _check_error(info.value)
    assert "server error (HTTP 500)" in message


def test_403(proxy: FaultProxy) -> None:
    proxy.faults = [Fault("status", status=403, body=DENIED.encode())]
    with _client() as client, pytest.raises(RegistryError) as info:
        client.get_manifest(_ref(proxy.host))
    message = _check_error(info.value)
    assert "access denied" in message and "403" in message and "DENIED" in message


def test_404_is_image_not_found(proxy: FaultProxy) -> None:
    with _client() as client, pytest.raises(ImageNotFoundError) as info:
        client.get_manifest(_ref(proxy.host, "faults/app:no-such-tag"))
    _check_error(info.value, exit_code=11)


def test_html_page_instead_of_api(proxy: FaultProxy) -> None:
    proxy.faults = [Fault("html", path=r"^/v2/", status=200)]
    with _client() as client, pytest.raises(RegistryError) as info:
        client.get_manifest(_ref(proxy.host))
    message = _check_error(info.value)
    assert "HTML page" in message


def test_html_404_page_on_manifest(proxy: FaultProxy) -> None:
    proxy.faults = [Fault("html", path="/manifests/", status=404)]
    with _client() as client, pytest.raises(RegistryError) as info:
        client.get_manifest(_ref(proxy.host))
    assert not isinstance(info.value, ImageNotFoundError)
    assert "HTML page" in _check_error(info.value)


@pytest.mark.parametrize("by", ["tag", "digest"])
def test_altered_manifest_byte_is_rejected(proxy: FaultProxy, seeded: str, by: str) -> None:
    proxy.faults = [Fault("flip", path="/manifests/", method="GET")]
    ref = _ref(proxy.host) if by == "tag" else _ref(proxy.host, f"faults/app@{seeded}")
    with _client() as client, pytest.raises(DigestMismatchError) as info:
        client.get_manifest(ref)
    message = _check_error(info.value)
    assert seeded in message


def test_altered_blob_byte_is_rejected(proxy: FaultProxy, seeded: str) -> None:
    with _client() as client:
        manifest = client.get_manifest(_ref(proxy.host)).json()
        layer = manifest["layers"][0]["digest"]
        proxy.faults = [Fault("flip", path="/blobs/", method="GET")]
        with pytest.raises(DigestMismatchError) as info:
            client.get_blob(_ref(proxy.host), layer)
    assert layer in _check_error(info.value)


def test_upload_restarts_after_transient_failure(proxy: FaultProxy) -> None:
    proxy.faults = [Fault("status", path="/blobs/uploads/", method="PATCH", status=503,
                          times=1)]
    data = bytes(range(256)) * 10
    with RegistryClient(StaticKeychain(Credentials("user", SECRET)), chunk_size=1000) as client:
        digest = client.upload_blob(_ref(proxy.host, "faults/upload"), data)
        assert client.get_blob(_ref(proxy.host, "faults/upload"), digest) == data
    # The failed session was abandoned and a new one started (two POSTs), not resent.
    assert proxy.count("POST", "/blobs/uploads/") == 2


def test_upload_gives_up_after_bounded_restarts(proxy: FaultProxy) -> None:
    proxy.faults = [Fault("status", path="/blobs/uploads/", method="POST", status=500)]
    with _client() as client, pytest.raises(RegistryError) as info:
        client.upload_blob(_ref(proxy.host, "faults/upload2"), b"data")
    assert "500" in _check_error(info.value)
    assert proxy.count("POST", "/blobs/uploads/") == 3


def test_refused_connection() -> None:
    host = f"127.0.0.1:{free_port()}"
    with _client() as client, pytest.raises(NetworkError) as info:
        client.get_manifest(_ref(host))
    message = _check_error(info.value)
    assert "refused" in message and host in message


def test_unknown_registry() -> None:
    with _client() as client, pytest.raises(NetworkError) as info:
        client.get_manifest(parse_reference("nonexistent.invalid/app:v1"))
    message = _check_error(info.value)
    assert "unknown registry host 'nonexistent.invalid'" in message


def test_tls_without_trust(tls_registry: AuthRegistry) -> None:
    client = RegistryClient(StaticKeychain(Credentials(tls_registry.username, SECRET)))
    with client, pytest.raises(NetworkError) as info:
        client.get_manifest(_ref(tls_registry.host))
    assert "TLS verification failed" in _check_error(info.value)


@pytest.mark.parametrize("kind", ["tls", "token"])
def test_wrong_password(request: pytest.FixtureRequest, kind: str) -> None:
    reg: AuthRegistry = request.getfixturevalue(f"{kind}_registry")
    ca = str(reg.ca_bundle) if reg.ca_bundle else None
    client = RegistryClient(StaticKeychain(Credentials(reg.username, SECRET)), ca_bundle=ca)
    with client, pytest.raises(AuthenticationError) as info:
        client.get_manifest(_ref(reg.host))
    message = _check_error(info.value)
    assert "rejected the credentials" in message and reg.username in message
    assert reg.password not in info.value.diagnostics()


def _scenarios(registry: LocalRegistry, tls_registry: AuthRegistry,
               proxy: FaultProxy) -> dict[str, Callable[[], object]]:
    client = _client()
    wrong = RegistryClient(StaticKeychain(Credentials(tls_registry.username, SECRET)),
                           ca_bundle=str(tls_registry.ca_bundle))
    ref = _ref(proxy.host)

    def with_fault(fault: Fault) -> Callable[[], object]:
        def run() -> object:
            proxy.faults = [fault]
            try:
                return _client().get_manifest(ref)
            finally:
                proxy.faults = []
        return run

    return {
        "wrong password": lambda: wrong.get_manifest(_ref(tls_registry.host)),
        "unknown registry": lambda: client.get_manifest(
            parse_reference("nonexistent.invalid/x:y")),
        "403": with_fault(Fault("status", status=403, body=DENIED.encode())),
        "404": lambda: client.get_manifest(_ref(proxy.host, "faults/app:missing")),
        "429": with_fault(Fault("status", status=429, headers={"Retry-After": "0"})),
        "500": with_fault(Fault("status", status=500)),
        "refused": lambda: client.get_manifest(_ref(f"127.0.0.1:{free_port()}")),
        "html": with_fault(Fault("html", path="^/v2/", status=200)),
    }


def test_each_failure_has_a_distinct_message(registry: LocalRegistry,
                                             tls_registry: AuthRegistry,
                                             proxy: FaultProxy) -> None:
    templates: dict[str, str] = {}
    for name, scenario in _scenarios(registry, tls_registry, proxy).items():
        with pytest.raises(Error) as info:
            scenario()
        _check_error(info.value, exit_code=11 if name == "404" else 1)
        # Compare shapes, not ports or digests.
        templates[name] = re.sub(r"[0-9a-f]{64}|\d+", "#", info.value.message)
    assert len(set(templates.values())) == len(templates), templates


def test_credentials_not_sent_across_redirects(token_registry: AuthRegistry,
                                               tmp_path: Path) -> None:
    """A blob download redirected to another origin carries no Authorization;
    a same-origin redirect keeps it."""
    creds = Credentials(token_registry.username, token_registry.password)
    image = write_oci_layout(tmp_path / "img", seed="redirect", tag="v1")
    with FaultProxy(token_registry.host) as front, RegistryClient(StaticKeychain(creds)) as client:
        ref = _ref(front.host, "redirect/app:v1")
        push_image(client, ref, image)
        layer = image.layer_digests[0]
        front.faults = [Fault("redirect", path="/blobs/sha256:", method="GET",
                              redirect_host="localhost")]
        assert client.get_blob(ref, layer) == image.blobs[layer]
        front.faults = [Fault("redirect", path="/blobs/sha256:", method="GET",
                              redirect_host="127.0.0.1")]
        assert client.get_blob(ref, layer) == image.blobs[layer]
    cross_origin, same_origin = front.redirected_headers
    assert "Authorization" not in cross_origin
    assert same_origin.get("Authorization", "").startswith("Bearer ")


def test_referrers_api_answer_is_used_when_offered(proxy: FaultProxy, seeded: str) -> None:
    """A registry with the OCI 1.1 referrers API (emulated by the proxy on that one
    path) is asked first; its index is used and filtered by artifact type."""
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [
                 {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 10,
                  "digest": "sha256:" + "1" * 64, "artifactType": "application/x-a"},
                 {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 11,
                  "digest": "sha256:" + "2" * 64, "artifactType": "application/x-b"}]}
    proxy.faults = [Fault("status", path="/referrers/", status=200,
                          body=json.dumps(index).encode(),
                          headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})]
    with _client() as client:
        ref = _ref(proxy.host)
        assert [d.digest for d in client.referrers(ref, seeded)] == [
            "sha256:" + "1" * 64, "sha256:" + "2" * 64]
        only_b = client.referrers(ref, seeded, artifact_type="application/x-b")
        assert [(d.digest, d.size) for d in only_b] == [("sha256:" + "2" * 64, 11)]
    # The API answered, so the tag-schema index was never fetched.
    assert proxy.count("GET", "/manifests/sha256-") == 0
    assert proxy.count("GET", "/referrers/") == 2


def test_a_registry_without_the_referrers_api_is_asked_once(proxy: FaultProxy,
                                                             seeded: str) -> None:
    """distribution 2.8 has no referrers route (a plain-text 404): after the first
    answer, one client goes straight to the tag schema for every repository; a JSON
    404 (a repository the registry does not know) is not taken as "no API"."""
    with _client() as client:
        proxy.faults = [Fault("status", path="/referrers/", status=404,
                              body=b'{"errors":[{"code":"NAME_UNKNOWN"}]}',
                              headers={"Content-Type": "application/json"})]
        assert client.referrers(_ref(proxy.host), seeded) == []
        proxy.faults = []
        assert client.referrers(_ref(proxy.host), seeded) == []
        assert client.referrers(_ref(proxy.host, "other/app:v1"), seeded) == []
        assert client.referrers(_ref(proxy.host, "third/app:v1"), seeded) == []
    assert proxy.count("GET", "/referrers/") == 2  # the JSON 404, then the real route
    assert proxy.count("GET", "/manifests/sha256-") == 4
