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
class SigstoreJs:
    """Runs ``node tests/js/verify.js``; one process per bundle, offline."""

    node: str

    def verify(self, bundle: Path, trusted_root: Path, *, artifact: Path | None = None,
               digest: str | None = None, identity: str | None = None,
               issuer: str | None = None, key: Path | None = None) -> JsResult:
        """Verify ``bundle`` against ``trusted_root`` and the artifact (a file, or
        ``sha256:<hex>`` for a DSSE statement's subject); check the identity and issuer
        when given, or the public key ``key``."""
        argv = [self.node, str(SCRIPT), "--bundle", str(bundle),
                "--trusted-root", str(trusted_root)]
        argv += ["--artifact", str(artifact)] if artifact is not None else []
        argv += ["--digest", digest] if digest is not None else []
        argv += ["--certificate-identity", identity] if identity is not None else []
        argv += ["--certificate-oidc-issuer", issuer] if issuer is not None else []
        argv += ["--key", str(key)] if key is not None else []
        done = subprocess.run(argv, capture_output=True, text=True, check=False,
                              timeout=TIMEOUT_SECONDS, cwd=JS_DIR)
        if done.returncode not in (0, 1) or len(done.stdout.splitlines()) != 1:
            raise AssertionError(f"verify.js misbehaved (exit {done.returncode}): "
                                 f"{done.stdout!r} {done.stderr!r}")
        line: dict[str, Any] = json.loads(done.stdout)
        verified = line.pop("verified")
        if verified is not (done.returncode == 0):
            raise AssertionError(f"verify.js exit {done.returncode} says {verified}")
        return JsResult(verified=verified, exit_code=done.returncode,
                        error=line.pop("error", ""), message=line.pop("message", ""),
                        details=line)


@pytest.fixture(scope="session")
def sigstore_js() -> SigstoreJs:
    """The sigstore-js verifier; fails with a hint when node or its packages are missing."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed; run .ci/setup.sh (it installs nodejs and npm)")
    if not (JS_DIR / "node_modules" / "@sigstore" / "verify" / "package.json").is_file():
        pytest.fail("tests/js has no node_modules; run .ci/setup.sh (npm ci in tests/js)")
    return SigstoreJs(node)
