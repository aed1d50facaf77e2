"""Wire formats (layer L2): building and parsing, no I/O."""
