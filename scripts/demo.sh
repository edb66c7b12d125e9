#!/usr/bin/env bash
# Sets up Recap on a fresh machine and runs the demo on the embedded SQLite default.
# Extra arguments go to the demo, e.g. `bash scripts/demo.sh --port 8001`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
echo "==> installing recap with its server extra"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[server]'

export RECAP_INSTANCE_PATH="${RECAP_INSTANCE_PATH:-$PWD/instance/demo}"
if ! .venv/bin/recap apps list | grep -q $'\tDemo\t'; then
  .venv/bin/recap apps create Demo | tee "$RECAP_INSTANCE_PATH/demo-keys.txt"
else
  echo "==> app Demo exists; its keys were printed when it was made ($RECAP_INSTANCE_PATH/demo-keys.txt)"
fi
exec .venv/bin/recap run --host 127.0.0.1 --port "${PORT:-8000}" "$@"
