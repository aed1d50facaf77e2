"""Sigstore trust material through TUF (layer L3): python-tuf's ngclient, cached.

The trusted root (``trusted_root.json``) and the signing config
(``signing_config.v0.2.json``) are targets of a TUF repository: public good
(``https://tuf-repo-cdn.sigstore.dev``), staging, or a private one set up with
``signer initialize``. :func:`signer.services.tuf.client.load_trust` walks the
repository with python-tuf's ngclient (root rotation, rollback, freeze and
mix-and-match protection, bounded downloads), caches it per repository URL and
returns the parsed :class:`signer.trust.TrustedRoot` with the signing config bytes;
nothing above this layer knows where they came from.

Modules: :mod:`.instances` (which repository, its bootstrap root), :mod:`.cache`
(directories, lock, atomic writes, refresh record), :mod:`.fetcher` (HTTP with
timeouts over :mod:`signer.http`, falling back to the cache when the repository
cannot be reached), :mod:`.client` (the update and the failure policy).
"""
