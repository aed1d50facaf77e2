"""The OIDC identity token is a bearer credential: it never goes to Fulcio over plain
HTTP, except on loopback (the local stack), as registry credentials never do."""

from __future__ import annotations

import time

import pytest

from signer.testing.stack import Stack
from tests.hardening.conftest import PushImage, signer_cli
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401

pytestmark = pytest.mark.slow


def test_keyless_sign_refuses_a_plain_http_fulcio_elsewhere(
        sigstore_stack: Stack, push_image: PushImage) -> None:  # noqa: F811
    image = push_image("plain-fulcio")
    token = sigstore_stack.issue_token()
    started = time.monotonic()
    # 192.0.2.1 (TEST-NET-1) stands for any host that is not this machine
    result = signer_cli(["sign", "--identity-token", token,
                         "--fulcio-url", "http://192.0.2.1:9",
                         "--rekor-url", sigstore_stack.rekor_url,
                         "--trusted-root", str(sigstore_stack.trusted_root_path),
                         "--insecure-registry", image.registry, str(image)], timeout=120)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "plain HTTP" in errors[0] and "192.0.2.1" in errors[0], \
        result.stderr
    assert result.returncode == 1
    assert time.monotonic() - started < 15  # refused at once, not after connect timeouts
    assert token not in result.stderr + result.stdout
