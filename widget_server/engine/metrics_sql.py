"""Metric kinds that are one SQL query over the story slice, grouped by ``uid``.

Scalars (count, sum, avg, min, max, distinct, share) share one scan; ranked and time-shaped
kinds (top, first/last, streak, series, record day, peak month) are one query each, using
window functions (SQLite ≥ 3.25 and PostgreSQL). Python only reshapes the small results.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..db import database
from . import filters
from .periods import DAY_MS, Period, day_from_number
from .slice import TABLE, Plan

Results = dict[str, dict[str, Any]]  # uid -> metric name -> value
WEEKDAY_SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_SHORT = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _rows(sql: str, params: list[Any], uids: list[str]) -> list[tuple]:
    """Result rows with the slice's user position (first column) turned back into the user id."""
    return [(uids[row[0]], *row[1:]) for row in database.execute_sql(sql, params).fetchall()]


def _clean(value: Any, scale: float | None = None) -> Any:
    if value is None:
        return None
    if scale is not None:
        value = value * scale
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def scalars(metrics: dict[str, dict], plan: Plan, previous_of: set[str], uids: list[str],
            results: Results) -> None:
    """count/sum/avg/min/max/distinct/share for the period, and for the previous one when a
    ``change`` metric needs it (stored as ``<name>@previous``)."""
    cols = plan.columns
    selects: list[str] = []
    params: list[Any] = []
    shapes: list[tuple[str, dict, int]] = []
    for name, metric in metrics.items():
        kind = metric["kind"]
        if kind not in ("count", "sum", "avg", "min", "max", "distinct", "share"):
            continue
        for pp in ((0, 1) if name in previous_of else (0,)):
            cond, args = filters.to_sql(plan.metric_filters[name], cols)
            cond = f"pp = {pp} AND {cond}"
            if kind == "count":
                selects.append(f"COUNT(CASE WHEN {cond} THEN 1 END)")
                params.extend(args)
            elif kind == "distinct":
                selects.append(f"COUNT(DISTINCT CASE WHEN {cond} THEN {cols.text(metric['property'])} END)")
                params.extend(args)
            elif kind == "share":
                part, part_args = filters.to_sql({"where": metric["part"]}, cols)
                value = cols.number(metric["property"]) if "property" in metric else "1"
                selects.append(f"SUM(CASE WHEN {cond} AND {part} THEN {value} ELSE 0 END)")
                selects.append(f"SUM(CASE WHEN {cond} THEN {value} ELSE 0 END)")
                params.extend(args + part_args + args)
            else:
                selects.append(f"{kind.upper()}(CASE WHEN {cond} THEN {cols.number(metric['property'])} END)")
                params.extend(args)
            shapes.append((name if pp == 0 else f"{name}@previous", metric, 2 if kind == "share" else 1))
    if not selects:
        return
    rows = {row[0]: row[1:] for row in _rows(
        f"SELECT uid, {', '.join(selects)} FROM {TABLE} GROUP BY uid", params, uids)}
    for uid in uids:
        row = rows.get(uid)
        out = results[uid]
        i = 0
        for name, metric, width in shapes:
            values = row[i:i + width] if row else (None,) * width
            i += width
            out[name] = _scalar_value(metric, values)


def _scalar_value(metric: dict, values: tuple) -> Any:
    kind = metric["kind"]
    if kind == "share":
        part, total = values
        return None if not total else part / total
    if kind in ("count", "distinct", "sum"):
        return _clean(values[0] or 0, metric.get("scale"))
    if kind == "avg" and values[0] is not None:
        return values[0] * metric["scale"] if "scale" in metric else values[0]
    return _clean(values[0], metric.get("scale"))


def top(name: str, metric: dict, plan: Plan, uids: list[str], results: Results) -> None:
    cols = plan.columns
    label = f"CAST({cols.text(metric['property'])} AS TEXT)"
    value = f"SUM({cols.number(metric['sum_property'])})" if metric.get("by") == "sum" else "COUNT(*)"
    cond, params = filters.to_sql(plan.metric_filters[name], cols)
    sql = (f"SELECT uid, label, v, c, total FROM ("
           f" SELECT uid, label, v, c, SUM(v) OVER (PARTITION BY uid) AS total,"
           f" ROW_NUMBER() OVER (PARTITION BY uid ORDER BY v DESC, label ASC) AS rn FROM ("
           f"  SELECT uid, {label} AS label, {value} AS v, COUNT(*) AS c FROM {TABLE}"
           f"  WHERE pp = 0 AND {cond} AND {cols.text(metric['property'])} IS NOT NULL"
           f"  GROUP BY uid, {label}) g) r WHERE rn <= {int(metric.get('n', 5))} ORDER BY uid, rn")
    found: dict[str, list] = defaultdict(list)
    scale = metric.get("scale")
    for uid, lab, v, c, total in _rows(sql, params, uids):
        items = found[uid]
        items.append({"rank": len(items) + 1, "label": lab, "value": _clean(v, scale), "count": c,
                      "share": (v / total) if total else None})
    for uid in uids:
        results[uid][name] = found.get(uid, [])


def first_last(name: str, metric: dict, plan: Plan, uids: list[str], results: Results) -> None:
    """The first (or last) event by time, ties broken by event id.

    Only the rows at each user's earliest (latest) millisecond are ranked, so this costs two
    scans of the slice rather than a sort of it.
    """
    cols = plan.columns
    last = metric["kind"] == "last"
    prop = cols.text(metric["property"]) if "property" in metric else "NULL"
    cond, params = filters.to_sql(plan.metric_filters[name], cols)
    sql = (f"SELECT uid, lts, name, v FROM (SELECT uid, lts, name, {prop} AS v, ROW_NUMBER() OVER "
           f"(PARTITION BY uid ORDER BY eid {'DESC' if last else 'ASC'}) AS rn FROM {TABLE} "
           f"WHERE pp = 0 AND {cond} AND (uid, ts) IN (SELECT uid, {'MAX' if last else 'MIN'}(ts) "
           f"FROM {TABLE} WHERE pp = 0 AND {cond} GROUP BY uid)) r WHERE rn = 1")
    found = {uid: {"at": _local_iso(lts), "date": day_from_number(lts // DAY_MS).isoformat(),
                   "event": ev, "value": v} for uid, lts, ev, v in _rows(sql, params + params, uids)}
    for uid in uids:
        results[uid][name] = found.get(uid)


def _local_iso(local_ms: int) -> str:
    day = day_from_number(local_ms // DAY_MS)
    seconds = (local_ms % DAY_MS) // 1000
    return f"{day.isoformat()}T{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def streak(name: str, metric: dict, plan: Plan, period: Period, today_day: int, uids: list[str],
           results: Results) -> None:
    """Daily streaks as gaps-and-islands: day − row_number() is constant along a run of days."""
    cond, params = filters.to_sql(plan.metric_filters[name], plan.columns)
    current = metric.get("mode", "longest") == "current"
    keep = ""
    if current:
        # A streak is still current if its last day is the reference day or the day before it
        # (today is not over yet).
        reference = min(period.local_end_ms // DAY_MS - 1, today_day)
        keep = f"WHERE e >= {int(reference) - 1}"
    order = "e DESC" if current else "n DESC, e DESC"
    sql = (f"WITH d AS (SELECT DISTINCT uid, day FROM {TABLE} WHERE pp = 0 AND {cond}), "
           f"g AS (SELECT uid, day, day - ROW_NUMBER() OVER (PARTITION BY uid ORDER BY day) AS grp FROM d), "
           f"r AS (SELECT uid, MIN(day) AS s, MAX(day) AS e, COUNT(*) AS n FROM g GROUP BY uid, grp), "
           f"k AS (SELECT uid, s, e, n, ROW_NUMBER() OVER (PARTITION BY uid ORDER BY {order}) AS rn FROM r {keep}) "
           f"SELECT uid, s, e, n FROM k WHERE rn = 1")
    found = {uid: {"days": n, "start": day_from_number(s).isoformat(), "end": day_from_number(e).isoformat()}
             for uid, s, e, n in _rows(sql, params, uids)}
    for uid in uids:
        results[uid][name] = found.get(uid, {"days": 0, "start": None, "end": None})


def series(name: str, metric: dict, plan: Plan, period: Period, uids: list[str], results: Results) -> None:
    cols = plan.columns
    by = metric["by"]
    bucket = {"hour": f"(lts / 3600000) % 24", "weekday": "(day + 3) % 7", "month": "month", "day": "day"}[by]
    value = f"SUM({cols.number(metric['property'])})" if "property" in metric else "COUNT(*)"
    cond, params = filters.to_sql(plan.metric_filters[name], cols)
    sql = f"SELECT uid, {bucket} AS b, {value} FROM {TABLE} WHERE pp = 0 AND {cond} GROUP BY uid, {bucket}"
    keys, labels = _buckets(by, period)
    index = {k: i for i, k in enumerate(keys)}
    found: dict[str, list] = {}
    for uid, b, v in _rows(sql, params, uids):
        values = found.setdefault(uid, [0] * len(keys))
        if b in index:
            values[index[b]] = _clean(v, metric.get("scale")) or 0
    for uid in uids:
        values = found.get(uid, [0] * len(keys))
        peak = max(range(len(values)), key=lambda i: (values[i], -i)) if values else None
        results[uid][name] = {"labels": labels, "values": values, "peak_index": peak,
                              "peak_label": labels[peak] if peak is not None and values[peak] else None,
                              "peak_value": values[peak] if peak is not None else 0, "total": sum(values)}


def _buckets(by: str, period: Period) -> tuple[list, list[str]]:
    if by == "hour":
        return list(range(24)), [f"{h:02d}" for h in range(24)]
    if by == "weekday":
        return list(range(7)), list(WEEKDAY_SHORT)
    first_day = period.local_start_ms // DAY_MS
    days = list(range(first_day, first_day + period.days))
    if by == "day":
        return days, [day_from_number(d).isoformat() for d in days]
    months = sorted({day_from_number(d).strftime("%Y-%m") for d in days})
    return months, [MONTH_SHORT[int(m[5:]) - 1] for m in months]


def record_day(name: str, metric: dict, plan: Plan, uids: list[str], results: Results) -> None:
    cols = plan.columns
    value = f"SUM({cols.number(metric['property'])})" if "property" in metric else "COUNT(*)"
    cond, params = filters.to_sql(plan.metric_filters[name], cols)
    sql = (f"SELECT uid, day, v FROM (SELECT uid, day, v, ROW_NUMBER() OVER (PARTITION BY uid "
           f"ORDER BY v DESC, day ASC) AS rn FROM (SELECT uid, day, {value} AS v FROM {TABLE} "
           f"WHERE pp = 0 AND {cond} GROUP BY uid, day) g) r WHERE rn = 1")
    found = {}
    for uid, day, v in _rows(sql, params, uids):
        date = day_from_number(day)
        found[uid] = {"date": date.isoformat(), "value": _clean(v, metric.get("scale")),
                      "weekday": date.strftime("%A"), "label": date.strftime("%B %-d")}
    for uid in uids:
        results[uid][name] = found.get(uid)


def peak_month(name: str, metric: dict, top_metric: dict, plan: Plan, uids: list[str],
               results: Results) -> None:
    """For each item of a top-N metric, the month in which it was played the most."""
    cols = plan.columns
    pairs = [(uid, item["label"]) for uid in uids for item in results[uid].get(metric["of"]) or []]
    for uid in uids:
        results[uid][name] = []
    if not pairs:
        return
    p = database.param
    label = f"CAST({cols.text(top_metric['property'])} AS TEXT)"
    value = f"SUM({cols.number(top_metric['sum_property'])})" if top_metric.get("by") == "sum" else "COUNT(*)"
    cond, params = filters.to_sql(plan.metric_filters[name], cols)
    labels = sorted({lab for _, lab in pairs})
    sql = (f"SELECT uid, label, month, v FROM (SELECT uid, label, month, v, ROW_NUMBER() OVER "
           f"(PARTITION BY uid, label ORDER BY v DESC, month ASC) AS rn FROM ("
           f"SELECT uid, {label} AS label, month, {value} AS v FROM {TABLE} "
           f"WHERE pp = 0 AND {cond} AND {label} IN ({', '.join([p] * len(labels))}) "
           f"GROUP BY uid, {label}, month) g) r WHERE rn = 1")
    wanted = set(pairs)
    found: dict[tuple[str, str], tuple[str, Any]] = {}
    for uid, lab, month, v in _rows(sql, params + labels, uids):
        if (uid, lab) in wanted:
            found[(uid, lab)] = (month, v)
    for uid in uids:
        out = []
        for item in results[uid].get(metric["of"]) or []:
            hit = found.get((uid, item["label"]))
            if hit:
                month = hit[0]
                out.append({"label": item["label"], "month": month, "month_name": _month_name(month),
                            "value": _clean(hit[1], top_metric.get("scale"))})
        results[uid][name] = out


def _month_name(month: str) -> str:
    from .expressions import MONTHS
    return MONTHS[int(month[5:]) - 1]
