"""Waiting for something another thread or process does, with a deadline and a clear failure."""
from __future__ import annotations

import time


def wait_until(check, timeout: float, what: str, every: float = 0.05):
    """``check()``'s first true answer, asked every ``every`` s; fails naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
