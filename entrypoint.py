"""The GitHub Action's entry point (filled in by the action work)."""

from __future__ import annotations


def main() -> int:
    """Run the action; returns the process exit code."""
    raise SystemExit("the action is not implemented yet")


if __name__ == "__main__":
    raise SystemExit(main())
