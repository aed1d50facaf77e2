"""The README's main job: a local round trip, run by ``bash .ci/demo.sh``.

``python -m signer.testing.demo`` starts a real registry (Debian's ``docker-registry``)
and the local Sigstore stack on 127.0.0.1, builds a small image, pushes it, signs it
keyless through the GitHub-Actions-style token endpoint (the same environment
variables a job with ``id-token: write`` has), verifies it with an identity policy
(printing what ``cosign verify`` prints), then shows an unsigned image (exit 10) and a
wrong identity (exit 12) rejected; ``signer initialize`` first points every command at
the stack's TUF repository, whose trusted root they use (no ``--trusted-root``). Then it
runs the GitHub Action itself -- this
checkout's ``action.yml`` as a runner runs it (:mod:`signer.testing.runner`), in a job
whose ``id-token: write`` token endpoint is the local stack's -- to push and sign an
image and then verify it, printing each step's log, outputs and job summary as a user
sees them. Finally it stops everything it started. Every ``signer`` command is echoed
before it runs (secrets shown as ``***``) so the reader sees what they would type.
Exit 0 only if every step behaved as expected.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signer.testing.runner import ActionRun
    from signer.testing.stack import Stack

COMMAND_TIMEOUT = 120


class Demo:
    """Runs ``signer`` commands as subprocesses, echoing them and checking exit codes."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        #: the TUF cache of every signer command (never the user's own)
        self.tuf_root = workdir / "tuf-cache"
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
        environment = {**os.environ, "TUF_ROOT": str(self.tuf_root), **(env or {})}
        started = time.monotonic()
        completed = subprocess.run(
            [sys.executable, "-m", "signer", *args], env=environment, capture_output=True,
            text=True, timeout=COMMAND_TIMEOUT, check=False, cwd=self.workdir,
        )
        elapsed = time.monotonic() - started
        for stream_text in (completed.stderr, completed.stdout):
            if stream_text:
                print(stream_text.rstrip("\n"), flush=True)
        self.outcome(completed.returncode == expect,
                     f"exit {completed.returncode} (expected) in {elapsed:.2f}s",
                     f"{title}: exit {completed.returncode}, expected {expect}")
        return completed

    def outcome(self, expected: bool, success: str, failure: str) -> None:
        """Print ``-> success``, or record and print ``-> FAILED: failure``."""
        if expected:
            print(f"-> {success}", flush=True)
        else:
            print(f"-> FAILED: {failure}", flush=True)
            self.failures.append(failure)


def show_action(demo: Demo, title: str, job_root: Path, inputs: Mapping[str, str],
                stack: Stack, github_token: str) -> ActionRun:
    """Run this checkout's action.yml as a runner runs it, in a job with
    ``id-token: write`` served by the local stack; print what a user sees: the step's
    ``with:``, the log, the step outputs and the job summary."""
    from signer.testing.oidc_server import default_github_claims
    from signer.testing.runner import github_job, run_job_action

    demo.steps += 1
    demo.heading(f"{demo.steps}. {title}")
    repository = str(default_github_claims(stack.oidc_issuer_url, "sigstore", 0)["repository"])
    job = github_job(job_root, repository=repository, github_token=github_token,
                     id_token_endpoint=(stack.token_request_url, stack.token_request_token))
    print(f"# a job of {repository} with `permissions: id-token: write`: "
          f"ACTIONS_ID_TOKEN_REQUEST_URL={stack.token_request_url} "
          "ACTIONS_ID_TOKEN_REQUEST_TOKEN=***; GITHUB_OUTPUT and GITHUB_STEP_SUMMARY are "
          f"files under {job.temp}")
    print("- uses: ./   # this checkout's action.yml")
    print("  with:")
    for name, value in inputs.items():
        print(f"    {name}: {value}")
    started = time.monotonic()
    run = run_job_action(job, inputs)
    elapsed = time.monotonic() - started
    for step in run.steps:
        how = (" -- not run here: entrypoint.py gets the interpreter of the venv the "
               "action's own install step made (.ci/action-venv.sh)"
               if step.skipped_reason else "")
        print(f"  [{step.outcome}] {step.name}{how}")
    print("--- log", flush=True)
    print(run.log.rstrip("\n"))
    print("--- step outputs (steps.<id>.outputs)")
    for name, value in run.outputs.items():
        print(f"{name}={value}")
    print("--- job summary (GITHUB_STEP_SUMMARY, Markdown)")
    print(run.summary.rstrip("\n"), flush=True)
    demo.outcome(run.succeeded, f"action exit 0 (expected) in {elapsed:.2f}s",
                 f"{title}: the action failed (exit {run.exit_code})")
    return run


def run_action_steps(demo: Demo, workdir: Path, registry_host: str, stack: Stack) -> None:
    """The GitHub Action itself: push and sign an image, then verify it, each as a step
    of a job would run it."""
    from signer.testing.images import write_oci_layout

    # the job's GITHUB_TOKEN: a local registry never asks for it; it must never show
    github_token = "ghs_" + secrets.token_hex(18)
    image = write_oci_layout(workdir / "action-image", seed="signer-demo-action", tag="v1")
    target = f"{registry_host}/demo/action-app:v1"
    # the trusted root comes from the stack's TUF repository, as from Sigstore's
    tuf = {"tuf-mirror": stack.tuf_url, "tuf-root": str(stack.tuf_root_path)}
    local_sigstore = {"fulcio-url": stack.fulcio_url, "rekor-url": stack.rekor_url, **tuf}
    signed = show_action(demo, "The GitHub Action: push an image and sign it keyless",
                         workdir / "job-sign",
                         {"push-from": str(image.path), "images": target, **local_sigstore},
                         stack, github_token)
    _expect(demo, signed.outputs.get("digest") == image.digest
            and signed.outputs.get("verified") == "true",
            "the action's sign step did not report the pushed digest as verified")
    verified = show_action(
        demo, "The GitHub Action: verify the image with an identity policy",
        workdir / "job-verify",
        {"mode": "verify", "images": target,
         "certificate-identity": stack.default_identity,
         "certificate-oidc-issuer": stack.oidc_issuer_url, **tuf}, stack, github_token)
    _expect(demo, verified.outputs.get("verified") == "true"
            and verified.outputs.get("certificate-identity") == stack.default_identity,
            "the action's verify step did not report the signer's identity as verified")
    shown = [line for run in (signed, verified) for line in run.raw_log.splitlines()
             if not line.startswith("::add-mask::")]  # the runner consumes those
    shown += [signed.summary, verified.summary, *signed.outputs.values(),
              *verified.outputs.values()]
    _expect(demo, not any(github_token in text for text in shown),
            "the job's GITHUB_TOKEN appeared in the action's output")


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
        print(f"TUF repository:        {stack.tuf_url} (root.json: {stack.tuf_root_path})")
        print(f"TUF cache:             TUF_ROOT={demo.tuf_root}", flush=True)
        # sign and verify take the trusted root from the stack's TUF repository, as
        # they take public good's by default: no --trusted-root below
        demo.signer("Trust the local Sigstore's TUF repository (as cosign initialize)",
                    ["initialize", "--mirror", stack.tuf_url, "--root",
                     str(stack.tuf_root_path)])
        trust: list[str] = []
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
        # both formats were written (the bundle referrer and the .sig): both pass
        _expect(demo, _verified_digests(verified.stdout) == [image.digest or ""] * 2,
                "verify did not print the bundle and the .sig over the pushed digest")

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
        run_action_steps(demo, workdir, registry.host, stack)
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
