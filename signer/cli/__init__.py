"""Command-line interface (layer L5): argument parsing, output and exit codes."""
