"""``signer verify-blob`` against ``sigstore verify identity``: one process per bundle.

What a release engineer runs in a CI step: one command that verifies one file against
its bundle, start-up included. The cases are the passing conformance bundles signed
by the public-good or staging instance (the trusted roots sigstore-python's CLI carries
itself, so it runs with ``--offline`` and no configuration); ours gets the same
trusted root file through ``--trusted-root``. Both tools must accept every case once
before anything is timed; a round runs every case once with each tool, alternating.
Figures are per process (median over rounds of the round's mean).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.bundles import CORPUS
from bench.harness import Context, Row

#: upper bound on one command in a benchmark round
COMMAND_TIMEOUT = 120

_INSTANCES = {"public-good-trusted_root.json": [], "staging-trusted_root.json": ["--staging"]}


def _commands(case: Path) -> tuple[list[str], list[str]] | None:
    """(ours, sigstore-python's) command lines for one case, or None if not comparable."""
    expected = json.loads((case / "expected.json").read_text())
    root = (case / expected["trusted_root"]).resolve()
    if expected["expect"] != "pass" or expected["mode"] != "bundle-identity" or (
            root.name not in _INSTANCES):
        return None
    bundle = str(case / "bundle.json")
    identity, issuer = expected["identity"], expected["issuer"]
    if expected.get("artifact"):
        ours_input = [str(case / expected["artifact"])]
        peer_input = str(case / expected["artifact"])
    else:
        ours_input = ["--digest", expected["artifact_digest"]]
        peer_input = expected["artifact_digest"]
    ours = [sys.executable, "-m", "signer", "verify-blob", "--bundle", bundle,
            "--trusted-root", str(root), "--certificate-identity", identity,
            "--certificate-oidc-issuer", issuer, *ours_input]
    sigstore = shutil.which("sigstore", path=str(Path(sys.executable).parent)) or "sigstore"
    peer = [sigstore, *_INSTANCES[root.name], "verify", "identity", "--offline",
            "--bundle", bundle, "--cert-identity", identity, "--cert-oidc-issuer", issuer,
            peer_input]
    return ours, peer


def _run(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, timeout=COMMAND_TIMEOUT, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {done.stderr.decode()[-300:]}")
    return elapsed


def run(ctx: Context) -> list[Row]:
    """Per-process verify-blob time, ours against sigstore-python's CLI."""
    if not (CORPUS / "bundles").is_dir():
        return []
    pairs = []
    for case in sorted((CORPUS / "bundles").iterdir()):
        commands = _commands(case)
        if commands is None:
            continue
        try:  # both must accept the case before it is timed
            _run(commands[0])
            _run(commands[1])
        except RuntimeError:
            continue  # sigstore-python rejects a few upstream-valid bundles
        pairs.append(commands)
    if not pairs:
        return []
    ours, peer = [], []
    for _ in range(max(1, ctx.repeat)):
        ours_round = peer_round = 0.0
        for ours_command, peer_command in pairs:
            ours_round += _run(ours_command)
            peer_round += _run(peer_command)
        ours.append(ours_round / len(pairs))
        peer.append(peer_round / len(pairs))
    return [Row(f"signer verify-blob, one process per bundle ({len(pairs)} public-good and "
                "staging bundles)", ours, peer, peer_name="sigstore verify identity")]
