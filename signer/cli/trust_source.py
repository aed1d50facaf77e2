"""Where a command's trusted root comes from: ``--trusted-root FILE`` or TUF.

Without ``--trusted-root`` the repository chosen by ``signer initialize`` (public
good if none was) is asked through :mod:`signer.services.tuf`; its notice (the
repository could not be reached, or ``--offline`` data and its age) goes to
stderr. Only the standard library is imported at module level.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signer.services.tuf.client import TufTrust
    from signer.trust import TrustedRoot


def tuf_trust(*, offline: bool = False, ca_bundle: str | None = None) -> TufTrust:
    """The remembered TUF repository's trust material; prints its notice, if any."""
    from signer.services.tuf.cache import cache_base
    from signer.services.tuf.client import load_trust
    from signer.services.tuf.instances import remembered_instance

    base = cache_base()
    trust = load_trust(remembered_instance(base), base, offline=offline, ca_bundle=ca_bundle)
    if trust.notice:
        from signer.output import write_lines

        write_lines(sys.stderr, [trust.notice])
    return trust


def trusted_root(path: str | None, *, offline: bool = False,
                 ca_bundle: str | None = None) -> TrustedRoot:
    """The root in ``path`` if given, else the TUF repository's."""
    from signer.trust import TrustedRoot

    if path:
        return TrustedRoot.from_file(path)
    return tuf_trust(offline=offline, ca_bundle=ca_bundle).trusted_root
