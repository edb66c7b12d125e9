"""The browser scripts' sources in js/: eslint finds nothing, and the two committed bundles
(sdk/js/recap.js, the player's player.js) are exactly a fresh build of them.

Both need the pinned npm packages in node_modules/ (``npm ci``; scripts/test.sh runs it).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "node_modules" / ".bin"


def run(*command: str) -> subprocess.CompletedProcess:
    assert shutil.which("node"), "node is needed to lint and build the browser scripts"
    assert (BIN / "eslint").exists() and (BIN / "esbuild").exists(), (
        "the pinned npm packages are missing: run `npm ci` (scripts/test.sh does)")
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_eslint_finds_nothing_in_the_javascript():
    result = run(str(BIN / "eslint"), "--max-warnings", "0", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_committed_bundles_are_a_fresh_build_of_js():
    """recap.js and player.js are built from one source tree, so what they share (the batch
    queue, the ids, the window.Recap glue) is written once: a bundle edited by hand, or sources
    changed without a build, fail here."""
    result = run("node", "js/build.mjs", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_what_both_scripts_share_is_in_one_source():
    shared = {p.stem for p in (ROOT / "js" / "shared").glob("*.js")}
    assert {"batch_queue", "ids", "recap_global", "storage"} <= shared
    for entry in ("recap", "player"):
        text = "\n".join(p.read_text() for p in (ROOT / "js" / entry).glob("*.js"))
        for name in ("function extendRecap", "function uuid", "sendBeacon", "class BatchQueue"):
            assert name not in text, f"{name} is written again in js/{entry}/"
