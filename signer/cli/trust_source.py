"""Where a command's trusted root and signing config come from: files or TUF.

Without ``--trusted-root`` the repository chosen by ``signer initialize`` (public
good if none was) is asked through :mod:`signer.services.tuf`; its notice (the
repository could not be reached, or ``--offline`` data and its age) goes to
stderr. ``sign`` and ``sign-blob`` take the signing config from the same update
when neither ``--trusted-root`` nor ``--signing-config`` is given. Only the standard
library is imported at module level.
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


def signing_material(trusted_root_path: str | None, signing_config_path: str | None, *,
                     services_named: bool, needs_trust: bool, ca_bundle: str | None = None
                     ) -> tuple[TrustedRoot | None, SigningConfig | None]:
    """The trusted root and signing config of ``sign`` and ``sign-blob``.

    Each comes from its file when given. With neither file, both come from one update
    of the TUF repository, the signing config unless ``--fulcio-url``/``--rekor-url``
    name the services (``services_named``: only those are used); see
    :func:`signer.services.tuf.client.signing_config_for`. No trusted root
    is loaded when nothing is checked against one (``needs_trust`` False: a key
    signature kept out of the log).
    """
    from signer.services.tuf.client import signing_config_for
    from signer.signing_config import SigningConfig
    from signer.trust import TrustedRoot

    config = SigningConfig.from_file(signing_config_path) if signing_config_path else None
    if trusted_root_path:
        return TrustedRoot.from_file(trusted_root_path), config
    if not needs_trust:
        return None, config
    tuf = tuf_trust(ca_bundle=ca_bundle)
    if config is None and not services_named:
        config = signing_config_for(tuf)
    return tuf.trusted_root, config

