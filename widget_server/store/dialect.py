"""The few SQL statements that differ between SQLite and PostgreSQL, in one place.

Everything else goes through peewee. Placeholders come from the bound database (``?`` or
``%s``); an event's JSON is text on SQLite and jsonb on PostgreSQL (models.EventJSON), read
with each engine's JSON functions.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from .db import database, is_postgres, is_sqlite
from .sqlite_files import sqlite_writer

T = TypeVar("T")
Row = tuple[Any, ...]  # one row's values, in its statement's column order

# Bound parameters one statement may carry: SQLite before 3.32 allowed 999
# (SQLITE_MAX_VARIABLE_NUMBER, 32,766 since), so statements with a parameter per value take
# them in chunks that fit, on either database.
MAX_PARAMETERS = 800


def chunks(items: Sequence[T], per_item: int = 1) -> Iterator[Sequence[T]]:
    """``items`` in slices whose ``per_item`` parameters each fit one statement."""
    size = MAX_PARAMETERS // per_item
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _params(n: int) -> str:
    return ", ".join([database.param] * n)


def sqlite_path() -> str | None:
    """The SQLite store's file, or None on PostgreSQL."""
    return database.obj.database if is_sqlite() else None


@contextmanager
def writer_transaction() -> Iterator[Any]:
    """A cursor in the ingest writer's transaction, committed when the block ends.

    PostgreSQL: the request's connection. SQLite: the process's long-lived writer connection
    (``sqlite_files.sqlite_writer``, which keeps its page cache hot), holding the write lock from
    ``BEGIN IMMEDIATE``, and rolled back on any error, SQLite's own rollbacks included.
    """
    path = sqlite_path()
    if path is None:
        with database.atomic():
            yield database.cursor()
        return
    con = sqlite_writer(path)
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con.cursor()
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise



@contextmanager
def scratch_transaction(tables: bool = True) -> Iterator[bool]:
    """A block for temporary tables made with ``scratch_clause()`` and ``over_scratch``; yields
    whether they are dropped by its end on their own. ``tables``: whether the block makes any with
    ``scratch_clause()``.

    PostgreSQL, outside a caller's transaction: a transaction of the block's own, whose tables go
    with its commit (ON COMMIT DROP). It writes nothing that must outlive a crash (temporary
    tables only), so its commit does not wait for the disk (``synchronous_commit`` off): creating
    and dropping a table is catalog work that would otherwise cost a WAL flush each. A block that
    makes none needs no transaction (``over_scratch`` writes no table there): nothing to drop, and
    no BEGIN, SET and COMMIT to wait for. Inside a caller's transaction, or on SQLite: yields
    False, and the caller drops them.
    """
    if is_postgres() and not tables:
        yield True
        return
    if not is_postgres() or database.in_transaction():
        yield False
        return
    with database.atomic():
        database.execute_sql("SET LOCAL synchronous_commit TO OFF")
        yield True


def scratch_clause() -> str:
    """What follows ``CREATE TEMP TABLE name`` for a table of ``scratch_transaction``."""
    return "ON COMMIT DROP" if is_postgres() else ""


Statement = tuple[str, list[Any]]  # SQL and its parameters


def over_scratch(table: str, definition: Statement, queries: list[Statement]) -> list[list[Row]]:
    """The rows of each of ``queries``, which read ``table``: the rows ``definition`` selects.

    PostgreSQL: one statement, the table a ``MATERIALIZED`` CTE (kept in memory, read once per
    query) and each query's rows one JSON array of its result, so nothing is written and there is
    one round trip. As a temporary table, writing it cost about a quarter of a 10,000-event story
    and each query a round trip and a plan of its own (docs/SCALE.md). JSON brings back what the
    queries select (text, integers, doubles, NULL) as they are; PostgreSQL's numeric, which
    psycopg2 would return as ``Decimal``, comes back as a Python int or float.

    SQLite: a temporary table, then a statement per query (in this process, a statement costs no
    round trip); the caller drops the table (``scratch_transaction``).
    """
    sql, params = definition
    if not is_postgres():
        database.execute_sql(f"CREATE TEMP TABLE {table} AS {sql}", params)
        return [database.execute_sql(query, args).fetchall() for query, args in queries]
    if not queries:
        return []
    # A row constructor of q.* renders as {"f1": …, "f2": …} in column order, whatever the columns'
    # names (a query may repeat one); an aggregate reads its subquery's rows in their ORDER BY.
    answers = ", ".join(f"(SELECT json_agg(ROW(q{i}.*)) FROM ({query}) q{i})" for i, (query, _) in enumerate(queries))
    (row,) = database.execute_sql(f"WITH {table} AS MATERIALIZED ({sql}) SELECT {answers}",
                                  [*params, *(arg for _, args in queries for arg in args)]).fetchall()
    return [[tuple(item.values()) for item in rows or ()] for rows in row]


# The first user an anonymous id is joined to keeps it (a shared device's earlier history).
IDENTITY_INSERT = "INSERT INTO identity (app_id, actor, user_id, created_at)"
IDENTITY_CONFLICT = "ON CONFLICT (app_id, actor) DO NOTHING"


def insert_identity_sql() -> str:
    return f"{IDENTITY_INSERT} VALUES ({_params(4)}) {IDENTITY_CONFLICT}"


# Traits merge by top-level key: a trait sent replaces the stored one whole, a null included
# (PostgreSQL's ||, and dict.update within a request). SQLite's json_patch would merge nested
# objects and delete nulls, so there the stored and the sent keys are rebuilt into one object,
# each value kept as the JSON it was (json_each gives true/false as 1/0, objects as text).
_SQLITE_TRAITS_MERGE = (
    "CASE WHEN excluded.traits = '{}' THEN profile.traits ELSE (SELECT json_group_object(key, CASE type "
    "WHEN 'true' THEN json('true') WHEN 'false' THEN json('false') WHEN 'object' THEN json(value) "
    "WHEN 'array' THEN json(value) ELSE value END) FROM ("
    "SELECT key, type, value FROM json_each(profile.traits) "
    "WHERE key NOT IN (SELECT key FROM json_each(excluded.traits)) "
    "UNION ALL SELECT key, type, value FROM json_each(excluded.traits))) END")


def profile_upsert() -> tuple[str, str]:
    """The profile upsert around its ``VALUES``: the statement's head and its conflict clause."""
    if is_postgres():
        merge = "(profile.traits::jsonb || excluded.traits::jsonb)::text"
        least, greatest = "LEAST", "GREATEST"
    else:
        merge = _SQLITE_TRAITS_MERGE
        least, greatest = "MIN", "MAX"
    return ("INSERT INTO profile (app_id, user_id, traits, timezone, first_seen, last_seen, locale)",
            "ON CONFLICT (app_id, user_id) DO UPDATE SET "
            f"traits = {merge}, "
            "timezone = COALESCE(excluded.timezone, profile.timezone), "
            "locale = COALESCE(excluded.locale, profile.locale), "
            f"first_seen = {least}(profile.first_seen, excluded.first_seen), "
            f"last_seen = {greatest}(profile.last_seen, excluded.last_seen)")


def upsert_profile_sql() -> str:
    head, conflict = profile_upsert()
    return f"{head} VALUES ({_params(7)}) {conflict}"


# --- story engine ----------------------------------------------------------------------------
# Property paths reaching these helpers were validated as dotted identifiers by the template schema.

# A string counts as a number when it is one in JSON's own notation ("5000", "-1.5", "2e3"): at
# most 40 characters, an exponent of at most two digits (so far inside a double's range that the
# cast fails on neither engine), no spaces. Anything else (names, booleans, "12 km") is not one.
NUMERIC_TEXT_MAX = 40
_PG_NUMERIC_TEXT = r"'^-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][-+]?[0-9]{1,2})?$'"


def json_value_sql(column: str, path: str) -> str:
    """A JSON property of an event's ``properties`` or ``context`` (models.EventJSON): typed on
    SQLite, text on PostgreSQL."""
    if is_postgres():
        return f"({column} {_step(path, text=True)})"
    return f"json_extract({column}, '$.{path}')"


def json_number_sql(column: str, path: str) -> str:
    """A JSON property read as a number, the same on both engines: a JSON number, or a string
    holding one (see above), else NULL. Every metric and filter that reads a number reads this."""
    if is_postgres():
        text = json_value_sql(column, path)
        return (f"CASE jsonb_typeof({column} {_step(path, text=False)}) "
                f"WHEN 'number' THEN CAST({text} AS DOUBLE PRECISION) "
                f"WHEN 'string' THEN CASE WHEN length({text}) <= {NUMERIC_TEXT_MAX} AND {text} ~ {_PG_NUMERIC_TEXT} "
                f"THEN CAST({text} AS DOUBLE PRECISION) END END")
    value = json_value_sql(column, path)
    # SQLite has no regular expressions: the characters a JSON number uses, no three-digit
    # exponent, and json_valid (strict RFC 8259, no JSON5) for the grammar say the same thing.
    # Read as a double, as PostgreSQL's is: a sum of 64-bit integers past 2^63 would make SQLite's
    # SUM raise "integer overflow" (each number fits: ingest refuses those that do not).
    return (f"CASE json_type({column}, '$.{path}') WHEN 'integer' THEN CAST({value} AS REAL) WHEN 'real' THEN {value} "
            f"WHEN 'text' THEN CASE WHEN length({value}) <= {NUMERIC_TEXT_MAX} "
            f"AND {value} NOT GLOB '*[^0-9.eE+-]*' AND {value} NOT GLOB '*[eE]*[0-9][0-9][0-9]*' "
            f"AND json_valid({value}) THEN CAST({value} AS REAL) END END")


def _step(path: str, text: bool) -> str:
    """The jsonb operator reaching ``path``, as text or as jsonb: one key by ``->>``/``->``
    (about a third cheaper than a path's ``#>>``), a dotted path by ``#>>``/``#>``."""
    keys = path.split(".")
    if len(keys) == 1:
        return f"{'->>' if text else '->'} '{path}'"
    return f"{'#>>' if text else '#>'} '{{{','.join(keys)}}}'"


def glob_sql(column: str) -> str:
    """Shell-style pattern match (``/lessons/*``); pair with ``glob_param``."""
    return f"{column} LIKE {database.param} ESCAPE '\\'" if is_postgres() else f"{column} GLOB {database.param}"


def glob_param(pattern: str) -> str:
    if is_postgres():
        return _like_escape(pattern).replace("*", "%").replace("?", "_")
    return pattern


def _like_escape(text: str) -> str:
    """``text`` matched as itself by LIKE ... ESCAPE '\\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def mod_sql(value: str, divisor: int) -> str:
    """``value`` modulo ``divisor``; psycopg2 reads a bare ``%`` as a placeholder."""
    return f"(({value}) {'%%' if is_postgres() else '%'} {divisor})"


def contains_sql(column: str) -> str:
    """``column`` contains the parameter, case-insensitively on both engines (SQLite's LIKE is,
    PostgreSQL's ILIKE is the one that is); pair with ``contains_param``."""
    return f"{column} {'ILIKE' if is_postgres() else 'LIKE'} {database.param} ESCAPE '\\'"


def contains_param(text: str) -> str:
    return f"%{_like_escape(text)}%"


def json_bool_param(value: bool) -> Any:
    """What a JSON boolean read by ``json_value_sql`` equals: 1/0 on SQLite, 'true'/'false' text
    on PostgreSQL."""
    if is_postgres():
        return "true" if value else "false"
    return int(value)


def text_sql(column: str) -> str:
    """A value compared or grouped as text, whatever JSON type it had."""
    return f"CAST({column} AS TEXT)"


def label_sql(column: str) -> str:
    """A value grouped, counted and ranked as text (a top list's labels, a count of distinct
    values), ordered by its bytes on both engines: SQLite's own order, and PostgreSQL's with
    collation "C" rather than the database's, which may rank tied labels otherwise (ICU's en-US
    puts "apple" before "Zebra")."""
    return f'{text_sql(column)} COLLATE "C"' if is_postgres() else text_sql(column)

