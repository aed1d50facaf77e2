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
    from signer.signing_config import SigningConfig
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


def signing_trust(path: str | None, *, services_named: bool, ca_bundle: str | None = None
                  ) -> tuple[TrustedRoot, SigningConfig | None]:
    """For signing: the trusted root as :func:`trusted_root` finds it and, when it came
    from a TUF repository other than public good, that repository's signing config.

    A private or staging repository's services go with its trusted root: the embedded
    public-good signing config would send the identity token to public good's Fulcio.
    ``services_named``: the command line named the services (``--signing-config``,
    ``--fulcio-url``, ``--rekor-url``), so none are taken from TUF. Public good keeps
    the embedded signing config (None is returned for it).
    """
    from signer.errors import TrustError
    from signer.services.tuf.instances import PUBLIC_GOOD_MIRROR
    from signer.signing_config import SigningConfig
    from signer.trust import TrustedRoot

    if path:
        return TrustedRoot.from_file(path), None
    tuf = tuf_trust(ca_bundle=ca_bundle)
    if services_named or tuf.mirror == PUBLIC_GOOD_MIRROR:
        return tuf.trusted_root, None
    if tuf.signing_config is None:
        raise TrustError(f"the TUF repository {tuf.mirror} publishes no signing config, "
                         "so signer cannot tell which Fulcio and Rekor go with its trust",
                         hint="pass --signing-config FILE, or --fulcio-url and --rekor-url")
    return tuf.trusted_root, SigningConfig.from_bytes(
        tuf.signing_config, source=f"signing config of the TUF repository {tuf.mirror}")
