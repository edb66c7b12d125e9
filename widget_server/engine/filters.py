"""Which events a metric counts: event names, types and property conditions, as SQL over the slice.

Property values are pulled out of the JSON once, when the user's slice is built, into columns
``p0, p1, …`` (and, for the paths read as numbers, ``n0, …``); metrics then read plain columns.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..store import dialect
from ..store.db import database
from .expressions import is_number

OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


@dataclass
class Columns:
    """Property paths a template reads, each with its slice column; those read as numbers
    (``add(path, number=True)``) also with a numeric column."""

    paths: list[str] = field(default_factory=list)
    numbers: set[str] = field(default_factory=set)

    def add(self, path: str, number: bool = False) -> None:
        if path not in self.paths:
            self.paths.append(path)
        if number:
            self.numbers.add(path)

    def text(self, path: str) -> str:
        return f"p{self.paths.index(path)}"

    def number(self, path: str) -> str:
        return f"n{self.paths.index(path)}"

    def select_list(self, json_column: str) -> list[str]:
        out = []
        for i, path in enumerate(self.paths):
            out.append(f"{dialect.json_value_sql(json_column, path)} AS p{i}")
            if path in self.numbers:
                out.append(f"{dialect.json_number_sql(json_column, path)} AS n{i}")
        return out


def resolve(metric: dict[str, Any], virtual_events: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A metric's filter with a virtual event name replaced by the conditions it stands for."""
    names = metric.get("events") or ([metric["event"]] if "event" in metric else [])
    virtual = [virtual_events[n] for n in names if n in virtual_events]
    if not virtual:
        return {k: metric[k] for k in ("event", "events", "type", "where") if k in metric}
    if len(names) > 1:
        # Several names, some virtual: each becomes one alternative of an OR.
        return {"any": [resolve({"event": n, "where": metric.get("where", {})}, virtual_events) for n in names]}
    base = dict(virtual[0])
    base.pop("description", None)
    where = dict(base.get("where", {}))
    where.update(metric.get("where", {}))
    base["where"] = where
    return base


def collect_paths(flt: dict[str, Any], columns: Columns) -> None:
    for alternative in flt.get("any", []):
        collect_paths(alternative, columns)
    for path, condition in flt.get("where", {}).items():
        columns.add(path, number=_reads_number(condition))


def _reads_number(condition: Any) -> bool:
    """Whether a where-condition compares its property as a number (see ``_condition``)."""
    if isinstance(condition, dict):
        return any(op in OPERATORS or (op in ("eq", "ne") and is_number(value))
                   for op, value in condition.items())
    return is_number(condition)


def event_names(flt: dict[str, Any]) -> set[str] | None:
    """The event names a filter can match, or None when it is not limited by name."""
    if "any" in flt:
        found: set[str] = set()
        for alternative in flt["any"]:
            names = event_names(alternative)
            if names is None:
                return None
            found |= names
        return found
    if "events" in flt:
        return set(flt["events"])
    if "event" in flt:
        return {flt["event"]}
    return None


def reads_type(flt: dict[str, Any]) -> bool:
    """Whether a filter tests the event type (so the slice needs that column)."""
    return "type" in flt or any(reads_type(alternative) for alternative in flt.get("any", []))


def to_sql(flt: dict[str, Any], columns: Columns, alias: str = "") -> tuple[str, list[Any]]:
    """(condition, params) for a resolved filter; "1=1" when it matches everything."""
    col = (lambda name: f"{alias}.{name}") if alias else (lambda name: name)
    if "any" in flt:
        parts = [to_sql(alt, columns, alias) for alt in flt["any"]]
        return "(" + " OR ".join(p[0] for p in parts) + ")", [x for p in parts for x in p[1]]
    clauses: list[str] = []
    params: list[Any] = []
    if "event" in flt:
        clauses.append(f"{col('name')} = {database.param}")
        params.append(flt["event"])
    if "events" in flt:
        clauses.append(f"{col('name')} IN ({', '.join([database.param] * len(flt['events']))})")
        params.extend(flt["events"])
    if "type" in flt:
        clauses.append(f"{col('type')} = {database.param}")
        params.append(flt["type"])
    for path, condition in flt.get("where", {}).items():
        sql, args = _condition(col(columns.text(path)), col(columns.number(path)), condition)
        clauses.append(sql)
        params.extend(args)
    return ("(" + " AND ".join(clauses) + ")" if clauses else "1=1"), params


def _condition(text_col: str, num_col: str, condition: Any) -> tuple[str, list[Any]]:
    p = database.param
    if isinstance(condition, list):
        return _in(text_col, condition)
    if not isinstance(condition, dict):
        return _eq(text_col, num_col, condition)
    clauses, params = [], []
    for op, value in condition.items():
        if op == "eq":
            sql, args = _eq(text_col, num_col, value)
        elif op == "ne":
            sql, args = _eq(text_col, num_col, value)
            sql = f"NOT ({sql})"
        elif op == "in":
            sql, args = _in(text_col, value if isinstance(value, list) else [value])
        elif op == "glob":
            sql, args = dialect.glob_sql(dialect.text_sql(text_col)), [dialect.glob_param(str(value))]
        elif op == "contains":
            sql, args = dialect.contains_sql(dialect.text_sql(text_col)), [dialect.contains_param(str(value))]
        elif op == "exists":
            sql, args = (f"{text_col} IS NOT NULL" if value else f"{text_col} IS NULL"), []
        else:
            sql, args = f"{num_col} {OPERATORS[op]} {p}", [value]
        clauses.append(sql)
        params.extend(args)
    return "(" + " AND ".join(clauses) + ")", params


def _eq(text_col: str, num_col: str, value: Any) -> tuple[str, list[Any]]:
    if isinstance(value, bool):
        return f"{text_col} = {database.param}", [dialect.json_bool_param(value)]
    if is_number(value):
        return f"{num_col} = {database.param}", [value]
    return f"{dialect.text_sql(text_col)} = {database.param}", [value]


def _in(text_col: str, values: list[Any]) -> tuple[str, list[Any]]:
    marks = ", ".join([database.param] * len(values))
    return f"{dialect.text_sql(text_col)} IN ({marks})", [str(v) for v in values]
