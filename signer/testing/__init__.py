"""Local, protocol-faithful test infrastructure: a real registry launcher and a local
Sigstore stack. Used by the tests and the demo; never used unless asked for.

The Sigstore stack (``signer.testing.stack.start_stack(dir) -> Stack``) runs in process
on free 127.0.0.1 ports:

- ``oidc_server``: OIDC issuer (discovery, JWKS, RS256 GitHub Actions tokens) and the
  GitHub ``ACTIONS_ID_TOKEN_REQUEST_URL``-style endpoint;
- ``fulcio_server`` + ``ca`` + ``fulcio_identity`` + ``ctlog``: Fulcio v2 REST issuing
  Fulcio-profile leaves from a P-384 root -> intermediate chain with an embedded SCT;
- ``rekor_server`` + ``rekor_log`` + ``rekor_types`` + ``merkle``: Rekor v1 (hashedrekord
  and dsse 0.0.1) over an sqlite-persisted RFC 6962 tree, with SETs and checkpoints;
- ``rekor_v2`` + ``rekor_v2_server``: Rekor v2 (rekor-tiles: hashedrekord 0.0.2, C2SP
  Ed25519 checkpoints, the tile read API), in memory;
- ``tsa`` + ``tsa_server`` + ``der``: an RFC 3161 timestamp authority;
- ``trust_material``: ``trusted_root.json``, the signing configs and the client trust
  configs;
- ``httpbase``: the threaded HTTP base with fault knobs.

``python -m signer.testing up --dir DIR [--with-registry]`` runs it until SIGTERM and
writes ``DIR/stack.json``. Importing this package imports nothing heavy.
"""
