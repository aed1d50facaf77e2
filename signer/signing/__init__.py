"""The signing flow's parts (layer L4); :mod:`signer.sign` is the public entry point.

- :mod:`.identity`: keyless (token -> ephemeral key -> Fulcio -> checked chain/SCT)
  or key-based signer identities;
- :mod:`.transparency`: the Rekor upload and the checks on what Rekor returns;
- :mod:`.publish`: read-merge-write of the ``.sig`` image with dedupe and races;
- :mod:`.store`: the registry operations the flow needs (a Protocol).
"""
