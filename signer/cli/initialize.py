"""``signer initialize [--mirror URL] [--root FILE] [--staging]``: choose a TUF repository.

As ``cosign initialize``: the repository's metadata is fetched and verified now
(from the embedded public-good or staging ``root.json``, or the ``--root`` given),
cached, and remembered, so that ``sign``, ``verify`` and ``verify-blob`` take their
trusted root from it whenever ``--trusted-root`` is not given. The cache lives in
``$TUF_ROOT`` (else the user cache directory).
"""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  signer initialize                         # public good (the default without initialize)
  signer initialize --staging               # Sigstore's staging instance
  signer initialize --mirror https://tuf.example.com --root root.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """cosign initialize's flags."""
    parser.add_argument("--mirror", metavar="URL",
                        help="TUF repository URL (default: https://tuf-repo-cdn.sigstore.dev)")
    parser.add_argument("--root", metavar="FILE",
                        help="the repository's root.json to trust first (default: the "
                             "embedded root of public good or staging)")
    parser.add_argument("--staging", action="store_true",
                        help="use Sigstore's staging repository")


def run(args: argparse.Namespace) -> int:
    """Fetch, verify, cache and remember the repository; print a summary."""
    import sys

    from signer.output import write_lines
    from signer.services.tuf.cache import cache_base, repository_dir
    from signer.services.tuf.client import load_trust
    from signer.services.tuf.instances import choose_instance, remember

    instance = choose_instance(args.mirror, args.root, args.staging)
    base = cache_base()
    trust = load_trust(instance, base)
    if trust.notice:
        write_lines(sys.stderr, [trust.notice])
    remember(base, instance)
    root = trust.trusted_root
    cas, tsas = len(root.certificate_authorities), len(root.timestamp_authorities)
    write_lines(sys.stderr, [
        f"Initialized TUF repository {instance.mirror}",
        f"  cache: {repository_dir(base, instance.mirror)}",
        f"  trusted root: {len(root.tlogs)} transparency log(s), {len(root.ctlogs)} CT "
        f"log(s), {cas} certificate authorit{'y' if cas == 1 else 'ies'}, "
        f"{tsas} timestamp authorit{'y' if tsas == 1 else 'ies'}",
        f"  signing config: {'yes' if trust.signing_config is not None else 'none published'}"])
    return 0
