"""OCI registry access: references in, manifests and blobs out (layer L3).

``client`` (the distribution-spec client), ``auth`` (challenges and tokens),
``credentials`` (keychains), ``failures`` (errors with hints), ``mediatypes``.
"""
