"""The Python code's habits: ruff (pyflakes, pycodestyle, import order, bugbear, pyupgrade) finds
nothing anywhere in the repository, and mypy finds nothing in sdk/ and widget_server/ (strict for
the SDK and the store). Both read their settings from pyproject.toml and come with the ``test``
extra; they run from the interpreter running the tests, so the pinned versions are the ones used.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_ruff_finds_nothing():
    result = run("ruff", "check", "--no-fix", "--output-format", "concise", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing():
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
