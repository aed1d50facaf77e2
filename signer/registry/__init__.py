"""OCI registry access: references in, manifests and blobs out (layer L3).

``client`` (the distribution-spec client), ``auth`` (challenges and tokens),
``credentials`` (keychains), ``failures`` (errors with hints), ``mediatypes``,
``probe`` (does a local registry's port speak TLS?); for ``signer push``: ``sources``
(local images to push), ``archives`` (image tars), ``push`` (the push order).
"""
