"""``signer push`` against failing registries: exit 1, one ``Error:`` line with a
hint, no traceback, no password anywhere in the output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from signer.testing.images import TestImage, write_oci_layout
from signer.testing.ports import free_port
from signer.testing.registry import AuthRegistry, LocalRegistry
from tests.integration.registry.faultproxy import Fault, FaultProxy

pytestmark = pytest.mark.slow

SECRET = "pw-cli-secret-never-printed-91b2"
REPO_ROOT = Path(__file__).resolve().parents[3]

FAULTS = {
    "403": Fault("status", status=403, body=json.dumps({"errors": [
        {"code": "DENIED", "message": "requested access to the resource is denied"}]}).encode()),
    "404": Fault("status", status=404, body=json.dumps({"errors": [
        {"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]}).encode()),
    "429": Fault("status", status=429, headers={"Retry-After": "0"}),
    "500": Fault("status", status=500),
    "html": Fault("html", path="^/v2/", status=200),
}


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> TestImage:
    """A small OCI layout to push."""
    return write_oci_layout(tmp_path_factory.mktemp("cli-errors") / "img", seed="cli-err",
                            tag="v1")


@pytest.fixture
def proxy(registry: LocalRegistry) -> Iterator[FaultProxy]:
    """A fault proxy in front of the plain registry."""
    with FaultProxy(registry.host) as running:
        yield running


def _push(image: TestImage, target: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SIGNER_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "signer", "push", "-q", image.source, target,
         "--username", "alice", "--password-stdin", *extra],
        input=SECRET + "\n", capture_output=True, text=True, timeout=120, check=False,
        cwd=REPO_ROOT, env=env,
    )


def _check(done: subprocess.CompletedProcess[str]) -> str:
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert SECRET not in output
    assert "Traceback" not in output
    assert "internal error" not in output
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, done.stderr
    assert re.search(r"^  hint: \S", done.stderr, re.MULTILINE), done.stderr
    assert done.stdout == ""
    return error_lines[0]


def test_push_errors_are_one_line_distinct_and_secret_free(
        image: TestImage, proxy: FaultProxy, tls_registry: AuthRegistry) -> None:
    lines: dict[str, str] = {}
    for name, fault in FAULTS.items():
        proxy.faults = [fault]
        lines[name] = _check(_push(image, f"{proxy.host}/cli/app:v1"))
    proxy.faults = []
    lines["refused"] = _check(_push(image, f"127.0.0.1:{free_port()}/cli/app:v1"))
    lines["unknown registry"] = _check(_push(image, "nonexistent.invalid/cli/app:v1"))
    lines["wrong password"] = _check(_push(image, f"{tls_registry.host}/cli/app:v1",
                                           "--ca-bundle", str(tls_registry.ca_bundle)))

    assert "403" in lines["403"] and "429" in lines["429"] and "500" in lines["500"]
    assert "404" in lines["404"] and "HTML" in lines["html"]
    assert "refused" in lines["refused"]
    assert "nonexistent.invalid" in lines["unknown registry"]
    assert "rejected the credentials" in lines["wrong password"]
    shapes = {name: re.sub(r"\d+", "#", line) for name, line in lines.items()}
    assert len(set(shapes.values())) == len(shapes), shapes
    # Nothing was pushed through the failing proxy.
    assert proxy.count("PUT", "/manifests/") == 0
