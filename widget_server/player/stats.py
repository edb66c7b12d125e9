"""Story engagement numbers, computed in SQL over the player's own events.

The player sends story_viewed, frame_viewed, story_completed, story_shared, ... as ordinary
track events with ``properties.template``; these queries group them by viewer (user id).
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ..engine.errors import TemplateInvalid
from ..engine.periods import DAY_MS
from ..engine.registry import registry
from ..errors import NotFound
from ..store import event_keys
from ..store.db import database
from ..store.dialect import json_number_sql, json_value_sql
from .experiment_stats import compare

# What the player can send for a frame: a position in the story, a stay of at most a day (a page
# left open longer tells nothing), a progress between 0 and 1. Other values, which anyone with
# the public write key can send, are left out of the averages: 1e308 twice made AVG overflow.
FRAME_INDEX_MAX = 10_000
DWELL_MS_MAX = DAY_MS


def _prop(name: str) -> str:
    """SQL reading one top-level property of the event's JSON ``properties``."""
    return json_value_sql("properties", name)


def _number(name: str, high: int) -> str:
    """A property read as a number in [0, high], else NULL: the same on SQLite and PostgreSQL,
    where a cast of text that is not a number would fail the query."""
    number = json_number_sql("properties", name)
    return f"(CASE WHEN {number} BETWEEN 0 AND {high} THEN {number} END)"


def _scope(app_id: int, template_id: str, since_ms: int, names: tuple[str, ...]) -> tuple[str, list[Any]]:
    found, params = event_keys.by_name("event", app_id, names, since_ms)
    return f"{found} AND type = 'track' AND {_prop('template')} = {database.param}", [*params, template_id]


def _rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    return list(database.execute_sql(sql, params).fetchall())


def story_totals(app_id: int, template_id: str, days: int, now_ms: int) -> dict[str, Any]:
    """Viewers, completions, shares and the completion rate of the last ``days`` alone: one query
    (the studio's list of templates), where ``story_stats`` also reads frames and days."""
    totals = _totals(app_id, template_id, (now_ms // DAY_MS - (days - 1)) * DAY_MS)
    viewers = totals["viewers"]
    return {**totals, "completion_rate": round(totals["completions"] / viewers, 4) if viewers else 0.0}


def story_stats(app_id: int, template_id: str, days: int, now_ms: int) -> dict[str, Any]:
    """Viewers, completion, per-frame drop-off, shares and daily volume for the last ``days``."""
    first_day = now_ms // DAY_MS - (days - 1)
    since_ms = first_day * DAY_MS
    totals = story_totals(app_id, template_id, days, now_ms)
    viewers = totals["viewers"]
    return {
        "template": template_id,
        "window": {"days": days, "since": _iso_day(first_day), "until": _iso_day(now_ms // DAY_MS)},
        **totals,
        "shares_by_channel": _shares_by_channel(app_id, template_id, since_ms),
        "frames": _frames(app_id, template_id, since_ms, viewers),
        "daily": _daily(app_id, template_id, since_ms, first_day, days),
        "experiment": _experiment(app_id, template_id, since_ms),
    }


def _totals(app_id: int, template_id: str, since_ms: int) -> dict[str, Any]:
    where, params = _scope(app_id, template_id, since_ms,
                           ("story_viewed", "story_completed", "story_shared", "story_closed"))
    progress = _number("progress", 1)
    sql = (
        "SELECT "
        "COUNT(DISTINCT CASE WHEN name = 'story_viewed' THEN user_id END), "
        "COUNT(DISTINCT CASE WHEN name = 'story_completed' THEN user_id END), "
        "SUM(CASE WHEN name = 'story_shared' THEN 1 ELSE 0 END), "
        "COUNT(DISTINCT CASE WHEN name = 'story_shared' THEN user_id END), "
        f"AVG(CASE WHEN name = 'story_closed' THEN {progress} END) "
        f"FROM event WHERE {where}")
    viewers, completions, shares, sharers, avg_progress = _rows(sql, params)[0]
    return {"viewers": viewers, "completions": completions, "shares": shares or 0,
            "sharers": sharers, "avg_progress_at_close": round(avg_progress or 0.0, 4)}


def _shares_by_channel(app_id: int, template_id: str, since_ms: int) -> dict[str, int]:
    where, params = _scope(app_id, template_id, since_ms, ("story_shared",))
    channel = _prop("channel")
    sql = f"SELECT COALESCE({channel}, 'unknown'), COUNT(*) FROM event WHERE {where} GROUP BY 1 ORDER BY 2 DESC"
    return {name: count for name, count in _rows(sql, params)}


def _frames(app_id: int, template_id: str, since_ms: int, story_viewers: int) -> list[dict[str, Any]]:
    """One row per frame in story order: who reached it, who stopped there, how long they stayed."""
    where, params = _scope(app_id, template_id, since_ms, ("frame_viewed",))
    sql = (
        "WITH per_frame AS ("
        f" SELECT {_prop('frame_id')} AS frame_id,"
        f"  CAST(MIN({_number('index', FRAME_INDEX_MAX)}) AS INTEGER) AS position,"
        "  COUNT(DISTINCT user_id) AS viewers,"
        f"  AVG({_number('dwell_ms', DWELL_MS_MAX)}) AS dwell,"
        f"  SUM(CASE WHEN {_prop('advance')} = 'auto' THEN 1 ELSE 0 END) AS auto_advanced"
        f" FROM event WHERE {where} GROUP BY 1)"
        " SELECT frame_id, position, viewers, dwell, auto_advanced,"
        "  viewers - COALESCE(LEAD(viewers) OVER (ORDER BY position), viewers) AS dropped"
        " FROM per_frame ORDER BY position")
    frames = []
    for frame_id, position, viewers, dwell, auto_advanced, dropped in _rows(sql, params):
        dropped = max(dropped or 0, 0)
        frames.append({
            "frame_id": frame_id, "index": position, "viewers": viewers,
            "reach": round(viewers / story_viewers, 4) if story_viewers else 0.0,
            "drop_off": dropped, "drop_off_rate": round(dropped / viewers, 4) if viewers else 0.0,
            "avg_dwell_ms": round(dwell or 0), "auto_advanced": auto_advanced or 0,
        })
    return frames


def _daily(app_id: int, template_id: str, since_ms: int, first_day: int, days: int) -> list[dict[str, Any]]:
    where, params = _scope(app_id, template_id, since_ms,
                           ("story_viewed", "story_completed", "story_shared"))
    sql = (
        f"SELECT timestamp / {DAY_MS} AS day, "
        "COUNT(DISTINCT CASE WHEN name = 'story_viewed' THEN user_id END), "
        "COUNT(DISTINCT CASE WHEN name = 'story_completed' THEN user_id END), "
        "SUM(CASE WHEN name = 'story_shared' THEN 1 ELSE 0 END) "
        f"FROM event WHERE {where} GROUP BY 1")
    found = {day: (v, c, s) for day, v, c, s in _rows(sql, params)}
    series = []
    for day in range(first_day, first_day + days):  # days without events still get a bar
        v, c, s = found.get(day, (0, 0, 0))
        series.append({"date": _iso_day(day), "viewers": v, "completions": c, "shares": s or 0})
    return series


def _experiment(app_id: int, template_id: str, since_ms: int) -> dict[str, Any] | None:
    """The template's experiment as it is declared now, each variant's viewers, completers and
    sharers counted from the events that name it (other experiments and variant names, which
    anyone with the write key could send, are not counted)."""
    try:
        declared = registry.get(app_id, template_id).spec.get("experiment")
    except (NotFound, TemplateInvalid):
        return None
    if not declared:
        return None
    where, params = _scope(app_id, template_id, since_ms, ("story_viewed", "story_completed", "story_shared"))
    sql = (
        f"SELECT {_prop('variant')}, "
        "COUNT(DISTINCT CASE WHEN name = 'story_viewed' THEN user_id END), "
        "COUNT(DISTINCT CASE WHEN name = 'story_completed' THEN user_id END), "
        "COUNT(DISTINCT CASE WHEN name = 'story_shared' THEN user_id END) "
        f"FROM event WHERE {where} AND {_prop('experiment')} = {database.param} GROUP BY 1")
    found = {variant: (viewers, completers, sharers)
             for variant, viewers, completers, sharers in _rows(sql, [*params, declared["id"]])}
    return compare(declared["id"], {v["id"]: found.get(v["id"], (0, 0, 0)) for v in declared["variants"]})


def _iso_day(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()
