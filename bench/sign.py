"""Signing figures: 20 images keyless against the local Sigstore stack.

* sign 20 images one by one (20 ``sign_images`` calls: 20 tokens, 20 Fulcio
  certificates, 20 Rekor entries, 20 ``.sig`` writes) and in one call (one
  certificate, 20 Rekor entries and ``.sig`` writes overlapped in a thread pool), in
  the default ``both`` format: each image also gets a DSSE bundle (a second Rekor
  entry, a local verification of the bundle) stored as a referrer with the
  referrers tag index merged;
* per-image latency of the one-by-one run split into its parts, from the timings
  the library records: Fulcio (certificate request), Rekor (upload + checks of the
  answer), registry (tag resolution + read-merge-write of the ``.sig``), crypto
  (key generation, payload, signature, chain/SCT checks). Each part is the sum over
  the ``.sig`` and bundle halves, which run at the same time (signer.sign._sign_both),
  so the parts add up to more than the wall time and no "rest" is derived from them;
* own overhead per image (target < 20 ms): the one-by-one wall time minus the time
  spent waiting on Fulcio, Rekor and the registry. Waiting is measured, not
  estimated: every HTTP exchange through :func:`signer.http.new_session`'s adapter
  (request sent to response headers and body read by urllib3) and the ``.sig``
  settle/back-off sleeps of :mod:`signer.signing.publish` are recorded as intervals;
  their union inside the image's wall window is subtracted. Everything else -- our
  crypto, certificate, SCT, SET and inclusion-proof checks, JSON, request building --
  is own overhead.

No peer tool: cosign cannot be installed here.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

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


class _WaitRecorder:
    """Intervals (start, end) spent waiting on the network or a publish sleep."""

    def __init__(self) -> None:
        self.intervals: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def add(self, start: float, end: float) -> None:
        with self._lock:
            self.intervals.append((start, end))

    def waited(self, start: float, end: float) -> float:
        """Seconds of [start, end] covered by at least one recorded interval."""
        with self._lock:
            spans = sorted((max(a, start), min(b, end)) for a, b in self.intervals
                           if b > start and a < end)
        total, reach = 0.0, start
        for a, b in spans:
            if b > reach:
                total += b - max(a, reach)
                reach = b
        return total


@contextmanager
def _recording_waits(recorder: _WaitRecorder) -> Iterator[None]:
    """Record HTTP exchanges (our session adapter) and the publishers' settle/back-off
    sleeps (``.sig`` and bundle referrer) while active."""
    import signer.http
    import signer.signing.publish as publish
    import signer.signing.referrer_publish as referrer_publish

    adapter = signer.http._TimeoutAdapter
    original_send = adapter.send
    original_time = getattr(publish, "time")  # noqa: B009 (not re-exported: patched here)

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            response = original_send(self, request, **kwargs)
            _ = response.content  # the body is part of the wait (streamed bodies too)
            return response
        finally:
            recorder.add(started, time.perf_counter())

    def sleep(seconds: float) -> None:
        started = time.perf_counter()
        original_time.sleep(seconds)
        recorder.add(started, time.perf_counter())

    adapter.send = send  # type: ignore[method-assign]
    recording = SimpleNamespace(perf_counter=time.perf_counter, sleep=sleep,
                                monotonic=time.monotonic, time=time.time)
    setattr(publish, "time", recording)  # noqa: B010
    setattr(referrer_publish, "time", recording)  # noqa: B010
    try:
        yield
    finally:
        adapter.send = original_send  # type: ignore[method-assign]
        setattr(publish, "time", original_time)  # noqa: B010
        setattr(referrer_publish, "time", original_time)  # noqa: B010


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
            per_image_own: list[float] = []
            recorder = _WaitRecorder()

            def one_by_one(_round: int) -> None:
                with _recording_waits(recorder):
                    for ref in one_refs:
                        options = _options(stack, trust)  # minting the test token is not ours
                        started = time.perf_counter()
                        [result] = sign_images(client, [ref], options)
                        ended = time.perf_counter()
                        per_image_wall.append(ended - started)
                        per_image_own.append(ended - started - recorder.waited(started, ended))
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
        rows.append(Row(f"per image: {part} (.sig + bundle halves, concurrent)",
                        [r.timings.get(part, 0.0) for r in per_image]))
    rows.append(Row("per image: own overhead = wall - network/settle waits (target < 20 ms)",
                    per_image_own))
    summary = {part: statistics.median(r.timings.get(part, 0.0) for r in per_image)
               for part in PARTS}
    print(f"[bench] sign per-image medians: {json.dumps(summary)}")
    return rows
