"""Metric kinds that are one SQL query over the story slice, grouped by ``uid``.

Scalars (count, sum, avg, min, max, distinct, share) share one scan; ranked and time-shaped
kinds (top, first/last, streak, series, record day) are one query each, using window functions
(SQLite ≥ 3.25 and PostgreSQL); a top list's peak months come out of the top list's own query.
Each kind gives its query and what reads its rows (``slice.Query``), and the slice answers them
all at once; Python only reshapes the small results.
"""
from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ..store import dialect
from ..store.dialect import Row
from . import dates, filters
from .periods import DAY_MS, Period, day_from_number, day_number
from .slice import TABLE, Plan, Query

Results = dict[str, dict[str, Any]]  # uid -> metric name -> value


@dataclass(frozen=True)
class ByUser:
    """How a query keys its rows by user.

    A slice of one user (on-demand assembly) leaves ``uid`` out of every GROUP BY and PARTITION
    BY: in SQLite even a key that never changes widens each row's sort, about 1 ms per query at
    10,000 events.
    """

    single: bool

    @classmethod
    def of(cls, uids: list[str]) -> ByUser:
        return cls(len(uids) == 1)

    @property
    def uid(self) -> str:
        """The user column of a query's result."""
        return "0" if self.single else "uid"

    def keys(self, *more: str) -> str:
        """``uid`` and ``more`` as a GROUP BY / ORDER BY list."""
        return ", ".join(([] if self.single else ["uid"]) + list(more))

    def group_by(self, *more: str) -> str:
        keys = self.keys(*more)
        return f" GROUP BY {keys}" if keys else ""

    def partition(self, *more: str) -> str:
        keys = self.keys(*more)
        return f"PARTITION BY {keys}" if keys else ""


# Significant digits a metric's float keeps: a double holds 15–17, and scaling by a decimal factor
# (metres by 0.001) or adding floats leaves binary noise in the last ones (139.93200000000002),
# which would reach the story JSON and the chart's aria label.
SIGNIFICANT_DIGITS = 12


def tidy(value: Any) -> Any:
    """A float rounded to ``SIGNIFICANT_DIGITS`` (anything else as it is)."""
    if isinstance(value, float) and math.isfinite(value) and value:
        return round(value, SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(abs(value))))
    return value


def _clean(value: Any, scale: float | None = None) -> Any:
    if value is None:
        return None
    if scale is not None:
        value = value * scale
    value = tidy(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def scalars(metrics: dict[str, dict[str, Any]], plan: Plan, previous_of: set[str], uids: list[str],
            results: Results) -> Query | None:
    """count/sum/avg/min/max/distinct/share for the period, and for the previous one when a
    ``change`` metric needs it (stored as ``<name>@previous``)."""
    cols = plan.columns
    selects: list[str] = []
    params: list[Any] = []
    shapes: list[tuple[str, dict[str, Any], int]] = []
    for name, metric in metrics.items():
        kind = metric["kind"]
        if kind not in ("count", "sum", "avg", "min", "max", "distinct", "share"):
            continue
        for pp in ((0, 1) if name in previous_of else (0,)):
            cond, args = filters.to_sql(plan.metric_filters[name], cols)
            # FILTER rather than CASE inside the aggregate: about 15% less work per row in SQLite.
            only = f"FILTER (WHERE pp = {pp} AND {cond})"
            if kind == "count":
                selects.append(f"COUNT(*) {only}")
                params.extend(args)
            elif kind == "distinct":
                # Values count as their text, like a top list's labels (and as PostgreSQL reads them).
                selects.append(f"COUNT(DISTINCT {dialect.label_sql(cols.text(metric['property']))}) {only}")
                params.extend(args)
            elif kind == "share":
                part, part_args = filters.to_sql({"where": metric["part"]}, cols)
                value = cols.number(metric["property"]) if "property" in metric else "1"
                selects.append(f"SUM({value}) FILTER (WHERE pp = {pp} AND {cond} AND {part})")
                selects.append(f"SUM({value}) {only}")
                params.extend(args + part_args + args)
            else:
                selects.append(f"{kind.upper()}({cols.number(metric['property'])}) {only}")
                params.extend(args)
            shapes.append((name if pp == 0 else f"{name}@previous", metric, 2 if kind == "share" else 1))
    if not selects:
        return None

    def read(found: list[Row]) -> None:
        rows = {row[0]: row[1:] for row in found}
        for uid in uids:
            row = rows.get(uid)
            out = results[uid]
            i = 0
            for name, metric, width in shapes:
                values = row[i:i + width] if row else (None,) * width
                i += width
                out[name] = _scalar_value(metric, values)

    by = ByUser.of(uids)
    return Query(f"SELECT {by.uid}, {', '.join(selects)} FROM {TABLE}{by.group_by()}", params, read)


def _scalar_value(metric: dict[str, Any], values: tuple[Any, ...]) -> Any:
    kind = metric["kind"]
    if kind == "share":
        part, total = values
        return None if not total else (part or 0) / total
    if kind in ("count", "distinct", "sum"):
        return _clean(values[0] or 0, metric.get("scale"))
    if kind == "avg" and values[0] is not None:
        return tidy(values[0] * metric["scale"] if "scale" in metric else values[0])
    return _clean(values[0], metric.get("scale"))


def top(name: str, metric: dict[str, Any], plan: Plan, period: Period, uids: list[str], results: Results,
        peaks: list[str], counts: dict[str, dict[str, Any]]) -> Query:
    """A top-N list; for each of its items the month it peaked in (for the ``peak_month`` metrics
    named in ``peaks``); and its number of labels (for the ``distinct`` metrics in ``counts``).
    One grouping by label, or by label and month, serves them all."""
    cols = plan.columns
    by = ByUser.of(uids)
    label = dialect.label_sql(cols.text(metric["property"]))
    value = f"SUM({cols.number(metric['sum_property'])})" if metric.get("by") == "sum" else "COUNT(*)"
    cond, params = filters.to_sql(plan.metric_filters[name], cols)
    rows = f"FROM {TABLE} WHERE pp = 0 AND {cond} AND {cols.text(metric['property'])} IS NOT NULL"
    if metric.get("by") == "sum":  # an event without the summed property adds nothing to any label
        rows += f" AND {cols.number(metric['sum_property'])} IS NOT NULL"
    # Ranked by value, or with order = "recent" by the latest event (badges: the newest first).
    recent = metric.get("order") == "recent"
    latest, rank = ("MAX(lts)", "t DESC") if recent else ("NULL", "v DESC")
    if peaks:
        month, months = _months(period)
        by_month = (f"SELECT {by.uid} AS uid, {label} AS label, {month} AS month, {value} AS mv, "
                    f"COUNT(*) AS mc, {latest} AS mt {rows}{by.group_by(label, month)}")
        # PostgreSQL sums integers into numeric: cast counts back so they stay ints in Python.
        total = "SUM(mv) OVER w" if metric.get("by") == "sum" else "CAST(SUM(mv) OVER w AS BIGINT)"
        labels = (f"SELECT uid, label, month, mv, {total} AS v, CAST(SUM(mc) OVER w AS BIGINT) AS c, "
                  f"{'MAX(mt) OVER w' if recent else 'NULL'} AS t, "  # (a window only when ranked by it)
                  f"ROW_NUMBER() OVER ({by.partition('label')} ORDER BY mv DESC, month ASC) AS mr "
                  f"FROM ({by_month}) m WINDOW w AS ({by.partition('label')})")
        grouped = f"SELECT uid, label, v, c, t, month, mv FROM ({labels}) l WHERE mr = 1"
    else:
        grouped = (f"SELECT {by.uid} AS uid, {label} AS label, {value} AS v, COUNT(*) AS c, {latest} AS t, "
                   f"NULL AS month, NULL AS mv {rows}{by.group_by(label)}")
    sql = (f"SELECT uid, label, v, c, total, month, mv, labels FROM ("
           f"SELECT uid, label, v, c, month, mv, SUM(v) OVER ({by.partition()}) AS total, "
           f"COUNT(*) OVER ({by.partition()}) AS labels, "
           f"ROW_NUMBER() OVER ({by.partition()} ORDER BY {rank}, label ASC) AS rn FROM ({grouped}) g) r "
           f"WHERE rn <= {int(metric.get('n', 5))} ORDER BY {by.keys('rn')}")
    scale = metric.get("scale")

    def read(rows: list[Row]) -> None:
        found: dict[str, list[Any]] = defaultdict(list)
        peaked: dict[str, list[Any]] = defaultdict(list)
        label_counts: dict[str, int] = {}
        for uid, lab, v, c, total, month, mv, labels in rows:
            label_counts[uid] = labels
            items = found[uid]
            items.append({"rank": len(items) + 1, "label": lab, "value": _clean(v, scale), "count": c,
                          "share": (v / total) if total else None})
            if peaks:
                key = months[month]
                peaked[uid].append({"label": lab, "month": key, "month_name": dates.month_names()[int(key[5:]) - 1],
                                    "value": _clean(mv, scale)})
        for uid in uids:
            results[uid][name] = found.get(uid, [])
            for peak in peaks:
                results[uid][peak] = peaked.get(uid, [])
            for count, count_metric in counts.items():
                results[uid][count] = _scalar_value(count_metric, (label_counts.get(uid, 0),))

    return Query(sql, params, read)


def first_last(name: str, metric: dict[str, Any], plan: Plan, uids: list[str], results: Results) -> Query:
    """The first (or last) event by time, ties broken by event id.

    Only the rows at each user's earliest (latest) millisecond are ranked, so this costs two
    scans of the slice rather than a sort of it.
    """
    cols = plan.columns
    last = metric["kind"] == "last"
    prop = cols.text(metric["property"]) if "property" in metric else "NULL"
    cond, params = filters.to_sql(plan.metric_filters[name], cols)
    by = ByUser.of(uids)
    sql = (f"SELECT {by.uid}, lts, name, v FROM (SELECT uid, lts, name, {prop} AS v, ROW_NUMBER() OVER "
           f"({by.partition()} ORDER BY eid {'DESC' if last else 'ASC'}) AS rn FROM {TABLE} "
           f"WHERE pp = 0 AND {cond} AND (uid, ts) IN (SELECT {by.uid}, {'MAX' if last else 'MIN'}(ts) "
           f"FROM {TABLE} WHERE pp = 0 AND {cond}{by.group_by()})) r WHERE rn = 1")

    def read(rows: list[Row]) -> None:
        found = {uid: {"at": _local_iso(lts), "date": day_from_number(lts // DAY_MS).isoformat(),
                       "event": ev, "value": v} for uid, lts, ev, v in rows}
        for uid in uids:
            results[uid][name] = found.get(uid)

    return Query(sql, params + params, read)


def _local_iso(local_ms: int) -> str:
    day = day_from_number(local_ms // DAY_MS)
    seconds = (local_ms % DAY_MS) // 1000
    return f"{day.isoformat()}T{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def streak(name: str, metric: dict[str, Any], plan: Plan, period: Period, today: list[int], uids: list[str],
           results: Results) -> Query:
    """Streaks as gaps-and-islands: unit − row_number() is constant along a run of days (weeks,
    months).

    ``today`` is each user's local day number, in the order of ``uids``."""
    cond, params = filters.to_sql(plan.metric_filters[name], plan.columns)
    by = ByUser.of(uids)
    ctes, final = _streak_sql(0, metric, period, today, by)
    sql = (f"WITH d AS (SELECT DISTINCT {by.uid} AS uid, day FROM {TABLE} WHERE pp = 0 AND {cond}), "
           f"{', '.join(ctes)} {final}")
    return Query(sql, params, lambda rows: _streak_results({0: (name, metric)}, rows, period, uids, results))


@dataclass(frozen=True)
class StreakUnit:
    """What a streak counts in a row: days, ISO weeks (Monday first) or calendar months, each
    numbered so that consecutive ones differ by one."""

    name: str
    sql: str  # the unit's number of a row of ``d`` (which has a local ``day``)
    of_day: Callable[[int], int]  # a day number's unit number
    days: Callable[[int], tuple[int, int]]  # a unit number's first and last day numbers


def _streak_unit(metric: dict[str, Any], period: Period) -> StreakUnit:
    unit = metric.get("unit", "day")
    if unit == "week":
        # Day 0 (1 January 1970) was a Thursday: day + 3 is a multiple of 7 on Mondays.
        return StreakUnit("weeks", "(day + 3) / 7", lambda day: (day + 3) // 7,
                          lambda week: (week * 7 - 3, week * 7 + 3))
    if unit == "month":
        month_sql, months = _months(period)
        firsts = [day_number(date.fromisoformat(m + "-01")) for m in months]
        bounds = firsts + [day_number((date.fromisoformat(months[-1] + "-01") + timedelta(days=32)).replace(day=1))]
        return StreakUnit("months", month_sql, lambda day: max(0, bisect.bisect_right(firsts, day) - 1),
                          lambda i: (bounds[i], bounds[i + 1] - 1))
    return StreakUnit("days", "day", lambda day: day, lambda day: (day, day))


def _streak_sql(part: int, metric: dict[str, Any], period: Period, today: list[int],
                by: ByUser) -> tuple[list[str], str]:
    """The CTEs and the SELECT (uid, part, start, end, count) of a streak over the days in ``d``,
    in the metric's unit."""
    unit = _streak_unit(metric, period)
    current = metric.get("mode", "longest") == "current"
    keep = ""
    if current:
        # A streak is still current if its last day (week, month) is the reference one or the one
        # before it (today, this week, this month are not over yet).
        last = period.local_end_ms // DAY_MS - 1
        references = [unit.of_day(min(last, int(day))) for day in today]
        if len(set(references)) > 1:  # users whose zones are on different local days
            reference = f"CASE uid {' '.join(f'WHEN {i} THEN {ref}' for i, ref in enumerate(references))} END"
        else:
            reference = str(references[0] if references else unit.of_day(last))
        keep = f"WHERE e >= {reference} - 1"
    order = "e DESC" if current else "n DESC, e DESC"
    g, r, k = f"g{part}", f"r{part}", f"k{part}"
    units = "d" if unit.name == "days" else f"(SELECT DISTINCT uid, {unit.sql} AS day FROM d) u{part}"
    ctes = [f"{g} AS (SELECT uid, day, day - ROW_NUMBER() OVER ({by.partition()} ORDER BY day) AS grp FROM {units})",
            f"{r} AS (SELECT {by.uid} AS uid, MIN(day) AS s, MAX(day) AS e, COUNT(*) AS n "
            f"FROM {g}{by.group_by('grp')})",
            f"{k} AS (SELECT uid, s, e, n, ROW_NUMBER() OVER ({by.partition()} ORDER BY {order}) AS rn "
            f"FROM {r} {keep})"]
    return ctes, f"SELECT uid, {part} AS part, s, e, n FROM {k} WHERE rn = 1"


def _streak_results(parts: dict[int, tuple[str, dict[str, Any]]], rows: list[Row], period: Period,
                    uids: list[str], results: Results) -> None:
    """Streak rows (uid, part, start, end, count) into ``results`` under the name of each part:
    ``{days, start, end}`` (or ``weeks``, ``months``), start and end being the first day of the
    run's first unit and the last of its last, within the period."""
    units = {part: _streak_unit(metric, period) for part, (_, metric) in parts.items()}
    first, last = period.local_start_ms // DAY_MS, period.local_end_ms // DAY_MS - 1
    found = {}
    for uid, part, s, e, n in rows:
        unit = units[part]
        found[uid, part] = {unit.name: n, "start": day_from_number(max(first, unit.days(s)[0])).isoformat(),
                            "end": day_from_number(min(last, unit.days(e)[1])).isoformat()}
    for uid in uids:
        for part, (name, _) in parts.items():
            results[uid][name] = found.get((uid, part), {units[part].name: 0, "start": None, "end": None})


def series(name: str, metric: dict[str, Any], plan: Plan, period: Period, uids: list[str], results: Results) -> Query:
    cols = plan.columns
    by = metric["by"]
    bucket = {"hour": dialect.mod_sql("lts / 3600000", 24), "weekday": dialect.mod_sql("day + 3", 7), "day": "day",
              "month": _months(period)[0]}[by]
    value = f"SUM({cols.number(metric['property'])})" if "property" in metric else "COUNT(*)"
    cond, params = filters.to_sql(plan.metric_filters[name], cols)
    users = ByUser.of(uids)
    sql = (f"SELECT {users.uid}, {bucket} AS b, {value} FROM {TABLE} WHERE pp = 0 AND {cond}"
           f"{users.group_by(bucket)}")
    keys, labels, names = _buckets(by, period)
    index = {k: i for i, k in enumerate(keys)}

    def read(rows: list[Row]) -> None:
        found: dict[str, list[Any]] = {}
        for uid, b, v in rows:
            values = found.setdefault(uid, [0] * len(keys))
            if b in index:
                values[index[b]] = _clean(v, metric.get("scale")) or 0
        for uid in uids:
            values = found.get(uid, [0] * len(keys))
            peak = max(range(len(values)), key=lambda i: (values[i], -i)) if values else None
            peaked = peak if peak is not None and values[peak] else None  # (no peak in a series of zeros)
            results[uid][name] = {"labels": labels, "names": names, "values": values, "peak_index": peak,
                                  "peak_label": labels[peaked] if peaked is not None else None,
                                  "peak_name": names[peaked] if peaked is not None else None,
                                  "peak_value": values[peak] if peak is not None else 0,
                                  "total": _clean(sum(values))}

    return Query(sql, params, read)


def _buckets(by: str, period: Period) -> tuple[list[Any], list[str], list[str]]:
    """A series' bucket keys, their short labels for a chart ("Fri", "Aug", "22", "2026-03-01")
    and their names for a sentence ("Friday", "August", "22:00", "1 March"), all from engine/dates.py."""
    if by == "hour":
        return list(range(24)), [f"{h:02d}" for h in range(24)], [dates.hour_name(h) for h in range(24)]
    if by == "weekday":  # from the day weeks start on where the story's language is spoken
        order = [(dates.first_weekday() + i) % 7 for i in range(7)]
        short, wide = dates.weekday_names("abbreviated"), dates.weekday_names()
        return order, [short[d] for d in order], [wide[d] for d in order]
    year = period.end.year
    first_day = period.local_start_ms // DAY_MS
    days = list(range(first_day, first_day + period.days))
    if by == "day":
        isos = [day_from_number(d).isoformat() for d in days]
        return days, isos, [dates.human(iso, "long", year) for iso in isos]
    _, months = _months(period)
    return (list(range(len(months))), [dates.month_names("abbreviated")[int(m[5:]) - 1] for m in months],
            [dates.human(m, "month", year) for m in months])


def _months(period: Period) -> tuple[str, list[str]]:
    """SQL for the month of a slice row in ``period`` — its position in the list of the period's
    months ('YYYY-MM') that comes with it — from the row's local ``day``.

    A CASE over the month boundaries returning a small integer costs SQLite about a quarter of
    formatting each row's date, and groups faster than the text.
    """
    ends: list[int] = []  # first day of the following month
    months: list[str] = []
    first = period.start.replace(day=1)
    while first <= period.end:
        following = (first + timedelta(days=32)).replace(day=1)
        ends.append(day_number(following))
        months.append(first.strftime("%Y-%m"))
        first = following
    whens = " ".join(f"WHEN day < {end} THEN {i}" for i, end in enumerate(ends[:-1]))
    return (f"CASE {whens} ELSE {len(ends) - 1} END" if whens else "0"), months


def record_day(name: str, metric: dict[str, Any], plan: Plan, period: Period, today: list[int], uids: list[str],
               results: Results, streaks: dict[str, dict[str, Any]]) -> Query:
    """The day with the most (events or sum of a property), and the ``streaks`` over the same
    events: the record's grouping by day gives the streaks their days, so one query serves all.
    A day whose events carry no number has no sum: it is no record (PostgreSQL would sort its
    NULL first), but it still counts for a streak."""
    cols = plan.columns
    value = f"SUM({cols.number(metric['property'])})" if "property" in metric else "COUNT(*)"
    cond, params = filters.to_sql(plan.metric_filters[name], cols)
    by = ByUser.of(uids)
    ctes = [f"d AS (SELECT {by.uid} AS uid, day, {value} AS v FROM {TABLE} "
            f"WHERE pp = 0 AND {cond}{by.group_by('day')})"]
    selects = [f"SELECT uid, -1 AS part, day, v, NULL AS n FROM (SELECT uid, day, v, ROW_NUMBER() OVER "
               f"({by.partition()} ORDER BY v DESC, day ASC) AS rn FROM d WHERE v IS NOT NULL) r WHERE rn = 1"]
    parts = dict(enumerate(streaks.items()))
    for part, (_, streak_metric) in parts.items():
        streak_ctes, final = _streak_sql(part, streak_metric, period, today, by)
        ctes += streak_ctes
        selects.append(final)

    def read(rows: list[Row]) -> None:
        found = {}
        for uid, part, day, v, _ in rows:
            if part == -1:
                date = day_from_number(day)
                found[uid] = {"date": date.isoformat(), "value": _clean(v, metric.get("scale")),
                              "weekday": dates.weekday(date), "label": dates.human(date, "long", period.end.year)}
        for uid in uids:
            results[uid][name] = found.get(uid)
        _streak_results(parts, [row for row in rows if row[1] != -1], period, uids, results)

    return Query(f"WITH {', '.join(ctes)} {' UNION ALL '.join(selects)}", params, read)
