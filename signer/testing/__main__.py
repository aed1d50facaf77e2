"""``python -m signer.testing up --dir DIR [--with-registry]``: run the local stack.

Starts the local Sigstore stack (and optionally a local registry) on free loopback
ports, writes ``DIR/stack.json`` (mode 0600), prints its path, and runs until SIGTERM
or SIGINT (exit code 0). ``stack.json`` fields:

- ``oidc_issuer_url``, ``email_issuer_url``: token issuers (``iss``);
- ``token_request_url``, ``token_request_token``: the GitHub-style token endpoint
  (``ACTIONS_ID_TOKEN_REQUEST_URL`` / ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``);
- ``identity_token``: a ready-made ``aud=sigstore`` token, rewritten every minute;
- ``certificate_identity``, ``certificate_oidc_issuer``: what its certificates carry;
- ``fulcio_url``, ``rekor_url``, ``ct_log_url``, ``rekor_log_id``, ``rekor_tree_id``,
  ``rekor_checkpoint_origin``, ``ct_log_id``;
- ``rekor_v2_url``, ``rekor_v2_log_id`` (Rekor v2, tiles), ``tsa_url`` (RFC 3161 POST URL);
- ``trusted_root_path``, ``signing_config_path`` (Rekor v1, no TSA),
  ``client_trust_config_path``; ``signing_config`` (``signing_config.v0.2.json``:
  Rekor v1 and v2 and the TSA), ``signing_config_rekor_v1`` (Rekor v1 and the TSA),
  ``client_trust_config_v02_path``;
- ``tuf_url``, ``tuf_root``: the stack's TUF repository (serving the trusted root and
  signing config) and the path of its ``1.root.json``, for ``signer initialize``;
- ``directory``, ``pid``, ``startup_seconds``; with ``--with-registry`` also
  ``registry_url`` and ``registry_host``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

TOKEN_REFRESH_SECONDS = 60.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m signer.testing")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the local Sigstore stack until SIGTERM")
    up.add_argument("--dir", required=True, type=Path, help="state and stack.json directory")
    up.add_argument(
        "--with-registry", action="store_true", help="also start a local docker-registry"
    )
    up.add_argument(
        "--rekor-index-offset",
        type=int,
        default=0,
        help="global index of the first entry (simulates earlier Rekor shards)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    from signer.testing.stack import start_stack

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    started = time.monotonic()
    registry = None
    try:
        with start_stack(args.dir, rekor_index_offset=args.rekor_index_offset) as stack:
            extra: dict[str, object] = {}
            if args.with_registry:
                from signer.testing.registry import start_registry

                registry = start_registry(args.dir / "registry")
                extra = {"registry_url": registry.url, "registry_host": registry.host}
            extra["startup_seconds"] = round(time.monotonic() - started, 3)
            path = stack.write_stack_json(extra)
            print(path, flush=True)
            # Tokens live 5 minutes: keep the ready-made one in stack.json fresh.
            while not stop.wait(TOKEN_REFRESH_SECONDS):
                stack.write_stack_json(extra)
    finally:
        if registry is not None:
            registry.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
