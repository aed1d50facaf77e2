"""Local files named by flags, environment variables and action inputs are read bounded.

A trusted root, a key, a certificate chain or a TSA chain that is a device file
(``/dev/zero``) or a huge file must end in a one-line error naming the file, never in
``internal error: MemoryError`` after eating the machine's memory. Each run gets an
address-space limit so that a regression fails fast instead of exhausting the host.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from signer.localfile import MAX_LOCAL_FILE_BYTES
from signer.testing.registry import AuthRegistry
from tests.integration.action.conftest import ActionHarness, action  # noqa: F401

#: address space each run may use: far more than signer needs, far less than /dev/zero
MEMORY_LIMIT = 1536 * 1024 * 1024
DIGEST_REF = "127.0.0.1:9/r/x@sha256:" + "a" * 64
KEYLESS = ["--certificate-identity", "x", "--certificate-oidc-issuer", "y"]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _cli(args: Sequence[str], env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SIGSTORE_")}
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "signer", *args], env=base,
                          capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, preexec_fn=_limit_memory)


@pytest.fixture(scope="module")
def huge_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sparse regular file of 3 GiB (no disk used)."""
    path = tmp_path_factory.mktemp("huge") / "huge.json"
    with path.open("wb") as handle:
        handle.truncate(3 * 1024 ** 3)
    return path


def _assert_one_line_refusal(result: subprocess.CompletedProcess[str], name: str) -> None:
    assert "internal error" not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode not in (0,), result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    assert name in errors[0] and "limit" in errors[0], result.stderr


@pytest.mark.parametrize("source", ["/dev/zero", "huge"])
@pytest.mark.parametrize("flags", [
    ["--trusted-root", "{}", *KEYLESS],
    ["--key", "{}"],
    ["--certificate-chain", "{}", *KEYLESS],
    ["--ca-roots", "{}", *KEYLESS],
    ["--timestamp-certificate-chain", "{}", *KEYLESS],
], ids=["trusted-root", "key", "certificate-chain", "ca-roots", "tsa-chain"])
def test_verify_flags_naming_endless_or_huge_files(flags: list[str], source: str,
                                                  huge_file: Path) -> None:
    path = str(huge_file) if source == "huge" else source
    result = _cli(["verify", *[f.format(path) for f in flags], DIGEST_REF])
    _assert_one_line_refusal(result, path)


@pytest.mark.parametrize("variable", ["SIGSTORE_ROOT_FILE", "SIGSTORE_REKOR_PUBLIC_KEY",
                                      "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE"])
def test_legacy_trust_variables_naming_dev_zero(variable: str) -> None:
    result = _cli(["verify", *KEYLESS, DIGEST_REF], env={variable: "/dev/zero"})
    _assert_one_line_refusal(result, "/dev/zero")


def test_a_file_just_over_the_limit_is_refused_and_one_at_it_is_read(tmp_path: Path) -> None:
    over = tmp_path / "over.json"
    over.write_bytes(b" " * (MAX_LOCAL_FILE_BYTES + 1))
    _assert_one_line_refusal(_cli(["verify", "--trusted-root", str(over), *KEYLESS,
                                   DIGEST_REF]), str(over))
    at = tmp_path / "at.json"
    at.write_bytes(b" " * MAX_LOCAL_FILE_BYTES)
    result = _cli(["verify", "--trusted-root", str(at), *KEYLESS, DIGEST_REF])
    assert "limit" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert f"{at} is not JSON" in result.stderr, result.stderr  # read, then refused


def _action_in_child(harness: ActionHarness, inputs: dict[str, str],
                     queue: Any) -> None:
    _limit_memory()
    run = harness.run(inputs)
    queue.put((run.exit_code, run.log, dict(run.outputs)))


def _run_action_limited(harness: ActionHarness, inputs: dict[str, str]
                        ) -> tuple[int, str, dict[str, str]]:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_action_in_child, args=(harness, inputs, queue))
    child.start()
    try:
        result: tuple[int, str, dict[str, str]] = queue.get(timeout=120)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    return result


@pytest.mark.slow
@pytest.mark.parametrize("name", ["trusted-root", "public-key"])
def test_action_inputs_naming_dev_zero(action: ActionHarness, name: str) -> None:  # noqa: F811
    inputs = {"mode": "verify", "images": DIGEST_REF, name: "/dev/zero"}
    if name == "public-key":
        inputs["trusted-root"] = str(action.stack.trusted_root_path)
    else:
        inputs.update({"certificate-identity": "x", "certificate-oidc-issuer": "y"})
    exit_code, log, outputs = _run_action_limited(action, inputs)
    assert exit_code != 0, log
    assert "internal error" not in log, log
    errors = [line for line in log.splitlines() if line.startswith("::error")]
    assert errors and all("/dev/zero" in line and "limit" in line for line in errors), log
    assert outputs["verified"] == "false"


@pytest.mark.parametrize("source", ["/dev/zero", "huge"])
@pytest.mark.parametrize("argv", [
    ["sign", "--signing-config", "{}", "--trusted-root", "{trust}", "--identity-token",
     "a.b.c", DIGEST_REF],
    ["sign-blob", "--signing-config", "{}", "--trusted-root", "{trust}", "--bundle",
     "{out}", "{artifact}"],
    ["sign", "--key", "{}", DIGEST_REF],
    ["sign", "--identity-token", "@{}", "--trusted-root", "{trust}", DIGEST_REF],
    ["verify-blob", "--bundle", "{}", *KEYLESS, "--trusted-root", "{trust}", "{artifact}"],
    ["verify-blob", "--bundle", "{bundle}", "--key", "{}", "--trusted-root", "{trust}",
     "{artifact}"],
], ids=["signing-config", "sign-blob-signing-config", "sign-key", "identity-token-file",
        "verify-blob-bundle", "verify-blob-key"])
def test_signing_and_blob_flags_naming_endless_or_huge_files(
        argv: list[str], source: str, huge_file: Path, tmp_path: Path) -> None:
    from tests.corpus import BUNDLES, TRUST

    path = str(huge_file) if source == "huge" else source
    artifact = tmp_path / "artifact"
    artifact.write_text("x")
    values = {"trust": str(TRUST / "public-good-trusted_root.json"), "artifact": str(artifact),
              "out": str(tmp_path / "out.json"),
              "bundle": str(BUNDLES / "sc-happy-path-v0.3" / "bundle.json")}
    result = _cli([arg.replace("{}", path).format(**values) for arg in argv],
                  env={"COSIGN_PASSWORD": "pw"})
    _assert_one_line_refusal(result, path)


@pytest.mark.parametrize("bundle", ["missing", "/dev/zero", "directory"])
def test_a_ca_bundle_that_cannot_be_read(tls_registry: AuthRegistry, tmp_path: Path,
                                         bundle: str, key_pair: tuple[Path, Path, Any]) -> None:
    """SIGNER_CA_BUNDLE (the action's registry-ca-bundle) naming a missing file, a
    device or a directory: one line naming it, not an internal error at the first
    TLS connection."""
    path = {"missing": str(tmp_path / "missing.pem"), "directory": str(tmp_path)}.get(
        bundle, bundle)
    result = _cli(["verify", "--key", str(key_pair[1]), "--insecure-ignore-tlog",
                   f"{tls_registry.host}/r@sha256:" + "a" * 64],
                  env={"SIGNER_CA_BUNDLE": path})
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "CA bundle" in errors[0] and path in errors[0], result.stderr
    assert result.returncode == 1, result.stderr
