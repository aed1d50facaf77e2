"""A thin adapter from sigstore-conformance's CLI protocol to ``signer verify-blob``.

Usage (as the upstream suite calls a client)::

    python tests/integration/bundle/sigstore_conformance_cli.py verify-bundle \\
        --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL | --key FILE) \\
        [--trusted-root FILE] FILE_OR_DIGEST

``FILE_OR_DIGEST`` is an artifact path or ``sha256:<64 hex>`` (the protocol's only
digest form); anything else, and an existing file whatever its name, is a path.
Signing (``sign-bundle``) is not supported yet and exits 1. The exit status is 0 on
success, non-zero on any failure, as the protocol asks.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def translate(argv: Sequence[str]) -> list[str]:
    """The ``signer`` arguments for a conformance-protocol ``verify-bundle`` call."""
    if not argv or argv[0] != "verify-bundle":
        raise ValueError(f"unsupported conformance command {argv[:1]}")
    args = list(argv[1:])
    if not args or args[-1].startswith("-"):
        raise ValueError("verify-bundle needs an artifact path or digest last")
    target = args.pop()
    if _DIGEST.fullmatch(target) and not os.path.exists(target):
        return ["verify-blob", *args, "--digest", target]
    return ["verify-blob", *args, target]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one conformance-protocol command; return its exit status."""
    from signer.cli.main import main as signer_main

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        translated = translate(argv)
    except ValueError as err:
        sys.stderr.write(f"Error: {err}\n")
        return 1
    return signer_main(translated)


if __name__ == "__main__":
    raise SystemExit(main())
