"""signer: keyless Sigstore signing and cosign-compatible verification of container images."""

__version__ = "0.1.0"
