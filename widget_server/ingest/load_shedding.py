"""Load shedding: a request that waited too long for a worker is refused before any work.

The front stamps each request with the moment it handed it on, after reading it whole
(``X-Request-Start: t=<seconds since the epoch>``, nginx's ``${msec}``, as
deploy/nginx-recap.conf sets it; milliseconds and microseconds, as other fronts send them, are
read too). What the request then waited is time spent queued behind other requests in
gunicorn; past ``INGEST_MAX_QUEUE_MS`` it is answered 429 with Retry-After, so the queue drains
at the cost of a refusal each, clients back off, and what is accepted stays fast. Without the
header (no front, or another one) nothing is refused here.
"""
from __future__ import annotations

import time

from flask import current_app, request

from ..errors import TooManyRequests

HEADER = "X-Request-Start"


def queued_seconds(header: str | None, now: float) -> float | None:
    """How long ago the front stamped the request, or None for a missing or unreadable stamp."""
    if not header:
        return None
    try:
        stamp = float(header.removeprefix("t="))
    except ValueError:
        return None
    for _ in range(2):  # milliseconds, then microseconds
        if stamp > now * 100:
            stamp /= 1000
    return now - stamp if 0 < stamp < now * 100 else None  # not inf, nan or negative


def refuse_late_requests() -> None:
    """``before_request`` hook: 429 for a request queued past the limit (preflights pass)."""
    if request.method == "OPTIONS":
        return
    waited = queued_seconds(request.headers.get(HEADER), time.time())
    limit = current_app.config["INGEST_MAX_QUEUE_MS"] / 1000
    if waited is not None and waited > limit:
        raise TooManyRequests(f"The server is busy (the request waited {waited:.1f} s for a worker); "
                              "retry shortly.", retry_after=1)
