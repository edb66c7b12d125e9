"""Exactly-once storage at ingest, without a unique index on random message ids (SQLite).

The ingest writer holds the store's write lock while it checks and inserts (group commit and
its lock file), so a check made here is final. A message id is new if neither
``message_key`` (every event passed by ``event_indexes``) nor the tail above the watermark
holds it. Each process keeps the tail's keys in memory: it adds its own as it inserts them
and, whenever it takes the lock, reads the keys of the rows other processes appended since
(a rowid range read) and forgets the ones the pass has moved into ``message_key``.
"""
from __future__ import annotations

import os
from collections import deque
from typing import Any

Key = tuple[int, int, str]  # (app_id, client_timestamp, message_id): message_key's primary key
LOOKUP_CHUNK = 400


class TailKeys:
    """The message keys of the events above the index watermark, for one process and file."""

    def __init__(self) -> None:
        self._owner: tuple[int, str] | None = None
        self._ids: dict[Key, int] = {}
        self._order: deque[tuple[int, Key]] = deque()
        self._seen_through = 0

    def reset(self) -> None:
        """Forget everything; the next check reloads the tail (after a rollback, a fork, a new file)."""
        self._ids.clear()
        self._order.clear()
        self._seen_through = 0

    def insert_new(self, cursor: Any, path: str, insert_sql: str, rows: list[tuple], keys: list[Key]) -> int:
        """Insert the ``rows`` whose key (``keys``, in the same order) is stored nowhere yet,
        each key once; return how many. Call inside the write transaction."""
        owner = (os.getpid(), path)
        if self._owner != owner:
            self.reset()
            self._owner = owner
        self._catch_up(cursor)
        pending: dict[Key, tuple] = {}
        for row, key in zip(rows, keys):
            if key not in self._ids and key not in pending:
                pending[key] = row
        stored = _stored_keys(cursor, list(pending))
        fresh = [key for key in pending if key not in stored]
        if not fresh:
            return 0
        cursor.executemany(insert_sql, [pending[key] for key in fresh])
        # The lock is held and the tail was read up to the newest row, so ours got the next ids.
        last = cursor.execute("SELECT last_insert_rowid()").fetchone()[0]
        for event_id, key in enumerate(fresh, start=last - len(fresh) + 1):
            self._ids[key] = event_id
            self._order.append((event_id, key))
        self._seen_through = last
        return len(fresh)

    def _catch_up(self, cursor: Any) -> None:
        watermark = cursor.execute("SELECT indexed_through FROM event_index_state").fetchone()[0]
        while self._order and self._order[0][0] <= watermark:
            event_id, key = self._order.popleft()
            if self._ids.get(key) == event_id:
                del self._ids[key]
        start = max(self._seen_through, watermark)
        for event_id, *key in cursor.execute(
                "SELECT id, app_id, client_timestamp, message_id FROM event WHERE id > ?", (start,)).fetchall():
            key = tuple(key)
            self._ids.setdefault(key, event_id)
            self._order.append((event_id, key))
            start = event_id
        self._seen_through = start


def _stored_keys(cursor: Any, keys: list[Key]) -> set[Key]:
    """Which of ``keys`` the message_key table holds (primary-key lookups, reads only)."""
    found: set[Key] = set()
    for i in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[i:i + LOOKUP_CHUNK]
        values = ", ".join(["(?, ?, ?)"] * len(chunk))
        params = [part for key in chunk for part in key]
        found.update(cursor.execute(
            f"SELECT m.app_id, m.client_timestamp, m.message_id FROM (VALUES {values}) v JOIN message_key m "
            "ON m.app_id = v.column1 AND m.client_timestamp = v.column2 AND m.message_id = v.column3",
            params).fetchall())
    return found


tail_keys = TailKeys()
