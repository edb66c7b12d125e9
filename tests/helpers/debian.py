"""The Debian packages the tests run for real (PostgreSQL, nginx, Redis; ``scripts/test.sh``
installs them): where a binary is, and what a test does when one is missing."""
from __future__ import annotations

import os
import shutil
from typing import NoReturn


def binary(name: str, debian_path: str) -> str | None:
    """``name`` on PATH, else where Debian's package puts it (``/usr/sbin`` is not on every
    PATH), else None."""
    return shutil.which(name) or (debian_path if os.path.exists(debian_path) else None)


def missing(what: str) -> NoReturn:
    """``what`` is not installed: the test fails in CI (scripts/test.sh installs it there) and is
    skipped with the reason elsewhere."""
    import pytest

    reason = f"{what} is not installed (scripts/test.sh installs it)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)
