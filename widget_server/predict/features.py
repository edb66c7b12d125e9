"""Behavioural features of an app's users at a cutoff day, and whether they left after it.

The events are read once, in SQL: each identified user's activity per local day and event name
(``daily_activity``, one ``GROUP BY`` over the app's events). Everything else is windows over
those days, for any number of cutoffs, as sums of cumulative arrays (numpy), so a training set of
thirty weekly cutoffs costs one scan of the store, not thirty.

At a cutoff ``c`` (a local day number, its day included) a user is *in the population* when they
were active in the ``ACTIVE_DAYS`` days up to it: someone already gone cannot be kept. They
*churned* when they have no activity in the ``horizon`` days after it. Activity is what the app's
users do in the app: track, page and screen events of identified users, not the player's own
engagement events (docs/PLAYER.md) nor tombstones of erased users.
"""
from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..engine.periods import DAY_MS
from ..store.db import database

ACTIVE_DAYS = 30  # active within this many days up to the cutoff: in the population
TOP_NAMES = 5  # the event names whose share of a user's activity is a feature
CHUNK_USERS = 10_000  # users whose day arrays are held at once
PLAYER_EVENTS = ("story_viewed", "frame_viewed", "story_paused", "button_clicked", "story_shared",
                 "story_completed", "story_closed", "notification_opened")

BASE_FEATURES = ("days_since_last", "tenure_days", "events_7", "events_30", "events_90", "active_days_7",
                 "active_days_14", "active_days_30", "active_days_90", "events_per_active_day_30",
                 "trend_events", "trend_active_days", "trend_active_days_14", "silence_vs_usual_gap")


@dataclass
class Activity:
    """Each user's events per day, day ``d`` of the arrays being local day ``first_day + d``:
    running sums of every event (``events``), of active days (``active``) and of each of the most
    frequent event names (``named``, whose shares of a user's activity are features)."""

    users: list[str]
    first_day: int
    last_day: int
    events: np.ndarray
    active: np.ndarray
    named: dict[str, np.ndarray]

    def feature_names(self) -> list[str]:
        return [*BASE_FEATURES, *(f"share:{name}" for name in self.named)]

    def at_cutoff(self, cutoff: int, horizon: int | None = None) -> tuple[list[str], np.ndarray, np.ndarray | None]:
        """The users in the population at day ``cutoff``, their features (a row each, in
        ``feature_names`` order) and, given a ``horizon`` that ends within the data, whether each
        churned (1) or not (0)."""
        c = cutoff - self.first_day
        if not 0 <= c < self.events.shape[1]:
            raise ValueError(f"day {cutoff} is outside the data")
        e7, e30, e90 = (self._window(self.events, n, c) for n in (7, 30, 90))
        a7, a14, a30, a90 = (self._window(self.active, n, c) for n in (7, 14, 30, 90))
        keep = self._window(self.active, ACTIVE_DAYS, c) > 0
        seen = self.active[:, : c + 1]
        # The last active day is where the running count of active days last grew; the first, where it began.
        last = np.argmax(seen == seen[:, -1:], axis=1)
        first = np.argmax(seen > 0, axis=1)
        silence = c - last
        # How long the user usually goes between active days, over the last 90 (or their tenure).
        usual_gap = np.minimum(90, c - first + 1) / np.maximum(a90, 1)
        columns = [silence, c - first, e7, e30, e90, a7, a14, a30, a90, e30 / np.maximum(a30, 1),
                   np.log((e30 + 1) / (self._window(self.events, 30, c - 30) + 1)),
                   a30 - self._window(self.active, 30, c - 30), a14 - self._window(self.active, 14, c - 14),
                   silence / usual_gap]
        columns += [self._window(sums, 90, c) / np.maximum(e90, 1) for sums in self.named.values()]
        features = np.column_stack(columns).astype(np.float64)[keep]
        users = [u for u, kept in zip(self.users, keep, strict=True) if kept]
        if horizon is None:
            return users, features, None
        if c + horizon >= self.events.shape[1]:
            raise ValueError(f"the {horizon} days after day {cutoff} are not all in the data")
        after = self._window(self.events, horizon, c + horizon)[keep]
        return users, features, (after == 0).astype(np.int8)

    @staticmethod
    def _window(sums: np.ndarray, days: int, end: int) -> np.ndarray:
        """Per user, the sum over the ``days`` days ending on day ``end`` (days before the data count 0)."""
        high = sums[:, end] if end >= 0 else np.zeros(len(sums), dtype=sums.dtype)
        low = sums[:, end - days] if end - days >= 0 else np.zeros(len(sums), dtype=sums.dtype)
        return (high - low).astype(np.float64)


def daily_activity(app_id: int, until_ms: int | None = None) -> Iterator[Activity]:
    """The app's activity (before ``until_ms`` when given), ``CHUNK_USERS`` users at a time; every
    chunk spans the same days and names the same event names. The scan's rows are kept as four
    integer arrays (16 bytes a row: user, day, name, count), not as Python tuples."""
    p = database.param
    players = ", ".join([p] * len(PLAYER_EVENTS))
    bound = f" AND timestamp < {p}" if until_ms is not None else ""
    sql = (f"SELECT SUBSTR(actor, 3), (timestamp + utc_offset * 60000) / {DAY_MS}, name, COUNT(*) FROM event "
           f"WHERE app_id = {p} AND actor LIKE 'u:%' AND type IN ('track', 'page', 'screen') "
           f"AND (name IS NULL OR name NOT IN ({players})){bound} GROUP BY 1, 2, 3")
    params: list[object] = [app_id, *PLAYER_EVENTS, *([until_ms] if until_ms is not None else [])]
    user_ids: dict[str, int] = {}
    name_ids: dict[str | None, int] = {}
    columns = [array("q") for _ in range(4)]  # user, day, name, count
    for user, day, name, n in database.execute_sql(sql, params):
        for column, value in zip(columns, (user_ids.setdefault(user, len(user_ids)), day,
                                           name_ids.setdefault(name, len(name_ids)), n), strict=True):
            column.append(int(value))
    if not user_ids:
        return
    user, day, name, count = (np.frombuffer(column, dtype=np.int64) for column in columns)
    volume = np.bincount(name, weights=count, minlength=len(name_ids))
    known = [(label, i) for label, i in name_ids.items() if label is not None]
    top = sorted(known, key=lambda pair: (-volume[pair[1]], pair[0]))[:TOP_NAMES]
    first_day, last_day = int(day.min()), int(day.max())
    shape_days = last_day - first_day + 1
    ordered = list(user_ids)  # by their number: the order the scan met them
    for start in range(0, len(ordered), CHUNK_USERS):
        stop = min(start + CHUNK_USERS, len(ordered))
        rows = (user >= start) & (user < stop)
        at = (user[rows] - start, day[rows] - first_day)
        total = np.zeros((stop - start, shape_days), dtype=np.int64)
        np.add.at(total, at, count[rows])
        named = {}
        for label, i in top:
            counts = np.zeros_like(total)
            picked = name[rows] == i
            np.add.at(counts, (at[0][picked], at[1][picked]), count[rows][picked])
            named[label] = np.cumsum(counts, axis=1)
        yield Activity(ordered[start:stop], first_day, last_day, np.cumsum(total, axis=1),
                       np.cumsum(total > 0, axis=1), named)
