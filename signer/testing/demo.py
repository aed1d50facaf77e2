"""The README's main job: a local round trip, run by ``bash .ci/demo.sh``.

``python -m signer.testing.demo`` starts a real registry (Debian's ``docker-registry``)
and the local Sigstore stack on 127.0.0.1, builds a small image, pushes it, signs it
keyless through the GitHub-Actions-style token endpoint (the same environment
variables a job with ``id-token: write`` has), verifies it with an identity policy
(printing what ``cosign verify`` prints), then shows an unsigned image (exit 10) and a
wrong identity (exit 12) rejected, and stops everything it started. Every ``signer``
command is echoed before it runs (secrets shown as ``***``) so the reader sees what
they would type. Exit 0 only if every step behaved as expected.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

COMMAND_TIMEOUT = 120


class Demo:
    """Runs ``signer`` commands as subprocesses, echoing them and checking exit codes."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.failures: list[str] = []
        self.steps = 0

    def heading(self, text: str) -> None:
        """Print a section heading."""
        print(f"\n=== {text}", flush=True)

    def signer(self, title: str, args: Sequence[str], *, expect: int = 0,
               env: Mapping[str, str] | None = None,
               shown_env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``signer ARGS``; print the command, its output and whether the exit matched.

        ``env`` is added to the environment; ``shown_env`` is how those variables are
        displayed (secrets replaced) in the echoed command.
        """
        self.steps += 1
        self.heading(f"{self.steps}. {title}")
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (shown_env or {}).items())
        print(f"$ {prefix + ' ' if prefix else ''}signer {shlex.join(args)}", flush=True)
        environment = {**os.environ, **(env or {})}
        started = time.monotonic()
        completed = subprocess.run(
            [sys.executable, "-m", "signer", *args], env=environment, capture_output=True,
            text=True, timeout=COMMAND_TIMEOUT, check=False, cwd=self.workdir,
        )
        elapsed = time.monotonic() - started
        for stream_text in (completed.stderr, completed.stdout):
            if stream_text:
                print(stream_text.rstrip("\n"), flush=True)
        if completed.returncode == expect:
            print(f"-> exit {completed.returncode} (expected) in {elapsed:.2f}s", flush=True)
        else:
            message = f"{title}: exit {completed.returncode}, expected {expect}"
            print(f"-> FAILED: {message}", flush=True)
            self.failures.append(message)
        return completed


def _expect(demo: Demo, condition: bool, message: str) -> None:
    """Record a failed expectation that is not an exit code."""
    if not condition:
        print(f"-> FAILED: {message}", flush=True)
        demo.failures.append(message)


def _verified_digests(stdout: str) -> list[str]:
    """The docker-manifest-digest of each element of cosign's JSON output."""
    try:
        elements = json.loads(stdout)
        return [str(e["critical"]["image"]["docker-manifest-digest"]) for e in elements]
    except (ValueError, KeyError, TypeError):
        return []


def run_demo(workdir: Path) -> int:
    """Run every step in ``workdir``; return 0 only if all behaved as expected."""
    from signer.testing.images import write_oci_layout
    from signer.testing.registry import start_registry
    from signer.testing.stack import start_stack

    demo = Demo(workdir)
    started = time.monotonic()
    demo.heading("Starting a registry (Debian docker-registry) and a local Sigstore on 127.0.0.1")
    with start_registry(workdir / "registry") as registry, \
            start_stack(workdir / "sigstore") as stack:
        print(f"registry:              {registry.url}")
        print(f"OIDC issuer:           {stack.oidc_issuer_url}")
        print(f"GitHub token endpoint: {stack.token_request_url}")
        print(f"Fulcio:                {stack.fulcio_url}")
        print(f"Rekor:                 {stack.rekor_url}")
        print(f"trusted root:          {stack.trusted_root_path}", flush=True)
        trust = ["--trusted-root", str(stack.trusted_root_path)]
        identity, issuer = stack.default_identity, stack.oidc_issuer_url

        image = write_oci_layout(workdir / "image", seed="signer-demo", tag="v1")
        unsigned = write_oci_layout(workdir / "unsigned", seed="signer-demo-unsigned", tag="v1")
        print(f"\nbuilt two small OCI image layouts: {image.path} and {unsigned.path}")
        app, other = f"{registry.host}/demo/app:v1", f"{registry.host}/demo/unsigned:v1"

        pushed = demo.signer("Push the image", ["push", image.source, app])
        pinned = pushed.stdout.strip().splitlines()[-1] if pushed.stdout.strip() else ""
        _expect(demo, pinned.endswith(f"@{image.digest}"),
                f"push printed {pinned!r}, expected digest {image.digest}")

        # What a GitHub Actions job with `permissions: id-token: write` has in its
        # environment; here the local stack's token endpoint serves it.
        ambient = {"GITHUB_ACTIONS": "true",
                   "ACTIONS_ID_TOKEN_REQUEST_URL": stack.token_request_url,
                   "ACTIONS_ID_TOKEN_REQUEST_TOKEN": stack.token_request_token}
        shown = {**ambient, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "***"}
        demo.signer("Sign it keyless: GitHub OIDC token -> Fulcio certificate -> Rekor entry",
                    ["sign", "--fulcio-url", stack.fulcio_url, "--rekor-url", stack.rekor_url,
                     *trust, app], env=ambient, shown_env=shown)

        verified = demo.signer(
            "Verify it with an identity policy (prints what cosign verify prints)",
            ["verify", "--certificate-identity", identity,
             "--certificate-oidc-issuer", issuer, *trust, app])
        _expect(demo, _verified_digests(verified.stdout) == [image.digest or ""],
                "verify did not print one signature over the pushed digest")

        demo.signer("Push a second image, never signed", ["push", unsigned.source, other])
        demo.signer("Verify the unsigned image: rejected, no signatures (exit 10)",
                    ["verify", "--certificate-identity", identity,
                     "--certificate-oidc-issuer", issuer, *trust, other], expect=10)
        demo.signer("Verify the signed image as another repository's workflow: rejected, "
                    "no matching signature (exit 12)",
                    ["verify", "--certificate-identity",
                     "https://github.com/octo-org/other-repo/.github/workflows/release.yml"
                     "@refs/heads/main", "--certificate-oidc-issuer", issuer, *trust, app],
                    expect=12)
        demo.heading("Stopping the registry and the Sigstore stack")
    print(f"\nDemo finished in {time.monotonic() - started:.1f}s: "
          + ("every step behaved as expected." if not demo.failures
             else f"{len(demo.failures)} step(s) did not:"), flush=True)
    for failure in demo.failures:
        print(f"  - {failure}")
    return 0 if not demo.failures else 1


def main() -> int:
    """Entry point of ``python -m signer.testing.demo``."""
    from signer.errors import Error

    with tempfile.TemporaryDirectory(prefix="signer-demo-") as directory:
        try:
            return run_demo(Path(directory))
        except Error as err:
            print(f"Error: {err.diagnostics()}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    raise SystemExit(main())
