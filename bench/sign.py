"""Signing figures: 20 images keyless against the local Sigstore stack.

* sign 20 images one by one (20 ``sign_images`` calls: 20 tokens, 20 Fulcio
  certificates, 20 Rekor entries, 20 ``.sig`` writes) and in one call (one
  certificate, 20 Rekor entries and ``.sig`` writes overlapped in a thread pool);
* per-image latency of the one-by-one run split into its parts, from the timings
  the library records: Fulcio (certificate request), Rekor (upload + checks of the
  answer), registry (tag resolution + read-merge-write of the ``.sig``), crypto
  (key generation, payload, signature, chain/SCT checks) and the rest (own
  overhead: token parsing, thread pool, bookkeeping).

No peer tool: cosign cannot be installed here.
"""

from __future__ import annotations

import json
import statistics
import time

from bench.harness import Context, Row
from signer.reference import Reference, parse_reference
from signer.registry.client import RegistryClient
from signer.sign import SignOptions, SignResult, sign_images
from signer.testing.images import write_oci_layout
from signer.testing.stack import Stack, start_stack
from signer.trust import TrustedRoot

IMAGES = 20
PARTS = ("fulcio", "rekor", "registry", "crypto")


def _push_images(ctx: Context, client: RegistryClient, who: str) -> list[Reference]:
    refs = []
    base = ctx.scratch(f"sign-{who}")
    for i in range(IMAGES):
        image = write_oci_layout(base / f"img{i}", seed=f"bench-sign-{who}-{i}", tag="v1")
        ref = parse_reference(f"{ctx.registry.host}/bench-sign-{who}/img{i}:v1")
        for digest, blob in image.blobs.items():
            client.upload_blob(ref, blob, digest)
        assert image.manifest is not None and image.media_type is not None
        client.put_manifest(ref, image.manifest, image.media_type)
        refs.append(ref)
    return refs


def _options(stack: Stack, trust: TrustedRoot) -> SignOptions:
    return SignOptions(identity_token=stack.issue_token(), fulcio_url=stack.fulcio_url,
                       rekor_url=stack.rekor_url, trusted_root=trust)


def run(ctx: Context) -> list[Row]:
    """Measure and return the signing rows."""
    stack = start_stack(ctx.scratch("sigstore-stack"))
    try:
        trust = TrustedRoot.from_file(stack.trusted_root_path)
        with RegistryClient(insecure=(ctx.registry.host,)) as client:
            one_refs = _push_images(ctx, client, "one")
            batch_refs = _push_images(ctx, client, "batch")
            per_image: list[SignResult] = []
            per_image_wall: list[float] = []

            def one_by_one(_round: int) -> None:
                for ref in one_refs:
                    started = time.perf_counter()
                    [result] = sign_images(client, [ref], _options(stack, trust))
                    per_image_wall.append(time.perf_counter() - started)
                    per_image.append(result)

            def one_call(_round: int) -> None:
                results = sign_images(client, batch_refs, _options(stack, trust))
                assert len(results) == IMAGES

            serial = ctx.measure(one_by_one)
            batch = ctx.measure(one_call)
    finally:
        stack.stop()
    rows = [Row(f"sign {IMAGES} images keyless, one call per image", serial),
            Row(f"sign {IMAGES} images keyless, one call", batch),
            Row("per image (one by one): total", per_image_wall)]
    for part in PARTS:
        rows.append(Row(f"per image: {part}", [r.timings.get(part, 0.0) for r in per_image]))
    own = [wall - sum(r.timings.get(p, 0.0) for p in PARTS)
           for wall, r in zip(per_image_wall, per_image, strict=True)]
    rows.append(Row("per image: own overhead (rest)", own))
    summary = {part: statistics.median(r.timings.get(part, 0.0) for r in per_image)
               for part in PARTS}
    print(f"[bench] sign per-image medians: {json.dumps(summary)}")
    return rows
