"""Where a user stands among all users of the app in the same period ("top 2% of listeners").

The distribution of a metric over the app's users is computed in chunks by ``refresh`` and stored
per app, template, period and metric: the sorted values when there are at most ``MAX_POINTS``
users, otherwise that many evenly spaced quantiles. A lookup is then one small row, cached in
memory for a minute, so a request never scans the other users: a missing or expired row is
refreshed in the background (``refresh_in_background``) while requests keep the last
distribution, or none on a new app (the frame's fallback shows). ``refresh`` is a plain function:
``recap population refresh`` and ``stories build`` call it, and so can a job queue.
"""
from __future__ import annotations

import bisect
import json
import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from ..store import db
from ..store.db import database
from ..store.models import PopulationStat, now_ms
from . import arithmetic, metrics_sql
from . import slice as story_slice
from .periods import Period
from .templates import StoryTemplate
from .users import actor_pairs, user_ids

log = logging.getLogger(__name__)

MAX_POINTS = 1001
TTL_MS = 6 * 3600 * 1000
CHUNK = 500
RETRY_AFTER_S = 60.0  # a refresh that failed is not tried again for this long
_memory: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()
_refreshing = threading.Lock()  # one refresh at a time per process, in the background or not


def _key(app_id: int, template: StoryTemplate, period: Period, metric: str) -> tuple[Any, ...]:
    return db.url(), app_id, template.id, period.key, metric


def lookup(app_id: int, template: StoryTemplate, period: Period, metric: str) -> dict[str, Any] | None:
    """The stored distribution, at once: when it is missing or older than its TTL, a background
    refresh is started and the last one (or None) answers meanwhile."""
    key = _key(app_id, template, period, metric)
    hit = _memory.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    row = _stored(app_id, template, period, metric)
    if row is None or row.computed_at + TTL_MS < now_ms():
        refresh_in_background(app_id, template, period)
    if row is None:
        return None
    dist = {"n": row.users, "points": json.loads(row.points)}
    _remember(key, dist)
    return dist


def _stored(app_id: int, template: StoryTemplate, period: Period, metric: str) -> PopulationStat | None:
    stored: PopulationStat | None = PopulationStat.select().where(
        (PopulationStat.app_id == app_id) & (PopulationStat.template_id == template.id)
        & (PopulationStat.period_key == period.key) & (PopulationStat.metric == metric)).first()
    return stored


class BackgroundRefresh:
    """Refreshes off the request path: at most one daemon thread per database, app, template and
    period, the threads taking turns (``_refreshing``) so a launch costs one core, not one per
    template. Failures are logged and retried after ``RETRY_AFTER_S``, never raised into a request.
    """

    def __init__(self) -> None:
        self._threads: dict[tuple[Any, ...], threading.Thread] = {}
        self._failed_until: dict[tuple[Any, ...], float] = {}
        self._lock = threading.Lock()

    def submit(self, app_id: int, template: StoryTemplate, period: Period) -> bool:
        """Start the refresh unless it is running or failed a moment ago; never blocks."""
        key = (db.url(), app_id, template.id, period.key)
        with self._lock:
            running = self._threads.get(key)
            if (running is not None and running.is_alive()) or self._failed_until.get(key, 0.0) > time.monotonic():
                return False
            thread = threading.Thread(target=self._run, args=(key, app_id, template, period), daemon=True,
                                      name=f"population-{app_id}-{template.id}")
            self._threads[key] = thread
            thread.start()
        return True

    def _run(self, key: tuple[Any, ...], app_id: int, template: StoryTemplate, period: Period) -> None:
        try:
            with _refreshing:
                if db.url() != key[0]:  # the process moved to another database meanwhile (tools, tests)
                    return
                with database.connection_context():
                    if not stale(app_id, template, period):
                        return  # another process (or a command) refreshed it while this one waited
                    refresh(app_id, template, period)
        except Exception:
            log.exception("population refresh of %s/%s/%s failed; retried in %.0f s", app_id, template.id,
                          period.key, RETRY_AFTER_S)
            with self._lock:
                self._failed_until[key] = time.monotonic() + RETRY_AFTER_S
        finally:
            with self._lock:
                if self._threads.get(key) is threading.current_thread():
                    del self._threads[key]

    def wait(self, timeout: float) -> bool:
        """Join the running refreshes, at most ``timeout`` seconds in all; whether none is left."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)


def stale(app_id: int, template: StoryTemplate, period: Period) -> bool:
    """Whether one of the template's distributions for the period is missing or past its TTL."""
    for metric in _targets(template):
        row = _stored(app_id, template, period, metric)
        if row is None or row.computed_at + TTL_MS < now_ms():
            return True
    return False


background = BackgroundRefresh()
refresh_in_background = background.submit


def _remember(key: tuple[Any, ...], dist: dict[str, Any]) -> None:
    with _lock:
        _memory[key] = (time.monotonic() + 60.0, dist)


def _targets(template: StoryTemplate) -> set[str]:
    """The metrics ``template`` ranks users by."""
    return {m["of"] for m in template.later_metrics.values() if m["kind"] == "percentile"}


def rank(dist: dict[str, Any] | None, value: Any) -> dict[str, Any] | None:
    """{"top_percent", "percentile", "population"}: rank = 1 + users with a higher value."""
    if not dist or not dist["n"] or value is None or value <= 0:
        return None
    points, n = dist["points"], dist["n"]
    higher = (len(points) - bisect.bisect_right(points, value)) / len(points) * n
    top_percent = max(1, math.ceil(100 * (higher + 1) / n)) if n else 100
    lower = bisect.bisect_left(points, value) / len(points) * 100
    return {"top_percent": min(top_percent, 100), "percentile": round(lower, 1), "population": n}


def refresh(app_id: int, template: StoryTemplate, period: Period,
            progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Recompute every percentile distribution of ``template``; return users counted per metric."""
    targets = _targets(template)
    if not targets:
        return {}
    # A derived target is computed from the scalars it reads (engine/arithmetic.py).
    scalars = frozenset().union(*(arithmetic.scalar_inputs(template.metrics, name) or () for name in targets))
    formulas = [arithmetic.formula(template.metrics, name) for name in targets]
    plan = story_slice.plan_for(template, scalars)
    only = {name: template.metrics[name] for name in scalars}
    values: dict[str, list[Any]] = defaultdict(list)
    users = user_ids(app_id)
    for start in range(0, len(users), CHUNK):
        chunk = users[start:start + CHUNK]
        results: metrics_sql.Results = defaultdict(dict)
        query = metrics_sql.scalars(only, plan, set(), chunk, results)
        with story_slice.scope(len(chunk)):
            story_slice.answer(story_slice.build(template, plan, app_id, actor_pairs(app_id, chunk), period,
                                                 with_previous=False), [query] if query else [], chunk)
        for uid in chunk:
            for target in formulas:
                value = target.value(results[uid])
                if value is not None and value > 0:
                    values[target.name].append(value)
        if progress:
            progress(len(chunk))
    counts = {}
    for name in targets:
        ordered = sorted(values[name])
        points = ordered if len(ordered) <= MAX_POINTS else [
            ordered[round(i * (len(ordered) - 1) / (MAX_POINTS - 1))] for i in range(MAX_POINTS)]
        with database.atomic():
            (PopulationStat.insert(app_id=app_id, template_id=template.id, period_key=period.key, metric=name,
                                   users=len(ordered), points=json.dumps(points), computed_at=now_ms())
             .on_conflict(conflict_target=[PopulationStat.app_id, PopulationStat.template_id,
                                           PopulationStat.period_key, PopulationStat.metric],
                          preserve=[PopulationStat.users, PopulationStat.points, PopulationStat.computed_at])
             .execute())
        _remember(_key(app_id, template, period, name), {"n": len(ordered), "points": points})
        counts[name] = len(ordered)
    log.info("population of %s/%s/%s: %s", app_id, template.id, period.key, counts)
    return counts
