"""Ingest's writes on PostgreSQL: a request's rows in a few round trips, in one lock order.

Sent one statement per row (``executemany``), a 500-event batch cost 500 round trips and 500
parses and plans; here its events are ``COPY``-ed into a temporary table of the session and
inserted from it in one statement, and its identities and profiles are multi-row statements sent
in the same round trip. The unique index on (app_id, message_id) drops repeats
(``ON CONFLICT DO NOTHING``), within the batch too.

Concurrent batches that touch the same users lock the same identity and profile rows. Every
transaction takes them table by table in one order (identities, profiles, events) and, in each
table, in key order, so two of them never wait for each other in a cycle. A deadlock or
serialization failure all the same (another writer on the database) rolls the transaction back
and is retried (``retrying``); past the attempts it is the busy store's 503 with Retry-After.
"""
from __future__ import annotations

import io
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from . import dialect

T = TypeVar("T")
Row = tuple[Any, ...]

ATTEMPTS = 4  # a transaction rolled back by a deadlock or a serialization failure is run this often at most
RETRY_PAUSE_S = (0.005, 0.04)  # jittered pause before another attempt, so the contenders part
ROLLED_BACK = ("40P01", "40001")  # deadlock_detected, serialization_failure
STAGE = "event_in"  # the session's staging table, emptied at every commit


def retrying(attempt: Callable[[], T]) -> T:
    """``attempt()`` (one whole transaction), run again when PostgreSQL rolled it back to break a
    deadlock or a serialization conflict, up to ATTEMPTS times."""
    for tries in range(1, ATTEMPTS):
        try:
            return attempt()
        except Exception as exc:
            if _sqlstate(exc) not in ROLLED_BACK:
                raise
        time.sleep(random.uniform(*RETRY_PAUSE_S) * tries)
    return attempt()


def _sqlstate(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    while seen is not None:  # peewee re-raises the driver's error as its own
        code = getattr(seen, "pgcode", None)
        if code:
            return str(code)
        seen = seen.__cause__ or seen.__context__
    return None


def write(cursor: Any, columns: Sequence[str], events: Sequence[Row], identities: Sequence[Row],
          profiles: Sequence[Row]) -> int:
    """Write one request's rows in the caller's transaction; return how many events were new.
    ``profiles`` holds one row per user (a multi-row upsert may not touch a row twice)."""
    names = ", ".join(columns)
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ON COMMIT DELETE ROWS AS "
                   f"SELECT {names} FROM event WITH NO DATA")
    cursor.copy_expert(f"COPY {STAGE} ({names}) FROM STDIN", io.StringIO(copy_text(events)))
    statements: list[bytes] = []
    if identities:
        rows = sorted(dict.fromkeys(identities), key=_key)  # stable: of two joins of one id, the first wins
        statements.append(_values(cursor, dialect.IDENTITY_INSERT, rows, dialect.IDENTITY_CONFLICT))
    if profiles:
        head, conflict = dialect.profile_upsert()
        statements.append(_values(cursor, head, sorted(profiles, key=_key), conflict))
    statements.append(  # the events last, counted: repeats (earlier requests', or in this one) are dropped
        f"WITH stored AS (INSERT INTO event ({names}) SELECT {names} FROM {STAGE} ORDER BY app_id, message_id "
        f"ON CONFLICT (app_id, message_id) DO NOTHING RETURNING 1) SELECT count(*) FROM stored".encode())
    cursor.execute(b"; ".join(statements))
    stored: int = cursor.fetchone()[0]
    return stored


def _key(row: Row) -> tuple[Any, Any]:
    return row[0], row[1]  # (app_id, actor) or (app_id, user_id): the unique key, the lock order


def _values(cursor: Any, head: str, rows: Sequence[Row], tail: str) -> bytes:
    """``head VALUES (…), (…) tail``, the rows bound by the driver."""
    one = "(" + ", ".join(["%s"] * len(rows[0])) + ")"
    return b"%s VALUES %s %s" % (head.encode(), b", ".join(cursor.mogrify(one, row) for row in rows), tail.encode())


def copy_text(rows: Sequence[Row]) -> str:
    """``rows`` in COPY's text format: tab-separated, ``\\N`` for NULL, backslashes escaped."""
    return "".join("\t".join(map(_copy_field, row)) + "\n" for row in rows)


def _copy_field(value: Any) -> str:
    if value is None:
        return "\\N"
    if not isinstance(value, str):
        return str(value)
    text: str = value
    if "\\" in text:  # JSON text escapes its own tabs and newlines, and so has a backslash
        text = text.replace("\\", "\\\\")
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text
