"""Local, protocol-faithful test infrastructure: a real registry launcher and a local
Sigstore stack. Used by the tests and the demo; never used unless asked for."""
