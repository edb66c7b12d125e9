"""The event store's secondary keys, built behind ingest in bulk, in a file of their own (SQLite).

Events arrive from random users with random message ids, seconds out of order. An ordinary
index on such keys puts nearly every new row on a different page, and each commit rewrites
those pages whole, which held raw inserts to a small fraction of what an append-only table
takes (the measurements: docs/INGEST.md, "Why the layout is what it is").

So ingest only appends to ``event`` (rows in arrival order), and a pass here copies the new
rows' keys, up to hundreds of thousands at a time in one transaction, into WITHOUT ROWID
tables, so each page a pass touches is written once per pass instead of once per row:

* ``message_key`` (app_id, message_id) → event id: exactly-once storage (DESIGN.md: messageId
  is unique per app). Ingest checks it (a read) together with the keys of the rows not yet
  passed (``dedupe``); should a writer skip that check, only the first row with a
  message id is ever made findable. Random keys land all over the table, so a pass rewrites
  most of its pages, and the bigger the table the more of them (docs/INGEST.md). So once it
  holds ``DIRECT_BELOW`` keys, passes put new keys in ``recent_message_key``, a fraction of its
  size, and fold that into ``message_key`` in key order, each page written once, when it holds
  1/``RECENT_SHARE`` as many. A key is in one of the two, never both; lookups read both;
* ``event_by_actor`` (app_id, part, actor, timestamp, id): a user's events, for stories.
  ``part`` is the event id's block of 2^17 (131,072 events): a pass only touches the newest
  part, and a reader seeks once per part;
* ``event_by_name`` (app_id, name, timestamp, id): one kind of event over time, for stats.

``event_index_state.indexed_through`` is the last event id passed. Readers see everything:
what the tables find plus the tail above the watermark (read by rowid), in one statement.

The tables live in their own file beside the store (``sqlite_files.keys_path``), attached to every
connection as ``keys``; table names are unique across the two, so SQL names them plainly.
Two things follow from a file of their own. A pass holds that file's write lock, not the
store's, so ingest goes on appending while a pass runs (on the other core). And ingest's
lookups keep their page cache: a commit to a file makes every other connection to it drop
its cached pages, and the keys file only changes once per pass. The keys are derived data:
``open_keys`` rebuilds them from the store when the file is missing or belongs to another
store (a restored backup, a deleted store), so only the store needs backing up.

On PostgreSQL ids are not committed in order, so a watermark would be unsound there; it keeps
ordinary indexes (created by the migration) and the read helpers query ``event`` directly.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .db import database, is_sqlite
from .sqlite_files import FileLock, FileWorker, keys_path, lock_path, sqlite3, sqlite_connection

log = logging.getLogger(__name__)

# A pass writes each page of the key tables it touches once, and with random keys it touches
# most of them whatever its size: so passes are made big (a longer tail to read) and rare.
# The tail is passed once it holds MIN_PASS_ROWS events or its oldest is MAX_TAIL_AGE_MS old.
MIN_PASS_ROWS = 100_000
MAX_TAIL_AGE_MS = 5_000
MAX_PASS_ROWS = 400_000  # rows per pass: bounds a pass's transaction and its memory
DIRECT_BELOW = 1 << 21  # message keys up to which passes insert into message_key itself
RECENT_SHARE = 8  # recent keys are folded into message_key once they are 1/8 of its keys
OPEN_END = 2 ** 62
PART_BITS = 17

MESSAGE_KEY_TABLES = ("message_key", "recent_message_key")
KEYS_SCHEMA = (
    *(f"CREATE TABLE {table} (app_id INTEGER NOT NULL, message_id TEXT NOT NULL, "
      "event_id INTEGER NOT NULL, PRIMARY KEY (app_id, message_id)) WITHOUT ROWID" for table in MESSAGE_KEY_TABLES),
    "CREATE TABLE event_by_actor (app_id INTEGER NOT NULL, part INTEGER NOT NULL, actor TEXT NOT NULL, "
    "timestamp INTEGER NOT NULL, event_id INTEGER NOT NULL, "
    "PRIMARY KEY (app_id, part, actor, timestamp, event_id)) WITHOUT ROWID",
    "CREATE TABLE event_by_name (app_id INTEGER NOT NULL, name TEXT NOT NULL, "
    "timestamp INTEGER NOT NULL, event_id INTEGER NOT NULL, "
    "PRIMARY KEY (app_id, name, timestamp, event_id)) WITHOUT ROWID",
    # The watermark, the last row passed (its id and message id: the store it came from), and
    # how many keys each message key table holds.
    "CREATE TABLE event_index_state (id INTEGER PRIMARY KEY CHECK (id = 1), indexed_through INTEGER NOT NULL, "
    "last_event_id INTEGER, last_message_id TEXT, settled_keys INTEGER NOT NULL, recent_keys INTEGER NOT NULL)",
    "INSERT INTO event_index_state (id, indexed_through, settled_keys, recent_keys) VALUES (1, 0, 0, 0)",
)
KEYS_LAYOUT = 2  # the keys file's user_version; a file of another layout is rebuilt
SCHEMA_2_KEY_TABLES = ("message_key", "event_by_actor", "event_by_name", "event_index_state")
POSTGRES_SCHEMA = (
    "CREATE UNIQUE INDEX event_app_id_message_id ON event (app_id, message_id)",
    "CREATE INDEX event_app_id_actor_timestamp ON event (app_id, actor, timestamp)",
    "CREATE INDEX event_app_id_name_timestamp ON event (app_id, name, timestamp)",
)
# The events found by name (player/stats.py, triggers/funnel.py): the player's own, which story
# stats and triggers' funnels count. On PostgreSQL only these are in the name index: an index of
# every event's name cost each ingested batch about a fifth of its insert time (docs/SCALE.md)
# and served nothing else. (notification_opened joined in schema 14; SQLite's key table has no
# such event from before, as none can name a delivery: its layout did not change.)
NAMED_EVENTS = ("story_viewed", "frame_viewed", "story_completed", "story_shared", "story_closed",
                "notification_opened")
POSTGRES_NAME_INDEX = ("CREATE INDEX event_player_by_name ON event (app_id, name, timestamp) WHERE name IN ("
                       + ", ".join(f"'{name}'" for name in NAMED_EVENTS) + ")")
SCHEMA_1_INDEXES = ("event_app_id_client_timestamp_message_id", "event_app_id_actor_timestamp",
                    "event_app_id_name_timestamp")

# One pass over the rows in (done, top], read once into a small temporary table.
PASS_READ = ("CREATE TEMP TABLE index_pass AS SELECT id, app_id, message_id, actor, name, timestamp "
             "FROM event WHERE id > ? AND id <= ?")
# Message ids are random: inserted in key order, each page of the table is visited once, in
# order (about half the time of arrival order at 1–2M events). The first row with a key wins,
# and a key the other table holds is not new.
PASS_KEYS = ("INSERT INTO {into} (app_id, message_id, event_id) SELECT app_id, message_id, id FROM index_pass p "
             "WHERE NOT EXISTS (SELECT 1 FROM {other} o WHERE o.app_id = p.app_id AND o.message_id = p.message_id) "
             "ORDER BY app_id, message_id, id ON CONFLICT DO NOTHING")
# Only when some key was already held: drop the repeats before anything makes them findable.
PASS_DROP_REPEATS = ("DELETE FROM index_pass WHERE NOT EXISTS (SELECT 1 FROM {into} k "
                     "WHERE k.app_id = index_pass.app_id AND k.message_id = index_pass.message_id "
                     "AND k.event_id = index_pass.id)")
FOLD_RECENT_KEYS = (
    "INSERT INTO message_key SELECT app_id, message_id, event_id FROM recent_message_key "
    "ORDER BY app_id, message_id ON CONFLICT DO NOTHING",
    "DELETE FROM recent_message_key",
    "UPDATE event_index_state SET settled_keys = settled_keys + recent_keys, recent_keys = 0",
)
PASS_INDEX = (
    f"INSERT INTO event_by_actor (app_id, part, actor, timestamp, event_id) SELECT app_id, id >> {PART_BITS}, "
    "actor, timestamp, id FROM index_pass",
    "INSERT INTO event_by_name (app_id, name, timestamp, event_id) SELECT app_id, name, timestamp, id "
    "FROM index_pass WHERE name IS NOT NULL",
    "DROP TABLE index_pass",
)


def drop_schema_1_indexes() -> None:
    """Migration step from schema 1 (ordinary indexes on ``event``); PostgreSQL keeps its own."""
    for name in SCHEMA_1_INDEXES:
        database.execute_sql(f"DROP INDEX IF EXISTS {name}")
    if not is_sqlite():
        for sql in POSTGRES_SCHEMA:
            database.execute_sql(sql)


def drop_keys_from_the_store() -> None:
    """Migration step from schema 2, whose key tables were in the store (SQLite)."""
    if is_sqlite():
        for table in SCHEMA_2_KEY_TABLES:
            database.execute_sql(f"DROP TABLE IF EXISTS main.{table}")


def keys_connection(path: str) -> Any:
    """The keys file of the store at ``path``, with the store attached read-only: a pass's
    connection. Its commits checkpoint the keys file's WAL (passes run in the background)."""
    return sqlite_connection(keys_path(path), store=path, wal_autocheckpoint=1000)


def keys_lock(path: str) -> FileLock:
    """The lock passes over the store at ``path`` take turns on (the keys file's writers)."""
    return FileLock(lock_path(keys_path(path)))


@contextmanager
def keys_writer(path: str) -> Iterator[tuple[Any, FileLock]]:
    """A pass's connection to the keys file of the store at ``path`` and the lock passes take
    turns on (hold it around each pass); both closed on leaving."""
    con, lock = keys_connection(path), keys_lock(path)
    try:
        yield con, lock
    finally:
        lock.close()
        con.close()


def open_keys(path: str) -> None:
    """Make the keys file belong to the store at ``path`` (creating or rebuilding it), then pass
    whatever the store holds beyond it. Run at start-up; a long catch-up is logged."""
    with keys_writer(path) as (con, lock), lock:
        mismatch = _mismatch(con)
        if mismatch:
            if mismatch != "no keys yet":
                log.warning("rebuilding the event keys of %s: the keys file is %s", path, mismatch)
            for (table,) in con.execute("SELECT name FROM main.sqlite_master WHERE type = 'table' "
                                       "AND name NOT LIKE 'sqlite%'").fetchall():
                con.execute(f'DROP TABLE main."{table}"')
            for sql in KEYS_SCHEMA:
                con.execute(sql)
            con.execute(f"PRAGMA main.user_version = {KEYS_LAYOUT}")
        done, top = tail_bounds(con)
        while passed := catch_up(con):
            done += passed
            if top > MAX_PASS_ROWS:
                log.info("event keys: %d of %d events passed", min(done, top), top)


def _mismatch(con: Any) -> str | None:
    """Why the keys file cannot serve the store attached to ``con`` (None: it can)."""
    if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'event_index_state'").fetchone():
        return "no keys yet"
    if con.execute("PRAGMA main.user_version").fetchone()[0] != KEYS_LAYOUT:
        return "of another layout"
    done, last_id, last_message_id = con.execute(
        "SELECT indexed_through, last_event_id, last_message_id FROM event_index_state").fetchone()
    if done > con.execute("SELECT COALESCE(MAX(id), 0) FROM store.event").fetchone()[0]:
        return "ahead of the store"
    if last_id is not None and con.execute("SELECT message_id FROM store.event WHERE id = ?",
                                           (last_id,)).fetchone() != (last_message_id,):
        return "another store's"
    return None


def tail_bounds(con: Any) -> tuple[int, int]:
    """(the watermark, the newest event id): the tail is the ids in between."""
    bounds: tuple[int, int] = con.execute("SELECT indexed_through, (SELECT COALESCE(MAX(id), 0) FROM event) "
                       "FROM event_index_state").fetchone()
    return bounds


def due(con: Any, done: int, top: int, now_ms: int) -> bool:
    """Whether a tail of (done, top] is long or old enough for a pass (a read; no lock needed)."""
    if top - done >= MIN_PASS_ROWS:
        return True
    oldest = _oldest_in_tail(con, done)
    return oldest is not None and now_ms - oldest >= MAX_TAIL_AGE_MS


def lag(con: Any, now_ms: int) -> tuple[int, float]:
    """(events not yet passed, seconds since the oldest of them arrived): two seeks by rowid."""
    done, top = tail_bounds(con)
    oldest = _oldest_in_tail(con, done) if top > done else None
    return top - done, 0.0 if oldest is None else max(now_ms - oldest, 0) / 1000


def _oldest_in_tail(con: Any, done: int) -> int | None:
    """When the tail's first event arrived (ms), or None for an empty tail."""
    row = con.execute("SELECT received_at FROM event WHERE id > ? ORDER BY id LIMIT 1", (done,)).fetchone()
    return None if row is None else row[0]


def catch_up(con: Any, limit: int | None = MAX_PASS_ROWS) -> int:
    """Pass the events after the watermark (at most ``limit``); return how many ids were passed.

    ``con`` reaches both files (``keys_connection``, or the store's with the keys attached), in
    autocommit mode (the pass makes its own transaction) or already inside a transaction.
    """
    own_transaction = not con.in_transaction
    if own_transaction:
        con.execute("BEGIN IMMEDIATE")
    try:
        done, top = tail_bounds(con)
        if limit is not None:
            top = min(top, done + limit)
        if top > done:
            _pass(con, done, top)
        if own_transaction:
            con.execute("COMMIT")
    except BaseException:
        if own_transaction and con.in_transaction:
            con.execute("ROLLBACK")
        raise
    return max(top - done, 0)


def _pass(con: Any, done: int, top: int) -> None:
    con.execute(PASS_READ, (done, top))
    rows, last_id = con.execute("SELECT COUNT(*), MAX(id) FROM index_pass").fetchone()
    if last_id is not None:
        con.execute("UPDATE event_index_state SET last_event_id = ?, last_message_id = "
                    "(SELECT message_id FROM index_pass WHERE id = ?)", (last_id, last_id))
    settled, recent = con.execute("SELECT settled_keys, recent_keys FROM event_index_state").fetchone()
    into, other = MESSAGE_KEY_TABLES if settled < DIRECT_BELOW and not recent else reversed(MESSAGE_KEY_TABLES)
    new_keys = con.execute(PASS_KEYS.format(into=into, other=other)).rowcount
    if new_keys < rows:
        con.execute(PASS_DROP_REPEATS.format(into=into))
    for sql in PASS_INDEX:
        con.execute(sql)
    column = "settled_keys" if into == "message_key" else "recent_keys"
    con.execute(f"UPDATE event_index_state SET indexed_through = ?, {column} = {column} + ?", (top, new_keys))
    if into != "message_key" and (recent + new_keys) * RECENT_SHARE >= settled:
        for sql in FOLD_RECENT_KEYS:
            con.execute(sql)


# --- reading ---
# Each returns (SQL condition on the event table ``alias``, its parameters): one app's events
# with some actors (or names) whose timestamp is in [start_ms, end_ms).

def by_actor(alias: str, app_id: int, actors: Sequence[str], start_ms: int,
             end_ms: int) -> tuple[str, list[Any]]:
    # Every part up to the watermark's, listed in the same statement (the same snapshot).
    parts = (f"WITH RECURSIVE parts(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM parts WHERE n < "
             f"(SELECT indexed_through FROM event_index_state) >> {PART_BITS}) SELECT n FROM parts")
    return _found(alias, "event_by_actor", "actor", app_id, actors, start_ms, end_ms, f"part IN ({parts}) AND ")


def by_name(alias: str, app_id: int, names: Sequence[str], start_ms: int,
            end_ms: int = OPEN_END) -> tuple[str, list[Any]]:
    """Events of ``names`` (some of NAMED_EVENTS) in [start_ms, end_ms)."""
    if not set(names) <= set(NAMED_EVENTS):
        raise ValueError(f"only {NAMED_EVENTS} are found by name, not {sorted(set(names) - set(NAMED_EVENTS))}")
    return _found(alias, "event_by_name", "name", app_id, names, start_ms, end_ms)


def _found(alias: str, table: str, column: str, app_id: int, values: Sequence[str], start_ms: int,
           end_ms: int, also: str = "") -> tuple[str, list[Any]]:
    """``table`` found by (app_id, ``also`` …, ``column``, timestamp), plus the tail."""
    p = database.param
    marks = ", ".join([p] * len(values))
    params = [app_id, *values, start_ms, end_ms]
    if not is_sqlite():
        return (f"{alias}.app_id = {p} AND {alias}.{column} IN ({marks}) "
                f"AND {alias}.timestamp >= {p} AND {alias}.timestamp < {p}", params)
    indexed = (f"SELECT event_id FROM {table} WHERE app_id = {p} AND {also}{column} IN ({marks}) "
               f"AND timestamp >= {p} AND timestamp < {p}")
    # "+app_id": the tail is read by rowid from the watermark on, never through an index that
    # would walk all of the app's events.
    tail = (f"SELECT id FROM event WHERE id > (SELECT indexed_through FROM event_index_state) "
            f"AND +app_id = {p} AND {column} IN ({marks}) AND timestamp >= {p} AND timestamp < {p}")
    return f"{alias}.id IN ({indexed} UNION ALL {tail})", params * 2


# --- the background pass ---------------------------------------------------------------------

class Indexer(FileWorker):
    """Keeps the tail short, one thread per process and store (see sqlite_files.FileWorker).

    It wakes every ``interval`` seconds and, when a pass is ``due``, makes it under the keys
    file's writers' lock (so passes of several processes take turns instead of spinning on
    SQLite's busy handler). It stops once the tail is empty and nothing arrived for a while;
    the next ingest request starts it again.
    """

    name = "event-indexer"

    def _run(self, path: str) -> None:
        quiet = 0.0
        with keys_writer(path) as (con, lock):
            while quiet < self.idle_stop and os.path.exists(path):
                time.sleep(self.interval)
                try:
                    done, top = tail_bounds(con)
                    if not due(con, done, top, int(time.time() * 1000)):
                        quiet = quiet + self.interval if top <= done else 0.0
                        continue
                    with lock:
                        passed = catch_up(con)
                except sqlite3.Error as exc:  # the tail stays readable; the next pass retries
                    log.warning("event index pass deferred: %s", exc)
                    continue
                log.debug("event index pass: %d events", passed)
                quiet = 0.0


indexer = Indexer()


@contextmanager
def writes_paused() -> Iterator[None]:
    """No index pass and no ingest writer while the block changes stored events (on SQLite:
    passes first, the order every writer takes the two locks in). PostgreSQL needs no pause."""
    if not is_sqlite():
        yield
        return
    path = database.obj.database
    keys, writers = keys_lock(path), FileLock(lock_path(path))
    try:
        with keys, writers:
            yield
    finally:
        writers.close()
        keys.close()


def forget(app_id: int, actors: list[str], rows: Sequence[tuple[int, str, int]]) -> None:
    """Drop the keys of erased events (``rows``: id, name, timestamp) of ``actors``, inside the
    caller's transaction; events in the tail are passed as tombstones later (users.data).
    PostgreSQL keeps no key tables: nothing to drop."""
    if not is_sqlite():
        return
    p = database.param
    (watermark,) = database.execute_sql("SELECT indexed_through FROM event_index_state").fetchone()
    database.execute_sql(
        f"DELETE FROM event_by_actor WHERE app_id = {p} AND part IN (WITH RECURSIVE parts(n) AS "
        f"(SELECT 0 UNION ALL SELECT n + 1 FROM parts WHERE n < {p} >> {PART_BITS}) "
        f"SELECT n FROM parts) AND actor IN ({', '.join([p] * len(actors))})", [app_id, watermark, *actors])
    named = [(app_id, name, timestamp, event_id) for event_id, name, timestamp in rows
             if name is not None and event_id <= watermark]
    if named:
        database.cursor().executemany(
            f"DELETE FROM event_by_name WHERE app_id = {p} AND name = {p} AND timestamp = {p} AND event_id = {p}",
            named)
