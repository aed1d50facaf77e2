#!/usr/bin/env bash
# Installs what the demo and the tests need: Debian's docker-registry, skopeo and jq
# (if missing) and a virtual environment with signer and its test extras.
# Sourced by .ci/demo.sh and .ci/test.sh; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need_apt=()
command -v docker-registry >/dev/null 2>&1 || need_apt+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need_apt+=(skopeo)
command -v jq >/dev/null 2>&1 || need_apt+=(jq)  # the selftest cleanup step's test
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)  # sigstore-js, tests/js
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Debian's package may start a system registry on :5000; nothing here uses it.

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.signer-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing signer and its test extras into .venv" >&2
  # compat mode: the editable install is a plain path entry, as an installed wheel
  # would be found, instead of setuptools' import hook, which costs every Python
  # process ~10 ms at start-up (pathlib and friends), CLI runs in tests and bench alike
  .venv/bin/python -m pip install -q --disable-pip-version-check \
    --config-settings editable_mode=compat -e '.[test]'
  touch "$stamp"
fi
# Byte-compile the package, as pip does when it installs a wheel: where the
# environment sets PYTHONDONTWRITEBYTECODE (this one does), every signer process of
# the tests, demo and bench would otherwise compile its modules anew (~30 ms each).
# Up-to-date files are skipped; a stale .pyc is never used (Python checks the source).
.venv/bin/python -m compileall -q -j 0 signer entrypoint.py >/dev/null
# sigstore-js (@sigstore/verify), the tests' independent JavaScript verifier: the
# versions package-lock.json pins (integrity-checked), no install scripts run.
js_stamp=tests/js/node_modules/.signer-installed
if [ ! -f "$js_stamp" ] || [ tests/js/package-lock.json -nt "$js_stamp" ]; then
  echo "setup: npm ci in tests/js" >&2
  (cd tests/js && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$js_stamp"
fi
# The action's install step as action.yml writes it, for the action's tests and the demo.
bash .ci/action-venv.sh
