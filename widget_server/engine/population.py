"""Where a user stands among all users of the app in the same period ("top 2% of listeners").

The distribution of a metric over the app's users is computed in chunks by ``recap population
refresh`` (or on the first request that needs it) and stored per app, template, period and
metric: the sorted values when there are at most ``MAX_POINTS`` users, otherwise that many
evenly spaced quantiles. A lookup is then one small row, cached in memory until its TTL runs out,
so a request never scans the other users.
"""
from __future__ import annotations

import bisect
import json
import logging
import math
import threading
import time
from collections import defaultdict
from typing import Any, Callable

from .. import db
from ..db import database
from ..models import PopulationStat, now_ms
from . import metrics_sql, slice as story_slice
from .periods import Period
from .templates import StoryTemplate
from .users import actor_pairs, user_ids

log = logging.getLogger(__name__)

MAX_POINTS = 1001
TTL_MS = 6 * 3600 * 1000
CHUNK = 500
_memory: dict[tuple, tuple[float, dict]] = {}
_lock = threading.Lock()
_refreshing = threading.Lock()


def _key(app_id: int, template: StoryTemplate, period: Period, metric: str) -> tuple:
    return db.url(), app_id, template.id, period.key, metric


def lookup(app_id: int, template: StoryTemplate, period: Period, metric: str) -> dict | None:
    """The stored distribution, refreshed when missing or older than its TTL."""
    key = _key(app_id, template, period, metric)
    hit = _memory.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    row = (PopulationStat.select().where(
        (PopulationStat.app_id == app_id) & (PopulationStat.template_id == template.id)
        & (PopulationStat.period_key == period.key) & (PopulationStat.metric == metric)).first())
    if row is None or row.computed_at + TTL_MS < now_ms():
        # One refresh at a time per process: at a launch, the requests arriving meanwhile wait
        # for it and then read its result instead of each scanning every user again.
        with _refreshing:
            hit = _memory.get(key)
            if hit and hit[0] > time.monotonic():
                return hit[1]
            refresh(app_id, template, period)
        return lookup_stored(key)
    dist = {"n": row.users, "points": json.loads(row.points)}
    _remember(key, dist)
    return dist


def lookup_stored(key: tuple) -> dict | None:
    hit = _memory.get(key)
    return hit[1] if hit else None


def _remember(key: tuple, dist: dict) -> None:
    with _lock:
        _memory[key] = (time.monotonic() + 60.0, dist)


def rank(dist: dict | None, value: Any) -> dict[str, Any] | None:
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
    targets = {m["of"] for m in template.later_metrics.values() if m["kind"] == "percentile"}
    if not targets:
        return {}
    plan = story_slice.plan_for(template, frozenset(targets))
    only = {name: template.metrics[name] for name in targets}
    values: dict[str, list] = defaultdict(list)
    users = user_ids(app_id)
    for start in range(0, len(users), CHUNK):
        chunk = users[start:start + CHUNK]
        results: metrics_sql.Results = defaultdict(dict)
        with database.atomic():
            story_slice.build(template, plan, app_id, actor_pairs(app_id, chunk), period, with_previous=False)
            try:
                metrics_sql.scalars(only, plan, set(), chunk, results)
            finally:
                story_slice.drop()
        for uid in chunk:
            for name in targets:
                value = results[uid].get(name)
                if value is not None and value > 0:
                    values[name].append(value)
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
