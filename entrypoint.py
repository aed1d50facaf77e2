"""The GitHub Action's entry point: ``action.yml`` runs this file.

The inputs arrive in ``INPUT_*`` environment variables (never interpolated into a
script); the work is done by :mod:`signer.action` (this file's directory, the action's
checkout, is first on ``sys.path``, so that is this checkout's ``signer`` package).
"""

from signer.action.run import main

if __name__ == "__main__":
    raise SystemExit(main())
