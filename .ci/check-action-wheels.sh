#!/usr/bin/env bash
# CI check (needs the package index, so not a unit test): every pin of the action's
# lock, .github/action-requirements.txt, has a wheel whose hash is locked on every
# platform the lock's "# platforms:" line names, for CPython 3.11-3.13 -- what
# `pip install --require-hashes --only-binary=:all:` would fetch on such a runner.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec "${PYTHON:-python3}" .ci/action_lock.py --check
