"""Verify figures: 100 keyless-signed images against the real registry.

Setup (untimed): a local Sigstore stack, 100 small images pushed to the bench
registry, each signed keylessly by our signer (Fulcio certificate with embedded SCT,
Rekor entry with SET). Timed:

* ``signer verify`` on all 100 digest references in **one** process (start-up,
  trust parsing, 300 registry requests -- per image the ``.sig`` manifest, its layer
  and the referrers tag index, plus one probe of the referrers API --, every check:
  SET, Rekor body, chain, SCT, identity, signature, claims, validity) -- reported as
  seconds, images/s;
* the same through the library (``signer.fetch.verify_images``, one shared client),
  with the median wall time of one image inside the concurrent run;
* the median time to verify one image on its own (library, warm client).

There is no peer: cosign cannot be installed here. The CPU seconds of the
``signer verify`` process and of the registry process serving it are reported too:
both share the machine's cores, so their sum bounds the CLI's throughput.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Context, Row
from signer.fetch import VerifyOptions, verify_image, verify_images
from signer.formats.gojson import go_json
from signer.formats.legacy import OCI_MANIFEST
from signer.reference import Reference, parse_reference
from signer.registry.client import RegistryClient
from signer.sign import SignOptions, sign_images
from signer.testing.stack import Stack, start_stack
from signer.trust import TrustedRoot
from signer.verify.policy import IdentityPolicy
from signer.verify.verifier import VerificationPolicy

IMAGES = 100
#: images verified one by one for the per-image latency
SEQUENTIAL = 20


@dataclass
class _Signed:
    stack: Stack
    images: list[Reference]


def _push_image(client: RegistryClient, host: str, index: int) -> Reference:
    repo = parse_reference(f"{host}/bench-verify/app-{index}")
    config = go_json({"architecture": "amd64", "os": "linux", "created": f"bench-{index}",
                      "rootfs": {"type": "layers", "diff_ids": []}})
    config_digest = client.upload_blob(repo, config)
    manifest = go_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                   "size": len(config), "digest": config_digest},
                        "layers": []})
    return repo.with_digest(client.put_manifest(repo.with_tag("v1"), manifest, OCI_MANIFEST))


def _setup(ctx: Context) -> _Signed:
    stack = start_stack(ctx.scratch("stack"))
    with RegistryClient() as client:
        images = [_push_image(client, ctx.registry.host, i) for i in range(IMAGES)]
        options = SignOptions(identity_token=stack.issue_token(), fulcio_url=stack.fulcio_url,
                              rekor_url=stack.rekor_url,
                              trusted_root=TrustedRoot.from_file(stack.trusted_root_path))
        sign_images(client, images, options)
    return _Signed(stack, images)


def _cli_args(signed: _Signed) -> list[str]:
    return [sys.executable, "-m", "signer", "verify",
            "--trusted-root", str(signed.stack.trusted_root_path),
            "--certificate-identity", signed.stack.default_identity,
            "--certificate-oidc-issuer", signed.stack.oidc_issuer_url,
            *(str(image) for image in signed.images)]


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds a (Linux) process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_cli(signed: _Signed, cpu: dict[str, list[float]], registry_pid: int) -> None:
    children, server = resource.getrusage(resource.RUSAGE_CHILDREN), _process_cpu(registry_pid)
    done = subprocess.run(_cli_args(signed), capture_output=True, timeout=300, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu["signer"].append(after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime)
    cpu["registry"].append(_process_cpu(registry_pid) - server)
    if done.returncode != 0:
        raise RuntimeError(f"signer verify failed: {done.stderr.decode()[-500:]}")


def run(ctx: Context) -> list[Row]:
    """Time verifying 100 signed images (CLI in one call, and the library)."""
    signed = _setup(ctx)
    try:
        cpu: dict[str, list[float]] = {"signer": [], "registry": []}
        cli = ctx.measure(lambda _i: _run_cli(signed, cpu, ctx.registry.process.pid))
        trust = TrustedRoot.from_file(signed.stack.trusted_root_path)
        policy = VerificationPolicy(identity=IdentityPolicy(
            identity=signed.stack.default_identity, issuer=signed.stack.oidc_issuer_url))
        options = VerifyOptions(trust, policy)
        per_image: list[float] = []

        def library(_i: int) -> None:
            with RegistryClient() as client:
                results = verify_images(client, signed.images, options)
            if not all(r.verified for r in results):
                raise RuntimeError("library verification failed")
            per_image.extend(r.seconds for r in results)

        lib = ctx.measure(library)

        alone: list[float] = []

        def one_at_a_time(_i: int) -> None:
            with RegistryClient() as client:
                for image in signed.images[:SEQUENTIAL]:
                    result = verify_image(client, image, options)
                    if not result.verified:
                        raise RuntimeError("library verification failed")
                    alone.append(result.seconds)

        ctx.measure(one_at_a_time)
    finally:
        signed.stack.stop()
    return [
        Row(f"verify {IMAGES} keyless images, one signer verify call", cli),
        Row(f"  images/s (signer verify, {IMAGES} images; target >= 100)",
            [IMAGES / s for s in cli], unit="img/s"),
        Row("  CPU of the signer verify process (start-up included)", cpu["signer"]),
        Row(f"  CPU of the registry serving it ({3 * IMAGES} requests + probe)",
            cpu["registry"]),
        Row(f"verify {IMAGES} keyless images, library (verify_images)", lib),
        Row(f"  images/s (library, {IMAGES} images)", [IMAGES / s for s in lib],
            unit="img/s"),
        Row("  per image, inside the concurrent run (median)",
            [statistics.median(per_image)]),
        Row(f"per image, one at a time (library, median of {SEQUENTIAL} images)",
            [statistics.median(alone)]),
    ]
