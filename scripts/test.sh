#!/usr/bin/env bash
# Sets up everything the tests need on a fresh Debian machine, then runs them.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k ingest`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium chromium-driver fonts-dejavu-core)  # player, recap.js
command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
  || missing+=(postgresql)  # the same stories on PostgreSQL (tests/test_postgres.py)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] \
  || missing+=(nginx)  # the production front the fault tests start and attack (tests/faults/)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] \
  || missing+=(redis-server)  # the job queue shared by workers (tests/test_jobs_scale.py)
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr)  # reads a share video's text back (tests/test_share_video.py)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)  # eslint and the JS build check (tests/test_js_tooling.py)
# cards and videos in every script: Manrope, then Noto glyph by glyph (widget_server/share/glyphs.py)
[ -f /usr/share/fonts/truetype/noto/NotoSansArabic-Bold.ttf ] || missing+=(fonts-noto-core)
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc ] || missing+=(fonts-noto-cjk)
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

install_recap test

echo "==> installing the pinned JS tools (eslint, esbuild) into node_modules/"
npm ci --no-audit --no-fund --loglevel=error

echo "==> running the tests"
# The tests not marked `alone`, in parallel: pytest-xdist, one worker per core (RECAP_TEST_WORKERS
# sets the number; 0 runs them in this process), each worker taking whole files so a module's
# fixtures are built once. Then the tests marked `alone`, in one process with nothing beside them:
# tests/faults/ (they time requests under load they make themselves) and the few whose result
# depends on getting the CPU on time (docs/TESTING.md). A part with nothing selected (exit 5) is
# not a failure.
status=0
.venv/bin/python -m pytest -n "${RECAP_TEST_WORKERS:-auto}" --dist loadfile -m "not alone" "$@" || status=$?
[ "$status" -eq 5 ] && status=0
alone=0
.venv/bin/python -m pytest -m alone "$@" || alone=$?
[ "$alone" -eq 5 ] && alone=0
[ "$status" -ne 0 ] && exit "$status"
exit "$alone"
