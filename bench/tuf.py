"""What taking the trusted root from TUF costs ``signer verify``, per process.

Setup (untimed): a local Sigstore stack (it serves its own TUF repository), one
small image signed keyless, and ``signer initialize --mirror TUF_URL --root FILE``
into a scratch ``TUF_ROOT``. Timed, alternating so that machine load hits both
alike, each sample a batch of :data:`RUNS` processes reported per process:

* ``signer verify`` of the image with the trusted root through TUF (warm cache:
  ngclient fetches the next ``root.json``, answered 404, and ``timestamp.json``);
* the same with ``--trusted-root FILE`` (no TUF at all): the "peer" column;
* the difference, the milliseconds TUF adds to every verify process;
* the TUF requests one warm process makes (counted at the repository's server), and
  one ``signer verify`` with an empty cache (the first run on a machine).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import Context, Row
from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.sign import SignOptions, sign_images
from signer.testing.stack import Stack, start_stack
from signer.trust import TrustedRoot
from tests.integration.verify.conftest import push_plain_image

RUNS = 5


def _verify(stack: Stack, image: Reference, tuf_root: Path, *extra: str) -> float:
    """Wall seconds of one ``signer verify`` process (it must exit 0)."""
    argv = [sys.executable, "-m", "signer", "verify", *extra,
            "--certificate-identity", stack.default_identity,
            "--certificate-oidc-issuer", stack.oidc_issuer_url, str(image)]
    env = {**os.environ, "TUF_ROOT": str(tuf_root)}
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False, timeout=60, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"signer verify exited {done.returncode}: "
                           f"{done.stderr.decode(errors='replace')[-300:]}")
    return elapsed


def run(ctx: Context) -> list[Row]:
    """Time ``signer verify`` with the trusted root from TUF and from a file."""
    stack = start_stack(ctx.scratch("stack"))
    try:
        with RegistryClient() as client:
            image = push_plain_image(ctx.registry, client, "bench-tuf/app")
            sign_images(client, [image], SignOptions(
                identity_token=stack.issue_token(), fulcio_url=stack.fulcio_url,
                rekor_url=stack.rekor_url,
                trusted_root=TrustedRoot.from_file(stack.trusted_root_path)))
        tuf_root = ctx.scratch("tuf-root")
        cold_root = ctx.scratch("tuf-cold")
        env = {**os.environ, "TUF_ROOT": str(tuf_root)}
        for base in (tuf_root, cold_root):
            subprocess.run([sys.executable, "-m", "signer", "initialize", "--mirror",
                            stack.tuf_url, "--root", str(stack.tuf_root_path)],
                           env={**env, "TUF_ROOT": str(base)}, check=True,
                           capture_output=True, timeout=60)
        # the cold cache: the remembered instance stays, its metadata and targets go
        cold_cache = next(p for p in cold_root.iterdir() if p.is_dir())
        trusted = ["--trusted-root", str(stack.trusted_root_path)]
        _verify(stack, image, tuf_root)  # warm both paths once, untimed
        _verify(stack, image, tuf_root, *trusted)
        with_tuf: list[float] = []
        with_file: list[float] = []
        requests: list[float] = []
        cold: list[float] = []

        def one_sample(_i: int) -> None:
            tuf = file = 0.0
            for _ in range(RUNS):
                before = stack.tuf.request_count
                tuf += _verify(stack, image, tuf_root)
                requests.append(stack.tuf.request_count - before)
                file += _verify(stack, image, tuf_root, *trusted)
            with_tuf.append(tuf / RUNS)
            with_file.append(file / RUNS)
            for sub in ("metadata", "targets"):
                for path in sorted((cold_cache / sub).rglob("*"), reverse=True):
                    path.rmdir() if path.is_dir() else path.unlink()
            cold.append(_verify(stack, image, cold_root))

        ctx.measure(one_sample)
    finally:
        stack.stop()
    return [
        Row("signer verify, 1 image, trusted root through TUF (warm cache)", with_tuf,
            with_file, peer_name="signer --trusted-root FILE"),
        Row("  added by TUF per verify process", [t - f for t, f in
                                                  zip(with_tuf, with_file, strict=True)]),
        Row("  TUF requests per warm process", requests, unit="requests"),
        Row("signer verify, 1 image, TUF with an empty cache (first run)", cold, with_file,
            peer_name="signer --trusted-root FILE"),
    ]
