"""`python -m signer` runs the command-line interface."""

from signer.cli.main import entry

entry()
