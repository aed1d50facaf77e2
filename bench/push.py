"""Push and digest-resolution figures: our client and CLI against skopeo, same run.

* push 20 small images (OCI layouts, 1 layer each, fresh content and repositories for
  every repetition so nothing is skipped) -- in one process through our client, and one
  process per image through ``python -m signer push``; the peer is ``skopeo copy``
  per image (skopeo has no multi-image mode);
* resolve 200 digests (10 passes over 20 tags) -- our client's ``resolve_digest`` in
  one process, one request after the other, and ``resolve_digests`` (the same HEAD
  requests, several in flight over the connection pool); the peer is
  ``skopeo inspect --raw`` per reference, hashed as ``skopeo manifest-digest`` does
  (sha256 of the bytes). All must agree.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bench.harness import Context, Row
from signer.reference import parse_reference
from signer.registry.client import RegistryClient
from signer.registry.push import push_image
from signer.registry.sources import open_source
from signer.testing.images import TestImage, write_oci_layout

#: upper bound on one external command (signer push, skopeo) in a benchmark round
COMMAND_TIMEOUT = 600

IMAGES = 20
RESOLVES = 200


def _layouts(ctx: Context, who: str, round_: int) -> list[TestImage]:
    base = ctx.scratch(f"{who}-{round_}")
    return [write_oci_layout(base / f"img{i}", seed=f"bench-{who}-{round_}-{i}", tag="v1")
            for i in range(IMAGES)]


def _check(done: subprocess.CompletedProcess[bytes], what: str) -> bytes:
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {done.stderr.decode()[-500:]}")
    return done.stdout


def run(ctx: Context) -> list[Row]:
    """Measure and return the push and resolve rows."""
    host = ctx.registry.host
    prepared: dict[str, list[TestImage]] = {}

    def prepare(who: str) -> Callable[[int], None]:
        def setup(round_: int) -> None:
            prepared[who] = _layouts(ctx, who, round_)
        return setup

    def ours_inprocess(r: int) -> None:
        with RegistryClient() as client:
            for i, image in enumerate(prepared["lib"]):
                target = parse_reference(f"{host}/bench-lib/r{r}-i{i}:v1")
                with open_source(image.source) as source:
                    [result] = push_image(source, [target], client)
                assert result.digest == image.digest

    def ours_cli(r: int) -> None:
        for i, image in enumerate(prepared["cli"]):
            _check(subprocess.run([sys.executable, "-m", "signer", "push", "-q", image.source,
                                   f"{host}/bench-cli/r{r}-i{i}:v1"], capture_output=True,
                                  check=False, timeout=COMMAND_TIMEOUT), "signer push")

    def peer_copy(r: int) -> None:
        for i, image in enumerate(prepared["skopeo"]):
            _check(subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false",
                                   image.source, f"docker://{host}/bench-skopeo/r{r}-i{i}:v1"],
                                  capture_output=True, check=False, timeout=COMMAND_TIMEOUT),
                   "skopeo copy")

    lib = ctx.measure(ours_inprocess, setup=prepare("lib"))
    cli = ctx.measure(ours_cli, setup=prepare("cli"))
    peer = ctx.measure(peer_copy, setup=prepare("skopeo"))

    refs = [f"{host}/bench-lib/r0-i{i % IMAGES}:v1" for i in range(RESOLVES)]
    ours_digests: list[str] = []
    peer_digests: list[str] = []

    def ours_resolve(_r: int) -> None:
        ours_digests.clear()
        with RegistryClient() as client:
            ours_digests.extend(client.resolve_digest(parse_reference(ref)) for ref in refs)

    def peer_resolve(_r: int) -> None:
        peer_digests.clear()
        for ref in refs:
            raw = _check(subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                                         f"docker://{ref}"], capture_output=True, check=False,
                                        timeout=COMMAND_TIMEOUT), "skopeo inspect")
            peer_digests.append("sha256:" + hashlib.sha256(raw).hexdigest())

    batch_digests: list[str] = []

    def ours_resolve_batch(_r: int) -> None:
        batch_digests.clear()
        with RegistryClient() as client:
            batch_digests.extend(client.resolve_digests([parse_reference(r) for r in refs]))

    resolve_ours = ctx.measure(ours_resolve)
    resolve_batch = ctx.measure(ours_resolve_batch)
    resolve_peer = ctx.measure(peer_resolve)
    if not ours_digests == batch_digests == peer_digests:
        raise RuntimeError("our resolved digests differ from skopeo's")
    _confirm_with_manifest_digest(ctx.scratch("digest"), host)
    return [
        Row(f"push {IMAGES} small images, one process (our client)", lib, peer,
            peer_name="skopeo copy x20"),
        Row(f"push {IMAGES} small images, process per image (signer push)", cli, peer,
            peer_name="skopeo copy x20"),
        Row(f"resolve {RESOLVES} digests, one process, one by one (resolve_digest)",
            resolve_ours, resolve_peer, peer_name="skopeo inspect --raw x200"),
        Row(f"resolve {RESOLVES} digests, one process, overlapped (resolve_digests)",
            resolve_batch, resolve_peer, peer_name="skopeo inspect --raw x200"),
        Row("  digests/s, one by one (target >= 500)", [RESOLVES / s for s in resolve_ours],
            unit="/s"),
        Row("  digests/s, overlapped (target >= 500)", [RESOLVES / s for s in resolve_batch],
            unit="/s"),
    ]


def _confirm_with_manifest_digest(scratch: Path, host: str) -> None:
    """One spot check that sha256 of the raw bytes is what skopeo manifest-digest says."""
    raw = _check(subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                                 f"docker://{host}/bench-lib/r0-i0:v1"], capture_output=True,
                                check=False, timeout=COMMAND_TIMEOUT), "skopeo inspect")
    path = scratch / "manifest.json"
    path.write_bytes(raw)
    said = _check(subprocess.run(["skopeo", "manifest-digest", str(path)], capture_output=True,
                                 check=False, timeout=COMMAND_TIMEOUT),
                  "skopeo manifest-digest").decode().strip()
    if said != "sha256:" + hashlib.sha256(raw).hexdigest():
        raise RuntimeError("skopeo manifest-digest disagrees with sha256 of the manifest")
