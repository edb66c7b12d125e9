"""Housekeeping a request does now and then: at most once every so many seconds per process."""
from __future__ import annotations

import time

from flask import current_app


def due(name: str, every_seconds: float) -> bool:
    """Whether the work ``name`` is due in this process; if so, it is not again for ``every_seconds``."""
    state = current_app.extensions.setdefault(f"recap.{name}", {"next": 0.0})
    now = time.monotonic()
    if now < state["next"]:
        return False
    state["next"] = now + every_seconds
    return True
