"""sigstore-js (``@sigstore/verify``, npm) as an independent offline bundle verifier.

    from tests.sigstore_js import sigstore_js  # noqa: F401   (in a conftest.py)

    result = sigstore_js.verify(bundle_path, trusted_root, artifact=path)
    assert result.verified, result.message

``tests/js/verify.js`` does the verification with the versions pinned in
``tests/js/package-lock.json`` (installed by ``.ci/setup.sh`` with ``npm ci``); none of
signer's code is involved. The fixture fails, never skips, when node or the packages
are missing, so a machine without them cannot pass these tests silently.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

JS_DIR = Path(__file__).resolve().parent / "js"
SCRIPT = JS_DIR / "verify.js"
TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class JsResult:
    """What verify.js printed: ``verified``, the error code and message on failure,
    and on success the signer's identity, issuer, log entry kinds and timestamps."""

    verified: bool
    exit_code: int
    error: str = ""
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JsCheck:
    """One verification's inputs: the bundle and trusted root, the artifact (a file, or
    ``sha256:<hex>`` -- also sha384/sha512 -- for a DSSE statement's subject), and the
    identity (exact or a JavaScript regexp) and issuer, or the public key, to require."""

    bundle: Path
    trusted_root: Path
    artifact: Path | None = None
    digest: str | None = None
    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    key: Path | None = None

    def argv(self) -> list[str]:
        """verify.js's arguments for this check."""
        options = {"--artifact": self.artifact, "--digest": self.digest,
                   "--certificate-identity": self.identity,
                   "--certificate-identity-regexp": self.identity_regexp,
                   "--certificate-oidc-issuer": self.issuer, "--key": self.key}
        argv = ["--bundle", str(self.bundle), "--trusted-root", str(self.trusted_root)]
        for option, value in options.items():
            argv += [option, str(value)] if value is not None else []
        return argv


def _result(line: dict[str, Any], exit_code: int) -> JsResult:
    verified = line.pop("verified")
    if verified is not (exit_code == 0):
        raise AssertionError(f"verify.js exit {exit_code} says verified={verified}")
    return JsResult(verified=verified, exit_code=exit_code, error=line.pop("error", ""),
                    message=line.pop("message", ""), details=line)


@dataclass(frozen=True)
class SigstoreJs:
    """Runs ``node tests/js/verify.js`` offline: one process per bundle, or one for many."""

    node: str

    def verify(self, bundle: Path, trusted_root: Path, **options: Any) -> JsResult:
        """Verify one bundle (``options`` as :class:`JsCheck`'s fields) in its own
        process, through verify.js's command line and exit code."""
        argv = [self.node, str(SCRIPT), *JsCheck(bundle, trusted_root, **options).argv()]
        done = subprocess.run(argv, capture_output=True, text=True, check=False,
                              timeout=TIMEOUT_SECONDS, cwd=JS_DIR)
        if done.returncode not in (0, 1) or len(done.stdout.splitlines()) != 1:
            raise AssertionError(f"verify.js misbehaved (exit {done.returncode}): "
                                 f"{done.stdout!r} {done.stderr!r}")
        return _result(json.loads(done.stdout), done.returncode)

    def verify_many(self, checks: list[JsCheck]) -> list[JsResult]:
        """Verify many bundles in one node process (``--batch``), results in order."""
        done = subprocess.run([self.node, str(SCRIPT), "--batch"],
                              input=json.dumps([check.argv() for check in checks]),
                              capture_output=True, text=True, check=False,
                              timeout=TIMEOUT_SECONDS, cwd=JS_DIR)
        lines = done.stdout.splitlines()
        if done.returncode != 0 or len(lines) != len(checks):
            raise AssertionError(f"verify.js --batch misbehaved (exit {done.returncode}): "
                                 f"{done.stdout!r} {done.stderr!r}")
        results = []
        for text in lines:
            line: dict[str, Any] = json.loads(text)
            exit_code = line.pop("exitCode")
            if exit_code not in (0, 1):
                raise AssertionError(f"verify.js refused its arguments: {line}")
            results.append(_result(line, exit_code))
        return results


@pytest.fixture(scope="session")
def sigstore_js() -> SigstoreJs:
    """The sigstore-js verifier; fails with a hint when node or its packages are missing."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed; run .ci/setup.sh (it installs nodejs and npm)")
    if not (JS_DIR / "node_modules" / "@sigstore" / "verify" / "package.json").is_file():
        pytest.fail("tests/js has no node_modules; run .ci/setup.sh (npm ci in tests/js)")
    return SigstoreJs(node)
