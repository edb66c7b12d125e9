"""Audiences kept fresh on the queue: every hour each app with audiences gets a job refreshing
all of them (audiences/refresh.py), so apps refresh side by side on several workers."""
from __future__ import annotations

import logging

from ..audiences import refresh
from .queue import crontab, enqueue, job

log = logging.getLogger(__name__)


@job("refresh_audiences", periodic=crontab(minute="23"))
def refresh_audiences() -> int:
    """Enqueue each app's refresh; how many apps."""
    apps = refresh.apps_with_audiences()
    for app_id in apps:
        enqueue("refresh_app_audiences", app_id)
    return len(apps)


@job("refresh_app_audiences")
def refresh_app_audiences(app_id: int) -> dict[str, int]:
    """Refresh every audience of one app: id → members."""
    return refresh.refresh_app(app_id)
