"""Issue 8.4: secrets never leak.

Every CLI command (generate-key-pair, push, sign keyless and with a key, verify,
verify-blob; successes and failures) and the action run with known token, password
and key-password values. Searched: stdout, stderr, every file under the temporary
directories, HOME, TMPDIR and the registry's storage, the action's outputs, summary,
log and report. Zero hits. No unencrypted PEM private key (the ephemeral key) is
found in any of those files.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from signer.testing.images import write_oci_layout
from signer.testing.registry import AuthRegistry
from signer.testing.stack import Stack
from tests.corpus import CONFORMANCE
from tests.hardening.conftest import signer_cli
from tests.integration.action.conftest import GITHUB_TOKEN, ActionHarness, action  # noqa: F401

pytestmark = pytest.mark.slow

KEY_PASSWORD = "known-key-password-4b1d9e"
WRONG_KEY_PASSWORD = "known-wrong-key-password-77aa"
WRONG_REGISTRY_PASSWORD = "known-wrong-registry-password-c3"
PRIVATE_KEY_MARKERS = (b"BEGIN PRIVATE KEY", b"BEGIN EC PRIVATE KEY", b"BEGIN RSA PRIVATE KEY")


def _variants(secret: str) -> set[str]:
    """A secret and the encodings it could leak in."""
    forms = {secret, base64.b64encode(secret.encode()).decode()}
    if secret.count(".") == 2:  # a JWT: its signature and claims segments too
        forms |= {part for part in secret.split(".") if len(part) >= 16}
    return {form for form in forms if len(form) >= 8}


def _files(roots: Iterable[Path], skip: Iterable[Path] = ()) -> list[Path]:
    skipped = {p.resolve() for p in skip}
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.resolve() not in skipped:
                found.append(path)
    return found


def _scan(texts: dict[str, str], files: list[Path], secrets: Iterable[str]) -> list[str]:
    values = set().union(*(_variants(s) for s in secrets))
    hits = [f"{where}: {value[:6]}…" for where, text in texts.items()
            for value in values if value in text]
    for path in files:
        data = path.read_bytes()
        hits += [f"{path}: {value[:6]}…" for value in values if value.encode() in data]
        hits += [f"{path}: unencrypted private key" for marker in PRIVATE_KEY_MARKERS
                 if marker in data]
    return hits


def test_every_cli_command_keeps_secrets(tls_registry: AuthRegistry, sigstore_stack: Stack,
                                         tmp_path: Path) -> None:
    home, tmpdir, work = tmp_path / "home", tmp_path / "tmp", tmp_path / "work"
    for directory in (home / ".docker", tmpdir, work):
        directory.mkdir(parents=True)
    docker_config = home / ".docker" / "config.json"  # written by the test, not scanned
    docker_config.write_text(json.dumps({"auths": {tls_registry.host: {"auth": base64.b64encode(
        f"{tls_registry.username}:{tls_registry.password}".encode()).decode()}}}))
    token = sigstore_stack.issue_token()
    wrong_audience_token = sigstore_stack.issue_token(aud="not-sigstore")
    base_env = {"HOME": str(home), "TMPDIR": str(tmpdir), "DOCKER_CONFIG": str(home / ".docker")}
    ca = ["--ca-bundle", str(tls_registry.ca_bundle)]
    stack = ["--fulcio-url", sigstore_stack.fulcio_url, "--rekor-url", sigstore_stack.rekor_url,
             "--trusted-root", str(sigstore_stack.trusted_root_path)]
    image = write_oci_layout(work / "layout", seed="secrets", tag="v1", layer_size=64)
    ref = f"{tls_registry.host}/hardening/secrets:v1"
    runs: list[tuple[str, list[str], dict[str, str], int | None]] = [
        ("generate-key-pair", ["generate-key-pair"], {"COSIGN_PASSWORD": KEY_PASSWORD}, 0),
        ("push", ["push", "--username", tls_registry.username, *ca, image.source, ref],
         {"SIGNER_REGISTRY_PASSWORD": tls_registry.password,
          "DOCKER_CONFIG": str(tmp_path / "empty")}, 0),
        ("push wrong password", ["push", "--username", tls_registry.username, *ca,
                                 image.source, ref],
         {"SIGNER_REGISTRY_PASSWORD": WRONG_REGISTRY_PASSWORD,
          "DOCKER_CONFIG": str(tmp_path / "empty")}, 1),
        ("sign keyless", ["sign", *stack, *ca, "--output", "json", ref],
         {"SIGSTORE_ID_TOKEN": token}, 0),
        ("sign wrong audience", ["sign", *stack, *ca, ref],
         {"SIGSTORE_ID_TOKEN": wrong_audience_token}, 1),
        ("sign key", ["sign", "--key", str(work / "cosign.key"), *stack, *ca, ref],
         {"COSIGN_PASSWORD": KEY_PASSWORD}, 0),
        ("sign wrong key password", ["sign", "--key", str(work / "cosign.key"), *stack, *ca,
                                     ref], {"COSIGN_PASSWORD": WRONG_KEY_PASSWORD}, 1),
        ("verify keyless", ["verify", "--certificate-identity", sigstore_stack.default_identity,
                            "--certificate-oidc-issuer", sigstore_stack.oidc_issuer_url,
                            "--trusted-root", str(sigstore_stack.trusted_root_path), *ca, ref],
         {}, 0),
        ("verify key", ["verify", "--key", str(work / "cosign.pub"), "--trusted-root",
                        str(sigstore_stack.trusted_root_path), *ca, ref], {}, 0),
        ("verify wrong identity", ["verify", "--certificate-identity", "x@example.com",
                                   "--certificate-oidc-issuer", sigstore_stack.oidc_issuer_url,
                                   "--trusted-root", str(sigstore_stack.trusted_root_path),
                                   *ca, ref], {}, 12),
        ("verify-blob", ["verify-blob", "--bundle",
                         str(CONFORMANCE / "bundles/sc-happy-path-v0.3/bundle.json"),
                         "--certificate-identity-regexp", ".*",
                         "--certificate-oidc-issuer-regexp", ".*", "--trusted-root",
                         str(CONFORMANCE / "trust/public-good-trusted_root.json"),
                         "--digest", "sha256:" + "0" * 64], {}, 1),
    ]
    texts: dict[str, str] = {}
    for name, argv, env, expected in runs:
        result = signer_cli(argv, env={**base_env, "SIGSTORE_ID_TOKEN": "",
                                       "SIGNER_REGISTRY_PASSWORD": "", **env}, cwd=work)
        texts[f"{name} stdout"], texts[f"{name} stderr"] = result.stdout, result.stderr
        assert "Traceback" not in result.stderr, (name, result.stderr)
        if expected is not None:
            assert result.returncode == expected, (name, result.stderr)
    assert (work / "cosign.key").read_bytes().startswith(b"-----BEGIN ENCRYPTED")
    secrets = [tls_registry.password, WRONG_REGISTRY_PASSWORD, KEY_PASSWORD, WRONG_KEY_PASSWORD,
               token, wrong_audience_token,
               base64.b64encode(f"{tls_registry.username}:{tls_registry.password}".encode())
               .decode()]
    files = _files([home, tmpdir, work, tls_registry.registry.root], skip=[docker_config])
    hits = _scan(texts, files, secrets)
    print(f"\nsecret scan: {len(texts)} streams, {len(files)} files, "
          f"{sum(len(_variants(s)) for s in secrets)} secret forms: {len(hits)} hits")
    assert hits == []
    assert len(files) > 10


def test_action_keeps_secrets_in_every_file(action: ActionHarness,  # noqa: F811
                                           tls_registry: AuthRegistry, tmp_path: Path) -> None:
    """The action (push-from, keyless sign, verify) with registry credentials: outputs,
    summary, log, report and every file under its workspace, temp and HOME."""
    image = write_oci_layout(tmp_path / "layout", seed="action-secrets", tag="v1",
                             layer_size=64)
    credentials = {"registry-username": tls_registry.username,
                   "registry-password": tls_registry.password}
    ca_env = {"SIGNER_CA_BUNDLE": str(tls_registry.ca_bundle)}
    run = action.run({"push-from": str(image.path),
                      "images": f"{tls_registry.host}/hardening/action-secrets:v1",
                      **credentials, **action.stack_inputs()}, extra_env=ca_env)
    assert run.succeeded, run.log
    secrets = [tls_registry.password, GITHUB_TOKEN, action.stack.token_request_token,
               *[m for m in run.masks if len(m) >= 8]]
    texts = {"outputs": json.dumps(run.outputs), "summary": run.summary, "log": run.log,
             "raw log": "\n".join(line for line in run.raw_log.splitlines()
                                  if not line.startswith("::add-mask::"))}
    roots = [p for p in action.tmp.glob("run-*")]
    files = _files(roots)
    hits = _scan(texts, files, secrets)
    print(f"\naction secret scan: {len(files)} files, {len(secrets)} secrets: {len(hits)} hits")
    assert hits == []


def test_reprs_and_errors_of_secret_holders(tmp_path: Path) -> None:
    """repr/str of everything that holds a secret, and the errors about them."""
    from signer.errors import Error
    from signer.keys import load_private_key, write_cosign_key_pair
    from signer.oidc import parse_identity_token
    from signer.registry.client import RegistryClient
    from signer.registry.credentials import Credentials
    from signer.sign import SignOptions

    claims = base64.urlsafe_b64encode(json.dumps({
        "iss": "https://issuer.example", "aud": "sigstore", "sub": "me",
        "email": "me@example.com", "exp": 4102444800}).encode()).decode().rstrip("=")
    raw_token = f"eyJhbGciOiJSUzI1NiJ9.{claims}.c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ"
    token = parse_identity_token(raw_token, now=1700000000)
    key_path, _ = write_cosign_key_pair(tmp_path, KEY_PASSWORD.encode())
    key = load_private_key(key_path, KEY_PASSWORD.encode())
    credentials = Credentials("user", WRONG_REGISTRY_PASSWORD)
    texts = {
        "token": repr(token) + str(token),
        "credentials": repr(credentials) + str(credentials),
        "client": repr(RegistryClient(credentials=credentials)),
        "options": repr(SignOptions(key=key, identity_token=raw_token)),
    }
    for wrong in (WRONG_KEY_PASSWORD, ""):
        try:
            load_private_key(key_path, wrong.encode())
        except Error as error:
            texts[f"key error {wrong[:3]}"] = repr(error) + error.diagnostics()
    other = base64.urlsafe_b64encode(json.dumps({
        "iss": "https://issuer.example", "aud": "other", "sub": "me",
        "exp": 4102444800}).encode()).decode().rstrip("=")
    wrong_audience = f"eyJhbGciOiJSUzI1NiJ9.{other}.c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ"
    try:
        parse_identity_token(wrong_audience, now=1700000000)
    except Error as error:
        texts["token error"] = repr(error) + error.diagnostics()
    hits = _scan(texts, [], [raw_token, wrong_audience, KEY_PASSWORD, WRONG_KEY_PASSWORD,
                             WRONG_REGISTRY_PASSWORD])
    assert "token error" in texts and len([k for k in texts if k.startswith("key error")]) == 2
    assert hits == []
    assert "***" in texts["credentials"]
