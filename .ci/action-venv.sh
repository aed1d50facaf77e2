#!/usr/bin/env bash
# The action's own install step, exactly as action.yml has it (run through the runner
# emulator, with this machine's python3 in place of actions/setup-python): a venv under
# .action-runner/ holding the hash-locked requirements. The action's tests and the demo
# run entrypoint.py with its interpreter, as a runner does. Called by .ci/setup.sh;
# needs the package index when the lock or action.yml changed; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp=.action-runner/.installed
if [ ! -f "$stamp" ] || [ .github/action-requirements.txt -nt "$stamp" ] || [ action.yml -nt "$stamp" ]; then
  echo "setup: running the action's install step (venv in .action-runner/)" >&2
  rm -rf .action-runner
  .venv/bin/python -m signer.testing.runner --install \
    --python "$(command -v "${PYTHON:-python3}")" >/dev/null
  touch "$stamp"
fi
