#!/usr/bin/env bash
# Sets up Recap on a fresh machine and runs the demo on the embedded SQLite default:
# two apps (Soundwave, Lingo) get a year of events through the Python SDK, then the widget
# server and a demo host page serve their stories. Extra arguments go to the demo, e.g.
# `bash scripts/demo.sh --users 100 --port 8100` (see `python -m demo_app --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

install_recap server,predict

echo "==> running the demo (instance/demo)"
exec .venv/bin/python -m demo_app "$@"
