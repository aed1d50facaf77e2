#!/usr/bin/env bash
# The README's test command: lint, type-check and run every test (slow ones too).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source .ci/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff" >&2
ruff check signer tests bench entrypoint.py
echo "== mypy --strict" >&2
mypy --strict signer entrypoint.py
if [ -f .ci/lint-action.sh ]; then
  echo "== action and workflow lint" >&2
  bash .ci/lint-action.sh
fi
echo "== pytest" >&2
exec pytest -q -p no:cacheprovider "$@"
