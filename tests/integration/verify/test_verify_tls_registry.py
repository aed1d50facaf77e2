"""``signer verify`` against an HTTPS registry with basic auth: credentials from Docker's
config.json, the registry's CA through ``--ca-bundle``; without it, a one-line TLS
error (exit 1), never a traceback."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from signer.registry.client import RegistryClient
from signer.registry.credentials import Credentials
from signer.testing.registry import AuthRegistry
from tests.integration.verify.conftest import run_cli
from tests.unit.verify.cases import LEGACY, load_case


def test_verify_over_tls_with_credentials(tls_registry: AuthRegistry, tmp_path: Path) -> None:
    from signer.formats.legacy import OCI_MANIFEST, build_signature_manifest, signature_tag
    from signer.reference import parse_reference

    case = load_case(LEGACY / "cimg-key-rekor-valid")
    repo = parse_reference(f"{tls_registry.host}/verify-tls/app")
    assert tls_registry.ca_bundle is not None
    with RegistryClient(Credentials(tls_registry.username, tls_registry.password),
                        ca_bundle=str(tls_registry.ca_bundle)) as client:
        manifest, config = build_signature_manifest(case.layers)
        client.upload_blob(repo, config)
        client.upload_blob(repo, case.layers[0].payload)
        client.put_manifest(repo.with_tag(signature_tag(case.digest)), manifest, OCI_MANIFEST)
    docker = tmp_path / "docker"
    docker.mkdir()
    auth = base64.b64encode(f"{tls_registry.username}:{tls_registry.password}".encode())
    (docker / "config.json").write_text(json.dumps(
        {"auths": {tls_registry.host: {"auth": auth.decode()}}}))
    image = str(repo.with_digest(case.digest))
    args = ["verify", "--key", str(case.path / "public-key.pem"), image]
    env = {"DOCKER_CONFIG": str(docker)}
    result = run_cli([*args[:-1], "--ca-bundle", str(tls_registry.ca_bundle), image], env)
    assert result.returncode == 0, result.stderr
    assert tls_registry.password not in result.stderr + result.stdout
    untrusted = run_cli(args, env)
    assert untrusted.returncode == 1
    assert untrusted.stderr.startswith("Error: ")
    assert "Traceback" not in untrusted.stderr
    assert tls_registry.password not in untrusted.stderr
