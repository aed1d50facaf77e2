"""A thin adapter from sigstore-conformance's CLI protocol to ``signer verify-blob``.

Usage (as the upstream suite calls a client)::

    python tests/integration/bundle/sigstore_conformance_cli.py verify-bundle \\
        --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL | --key FILE) \\
        [--trusted-root FILE] FILE_OR_DIGEST

    python tests/integration/bundle/sigstore_conformance_cli.py sign-bundle [--in-toto] \\
        --identity-token TOKEN --bundle FILE [--trusted-root FILE] \\
        [--signing-config FILE] FILE

``FILE_OR_DIGEST`` is an artifact path or ``sha256:<64 hex>`` (the protocol's only
digest form); anything else, and an existing file whatever its name, is a path.
``sign-bundle`` becomes ``signer sign-blob`` (the token goes through
``SIGSTORE_ID_TOKEN``, not argv); with ``--in-toto`` FILE is an in-toto statement,
signed as it is into a DSSE bundle by ``signer attest-blob --statement FILE``.
``--staging`` is not supported and exits 1. The exit status is 0 on success,
non-zero on any failure, as the protocol asks.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def translate_sign(argv: Sequence[str]) -> tuple[list[str], str]:
    """The ``signer sign-blob`` arguments and the identity token of a ``sign-bundle``."""
    args = list(argv[1:])
    token = ""
    in_toto = False
    translated = ["sign-blob"]
    while args:
        flag = args.pop(0)
        if flag == "--staging":
            raise ValueError(f"sign-bundle {flag} is not supported")
        if flag == "--in-toto" and not in_toto:
            in_toto = True
        elif flag == "--identity-token" and args:
            token = args.pop(0)
        elif flag in ("--bundle", "--trusted-root", "--signing-config") and args:
            translated += [flag, args.pop(0)]
        elif not flag.startswith("-") and not args:
            translated.append(flag)
        else:
            raise ValueError(f"sign-bundle: unexpected argument {flag!r}")
    if not token or "--bundle" not in translated or translated[-1].startswith("-"):
        raise ValueError("sign-bundle needs --identity-token, --bundle and a file")
    if in_toto:  # the file is the statement to sign
        translated = ["attest-blob", *translated[1:-1], "--statement", translated[-1]]
    return translated, token


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
    token: str | None = None
    try:
        if argv[:1] == ["sign-bundle"]:
            translated, token = translate_sign(argv)
        else:
            translated = translate(argv)
    except ValueError as err:
        sys.stderr.write(f"Error: {err}\n")
        return 1
    if token is None:
        return signer_main(translated)
    previous = os.environ.get("SIGSTORE_ID_TOKEN")
    os.environ["SIGSTORE_ID_TOKEN"] = token
    try:
        return signer_main(translated)
    finally:  # the token must not outlive this call (in-process callers, tests)
        if previous is None:
            del os.environ["SIGSTORE_ID_TOKEN"]
        else:
            os.environ["SIGSTORE_ID_TOKEN"] = previous


if __name__ == "__main__":
    raise SystemExit(main())
