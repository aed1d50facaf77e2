"""signer gate's pure parts (layer L2): Connaisseur policies, rule matching, the
images that files deploy, and the verdict over verification outcomes."""
