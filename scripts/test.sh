#!/usr/bin/env bash
# Sets up everything the tests need on a fresh Debian machine, then runs them.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k ingest`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  echo "==> installing Debian's chromium (for the player and recap.js browser tests)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver fonts-dejavu-core >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
echo "==> installing recap with its test extra"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

echo "==> running the tests"
exec .venv/bin/python -m pytest "$@"
