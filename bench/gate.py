"""Gate figures: a repository naming 50 distinct signed images 200 times.

Setup (untimed): a local Sigstore stack, 50 small images pushed to the bench registry
and signed keylessly in one call; a repository of Kubernetes manifests, a Compose
file and Dockerfiles that name those images 200 times in all (every image four
times); a Connaisseur policy whose default validator holds
the stack's GitHub identity. Timed: ``signer gate`` over that repository in **one**
process (start-up, policy, discovery, 50 tag resolutions, 50 signature fetches, every
check), reported as seconds and images per second. There is no peer: Connaisseur runs
only as an admission webhook in a cluster.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.harness import Context, Row
from bench.verify import _push_image
from signer.reference import Reference
from signer.registry.client import RegistryClient
from signer.sign import SignOptions, sign_images
from signer.testing.stack import Stack, start_stack
from signer.trust import TrustedRoot

IMAGES = 50


def _write_repository(root: Path, images: list[Reference]) -> None:
    """200 references by tag: two manifests, a Compose file, one Dockerfile per image."""
    tags = [f"{image.repository_name}:v1" for image in images]
    listed = "\n".join(f"      - name: c{i}\n        image: {ref}" for i, ref in enumerate(tags))
    for kind in ("Deployment", "StatefulSet"):
        (root / f"{kind.lower()}.yaml").write_text(
            f"apiVersion: apps/v1\nkind: {kind}\nspec:\n  template:\n    spec:\n"
            f"      containers:\n{listed}\n")
    services = "\n".join(f"  s{i}:\n    image: {ref}" for i, ref in enumerate(tags))
    (root / "compose.yaml").write_text(f"services:\n{services}\n")
    for i, ref in enumerate(tags):
        (root / f"Dockerfile.{i}").write_text(f"FROM {ref}\nRUN true\n")


def _write_policy(path: Path, stack: Stack) -> None:
    path.write_text(f"""\
validators:
- name: default
  type: cosign
  trustRoots:
  - name: default
    keyless:
      issuer: {stack.oidc_issuer_url}
      subject: {stack.default_identity}
policy:
- pattern: "*:*"
""")


def run(ctx: Context) -> list[Row]:
    """Time one ``signer gate`` process over 50 images named 200 times."""
    stack = start_stack(ctx.scratch("stack"))
    try:
        with RegistryClient() as client:
            images = [_push_image(client, ctx.registry.host, 1000 + i) for i in range(IMAGES)]
            sign_images(client, images, SignOptions(
                identity_token=stack.issue_token(), fulcio_url=stack.fulcio_url,
                rekor_url=stack.rekor_url,
                trusted_root=TrustedRoot.from_file(stack.trusted_root_path)))
        root = ctx.scratch("gate-repo")
        _write_repository(root, images)
        policy = ctx.scratch("gate-policy") / "values.yaml"
        _write_policy(policy, stack)
        args = [sys.executable, "-m", "signer", "gate", "--policy", str(policy),
                "--trusted-root", str(stack.trusted_root_path), str(root)]

        def gate(_i: int) -> None:
            done = subprocess.run(args, capture_output=True, timeout=300, check=False)
            if done.returncode != 0 or b"50 images in 200 references: 50 passed" not in done.stderr:
                raise RuntimeError(f"signer gate failed: {done.stderr.decode()[-500:]}")

        samples = ctx.measure(gate)
    finally:
        stack.stop()
    return [
        Row(f"gate: {IMAGES} signed images named 200 times, one signer gate call", samples),
        Row("  images/s (distinct images checked per second)",
            [IMAGES / s for s in samples], unit="img/s"),
        Row("  references/s (file:line places resolved per second)",
            [200 / s for s in samples], unit="ref/s"),
    ]
