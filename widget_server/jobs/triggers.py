"""Triggers' work on the queue: an event's fan-out, split in chunks of users, a user's milestone,
and each delivery posted to the app's webhook (triggers/fan_out.py, triggers/deliveries.py)."""
from __future__ import annotations

from typing import Any

from flask import current_app

from ..triggers import deliveries, fan_out
from .queue import DELIVERING, ON_TIME, crontab, job


@job("trigger_event", priority=ON_TIME)
def trigger_event(app_id: int, trigger_id: str, version: int, cause: dict[str, Any]) -> int:
    return fan_out.start(app_id, trigger_id, version, cause)


@job("trigger_chunk", priority=ON_TIME)
def trigger_chunk(run_id: int, seq: int, users: list[str] | None = None) -> int:
    return fan_out.run_chunk(run_id, seq, users)


@job("trigger_deliveries", priority=DELIVERING)
def trigger_deliveries(delivery_ids: list[str]) -> dict[str, int]:
    return deliveries.deliver_many(delivery_ids)


@job("trigger_delivery", priority=DELIVERING)
def trigger_delivery(delivery_id: str) -> str:
    return deliveries.deliver(delivery_id)


@job("trigger_milestone", priority=ON_TIME)
def trigger_milestone(app_id: int, trigger_id: str, version: int, user_id: str) -> int:
    return fan_out.milestone(app_id, trigger_id, version, user_id)


@job("trigger_stories", periodic=crontab(minute="*/15"))
def trigger_stories() -> int:
    """Story triggers whose story has a new period available start their fan-out (once per period)."""
    return fan_out.stories_available()


@job("resume_deliveries", periodic=crontab(minute="*/5"))
def resume_deliveries() -> int:
    """Deliveries whose job was lost (a killed worker) enqueued again."""
    return deliveries.resume_stalled()


@job("resume_trigger_chunks", periodic=crontab(minute="*"))
def resume_trigger_chunks() -> int:
    """Every minute: fan-out chunks lost with a killed worker (their lease ran out) enqueued again."""
    from .queue import queue_of

    return fan_out.resume_chunks(queue_of(current_app._get_current_object()))  # type: ignore[attr-defined]
