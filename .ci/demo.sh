#!/usr/bin/env bash
# The README's main job: a full round trip against a local registry and the local
# Sigstore stack, started and stopped by the demo itself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source .ci/setup.sh
exec .venv/bin/python -m signer.testing.demo "$@"
