"""Exactly-once storage at ingest, without a unique index on random message ids (SQLite).

An event's key is (app_id, message_id) (DESIGN.md: messageId is unique per app). A key is new
if neither the message key tables (``message_key`` and ``recent_message_key``: every event
passed by ``event_keys``) nor the tail above the pass's watermark holds it.

* Before taking the write lock, a request looks its keys up in those tables (reads, in
  parallel with other requests) and notes the watermark it saw (``Lookup``). The process reads
  the keys file through one long-lived connection (``KeysReader``), whose page cache survives
  ingest's commits (they go to the store) and is only dropped when a pass commits.
* Under the lock the decision is final: the process's in-memory copy of the tail's keys is
  brought up to date (the rows other processes appended since, read by rowid; the keys a pass
  has moved out are forgotten), and only if a pass ran since the lookup are the remaining keys
  looked up again, in the same snapshot of the keys file as the watermark that said so (passes
  do not wait for ingest). The process adds its own keys as it inserts them.

Keys are held as one string, ``"<app_id> <message_id>"`` (app_id is an integer, so the string
is unambiguous); SQL builds the same string with ``||``.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..store import dialect
from ..store.dialect import Row
from ..store.event_keys import MESSAGE_KEY_TABLES, keys_connection
from ..store.sqlite_files import PerProcess

Parts = tuple[int, str]  # (app_id, message_id)


def key_of(parts: Parts) -> str:
    return f"{parts[0]} {parts[1]}"


def key_sql(alias: str = "") -> str:
    """The same key built in SQL from a row of ``event`` or a message key table."""
    return f"{alias}app_id || ' ' || {alias}message_id"


@dataclass
class Lookup:
    """What a request learnt about its keys before taking the lock."""

    parts: list[Parts]
    keys: list[str]
    stored: set[str]  # the keys the message key tables held
    watermark: int  # the pass's watermark, read just before ``stored``


class KeysReader:
    """One connection per process to a store's keys file, for lookups (it keeps its cache)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection = PerProcess(keys_connection)

    @contextmanager
    def snapshot(self, path: str) -> Iterator[Any]:
        """A cursor on the keys file of the store at ``path``, in one read transaction."""
        with self._lock:
            con = self._connection(path)
            con.execute("BEGIN")
            try:
                yield con.cursor()
            finally:
                con.execute("COMMIT")


keys_reader = KeysReader()


def look_up(path: str, parts: list[Parts]) -> Lookup:
    """Which keys the store at ``path`` has passed already (a read; no lock needed)."""
    with keys_reader.snapshot(path) as cursor:
        # One snapshot: every key passed up to the watermark is in one of the tables.
        watermark, tables = _state(cursor)
        return Lookup(parts, [key_of(p) for p in parts], stored_keys(cursor, parts, tables), watermark)


def _state(cursor: Any) -> tuple[int, tuple[str, ...]]:
    """The pass's watermark, and the message key tables that hold any key (below 2M keys, the
    recent table is empty and not worth a probe per key)."""
    watermark, recent = cursor.execute("SELECT indexed_through, recent_keys FROM event_index_state").fetchone()
    return watermark, MESSAGE_KEY_TABLES if recent else MESSAGE_KEY_TABLES[:1]


def stored_keys(cursor: Any, parts: list[Parts], tables: tuple[str, ...]) -> set[str]:
    """The keys among ``parts`` that ``tables`` hold (primary-key lookups)."""
    found: set[str] = set()
    for chunk in dialect.chunks(parts, per_item=2):
        values = ", ".join(["(?, ?)"] * len(chunk))
        found.update(key for (key,) in cursor.execute(
            f"WITH v(app_id, message_id) AS (VALUES {values}) "
            + " UNION ALL ".join(f"SELECT {key_sql('m.')} FROM v JOIN {table} m "
                                 "ON m.app_id = v.app_id AND m.message_id = v.message_id"
                                 for table in tables),
            [x for p in chunk for x in p]).fetchall())
    return found


class TailKeys:
    """The keys of the events above the pass's watermark, for one process and file."""

    def __init__(self) -> None:
        self._owner: tuple[int, str] | None = None
        self._ids: dict[str, int] = {}
        self._seen_through = 0
        self._watermark = 0

    def reset(self) -> None:
        """Forget everything; the next check reloads the tail (after a rollback, a fork, a new file)."""
        self._ids = {}
        self._seen_through = 0
        self._watermark = 0

    def insert_new(self, cursor: Any, path: str, insert_sql: str, rows: list[Row], lookup: Lookup) -> int:
        """Insert the ``rows`` (in ``lookup``'s order) whose key is stored nowhere yet, each key
        once; return how many. Call inside the write transaction, holding the write lock."""
        owner = (os.getpid(), path)
        if self._owner != owner:
            self.reset()
            self._owner = owner
        with keys_reader.snapshot(path) as keys:
            watermark, tables = _state(keys)
            self._catch_up(cursor, watermark)
            ids, stored = self._ids, lookup.stored
            pending: dict[str, tuple[Row, Parts]] = {}
            for row, key, parts in zip(rows, lookup.keys, lookup.parts, strict=True):
                if key not in stored and key not in ids and key not in pending:
                    pending[key] = (row, parts)
            if pending and watermark != lookup.watermark:  # a pass moved keys since the lookup
                again = stored_keys(keys, [parts for _, parts in pending.values()], tables)
                pending = {key: value for key, value in pending.items() if key not in again}
        if not pending:
            return 0
        cursor.executemany(insert_sql, [row for row, _ in pending.values()])
        # The lock is held and the tail was read up to the newest row, so ours got the next ids.
        last = cursor.execute("SELECT last_insert_rowid()").fetchone()[0]
        ids.update(zip(pending, range(last - len(pending) + 1, last + 1), strict=True))
        self._seen_through = last
        return len(pending)

    def _catch_up(self, cursor: Any, watermark: int) -> None:
        """Forget the keys passed up to ``watermark``; learn those of the rows appended since."""
        if watermark != self._watermark:  # a pass moved keys into the tables: forget them
            self._ids = {key: event_id for key, event_id in self._ids.items() if event_id > watermark}
            self._watermark = watermark
        start = max(self._seen_through, watermark)
        # One string for all the new keys: a row per key costs Python three objects.
        count, first, last, joined = cursor.execute(
            f"SELECT COUNT(*), MIN(id), MAX(id), group_concat(key, char(31)) FROM "
            f"(SELECT id, {key_sql()} AS key FROM event WHERE id > ? ORDER BY id)", (start,)).fetchone()
        if not count:
            return
        keys = joined.split("\x1f")
        if len(keys) == count == last - first + 1:  # ids are dense, and no key held the separator
            self._ids.update(zip(keys, range(first, last + 1), strict=True))
        else:
            self._ids.update(cursor.execute(f"SELECT {key_sql()}, id FROM event WHERE id > ?", (start,)).fetchall())
        self._seen_through = last


tail_keys = TailKeys()
