"""Pure verification (layer L2): no network imports here.

One function per check (``checks``), identity policies (``policy``), certificate
chains (``chain``), SCTs (``sct``), Fulcio certificate fields (``certs``), and the
per-signature driver (``verifier``). Transparency-log and TSA checks are in
``tlog`` and ``tsa``.
"""
