"""Issue 13.7 (last point): a server that echoes the ``Authorization`` header we sent
into its error body gets nothing printed: not the bearer token, not the Basic blob,
not the decoded password, not the identity token sent to Fulcio -- not even a prefix
of one cut off by a length limit.

A fault proxy in front of the real registry (and of the local Fulcio) forwards every
request and answers the chosen ones with an error body that quotes the request's
``Authorization`` header; what the proxy echoed is then searched in everything the
CLI and the action printed or wrote.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from signer.keys import public_key_pem
from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.registry.credentials import Credentials, StaticKeychain
from signer.testing.faultproxy import FaultProxy, Rewrite
from signer.testing.registry import AuthRegistry, LocalRegistry
from signer.testing.stack import Stack
from tests.hardening.conftest import PushImage, signer_cli, via
from tests.integration.action.conftest import (
    ActionHarness,
    action,  # noqa: F401
    assert_no_secrets,
)
from tests.integration.verify.conftest import push_plain_image

pytestmark = pytest.mark.slow

GET = frozenset({"GET"})
ECHO_BODY = b'{"errors":[{"code":"DENIED","message":"denied; you sent Authorization: {echo}"}]}'
ECHO_MANIFESTS = Rewrite(path=r"/manifests/", methods=GET, status=403, body=ECHO_BODY,
                         echo_header="Authorization")
#: the registry behind the proxy pretends to want Basic credentials
BASIC_CHALLENGE = Rewrite(path=r"^/v2/$", status=401, body=b"{}", headers=(
    ("Content-Type", "application/json"), ("WWW-Authenticate", 'Basic realm="registry"')))


def _docker_config(directory: Path, host: str, username: str, password: str) -> dict[str, str]:
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return {"DOCKER_CONFIG": str(directory)}


def _public_key(tmp_path: Path) -> Path:
    path = tmp_path / "cosign.pub"
    path.write_bytes(public_key_pem(ec.generate_private_key(ec.SECP256R1()).public_key()))
    return path


def _pieces(secret: str, size: int = 12) -> list[str]:
    """Overlapping pieces of ``secret``: a cut-off prefix must not survive either."""
    return [secret[i:i + size] for i in range(0, max(len(secret) - size, 0) + 1, size // 2)]


def assert_not_printed(text: str, echoed: list[str]) -> None:
    """Nothing of any credential the proxy saw (and echoed) is in ``text``."""
    assert echoed and all(echoed), "the proxy echoed nothing: the attack did not happen"
    for header in echoed:
        scheme, _, credential = header.partition(" ")
        secrets = [credential]
        if scheme.lower() == "basic":
            decoded = base64.b64decode(credential).decode()
            secrets += [decoded, decoded.partition(":")[2]]
        for secret in secrets:
            leaked = [piece for piece in _pieces(secret) if piece in text]
            assert leaked == [], (secret[:4] + "…", leaked, text)


def verify_through_echoing_proxy(upstream: str, image: Reference, rewrites: tuple[Rewrite, ...],
                                 username: str, password: str, tmp_path: Path,
                                 scheme: str) -> None:
    """``signer verify`` through a proxy that echoes the credentials it was sent."""
    with FaultProxy(upstream, name="registry") as proxy:
        proxy.set_rewrite(*rewrites)
        env = _docker_config(tmp_path / "docker", proxy.host, username, password)
        result = signer_cli(["verify", "--key", str(_public_key(tmp_path)),
                             "--insecure-ignore-tlog", str(via(image, proxy.host))], env=env)
    assert result.returncode == 1, result.stderr
    assert "HTTP 403" in result.stderr and "you sent Authorization: ***" in result.stderr
    assert all(h.startswith(scheme + " ") for h in proxy.echoed), proxy.echoed
    assert_not_printed(result.stderr + result.stdout, proxy.echoed)


def test_bearer_token_echoed_by_the_registry_is_redacted(token_registry: AuthRegistry,
                                                         tmp_path: Path) -> None:
    keychain = StaticKeychain(Credentials(token_registry.username, token_registry.password),
                              frozenset({token_registry.host}))
    with RegistryClient(credentials=keychain) as client:
        image = push_plain_image(token_registry.registry, client, "echo/bearer")
    verify_through_echoing_proxy(token_registry.host, image, (ECHO_MANIFESTS,),
                                 token_registry.username, token_registry.password, tmp_path,
                                 "Bearer")


def test_basic_credentials_echoed_by_the_registry_are_redacted(registry: LocalRegistry,
                                                               push_image: PushImage,
                                                               tmp_path: Path) -> None:
    verify_through_echoing_proxy(registry.host, push_image("echo-basic"),
                                 (BASIC_CHALLENGE, ECHO_MANIFESTS), "alice", "s3cret-basic-pw",
                                 tmp_path, "Basic")


def test_the_action_prints_no_echoed_registry_credential(action: ActionHarness,  # noqa: F811
                                                         registry: LocalRegistry,
                                                         push_image: PushImage,
                                                         tmp_path: Path) -> None:
    image: Reference = push_image("echo-action")
    with FaultProxy(registry.host, name="registry") as proxy:
        proxy.set_rewrite(BASIC_CHALLENGE, ECHO_MANIFESTS)
        run = action.run({"mode": "verify", "images": str(via(image, proxy.host)),
                          "public-key": public_key_pem(ec.generate_private_key(
                              ec.SECP256R1()).public_key()).decode(),
                          "registry-username": "alice",
                          "registry-password": "s3cret-action-pw",
                          "trusted-root": str(action.stack.trusted_root_path),
                          "allow-insecure-registry": proxy.host})
    assert run.exit_code == 1, run.log
    assert "you sent Authorization: ***" in run.raw_log
    basic = base64.b64encode(b"alice:s3cret-action-pw").decode()
    # the runner masks the password input, but not the Basic blob made from it
    assert_no_secrets(run, [basic, "s3cret-action-pw"])
    shown = "\n".join(line for line in run.raw_log.splitlines()
                      if not line.startswith("::add-mask::"))  # the runner consumes those
    assert_not_printed(shown + run.summary + json.dumps(run.outputs), proxy.echoed)
    report = Path(run.outputs["report"]).read_text()
    assert_not_printed(report, proxy.echoed)


def test_identity_token_echoed_by_fulcio_is_redacted_before_it_is_cut(
        sigstore_stack: Stack, registry: LocalRegistry, push_image: PushImage) -> None:
    image = push_image("echo-fulcio")
    body = b'{"code":400,"message":"bad token: {echo}"}'
    with FaultProxy(sigstore_stack.fulcio_url, name="fulcio") as proxy:
        proxy.set_rewrite(Rewrite(path=r"signingCert", status=400, body=body,
                                  echo_header="Authorization"))
        result = signer_cli(["sign", "--fulcio-url", proxy.url,
                             "--rekor-url", sigstore_stack.rekor_url,
                             "--trusted-root", str(sigstore_stack.trusted_root_path),
                             "--insecure-registry", registry.host, str(image)],
                            env={"SIGSTORE_ID_TOKEN": sigstore_stack.issue_token()})
    assert result.returncode == 1, result.stderr
    assert "Fulcio refused the certificate request (HTTP 400): bad token: Bearer ***" \
        in result.stderr
    assert_not_printed(result.stderr + result.stdout, proxy.echoed)
