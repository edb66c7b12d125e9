"""The event store's secondary keys, built behind ingest in sorted bulk (SQLite).

Events arrive from random users with random message ids, seconds out of order. An ordinary
index on such keys puts nearly every new row on a different page, and each commit rewrites
those pages whole: at 1M events the indexes the store had (message id, user, event name) held
raw inserts of 500-event batches to ~30k rows/s; without them it takes ~500k.

So ingest only appends to ``event`` (rows in arrival order), and a pass here copies the new
rows' keys, up to hundreds of thousands at a time, into two WITHOUT ROWID tables whose keys
are laid out so that a pass writes near their end, not all over them:

* ``message_key`` (app_id, client_timestamp, message_id) → event id: exactly-once storage.
  A retry resends the same event, timestamp included, so the client's timestamp leads the
  key and live traffic lands at the end. Ingest checks it (a read) together with the keys of
  the rows not yet passed (``message_dedupe``); should a writer skip that check, only the
  first row with a key is ever made findable;
* ``event_by_actor`` (app_id, part, actor, timestamp, id): a user's events, for stories.
  ``part`` is the event id's block of 2^20: a pass only touches the newest part, and a
  reader seeks once per part (one per 131k events).

The player's own engagement events (a small share of all events) keep an ordinary partial
index, ``event_engagement``, for the story stats.

``event_index_state.indexed_through`` is the last event id passed. Readers see everything:
what the tables find plus the tail above the watermark (read by rowid), in one snapshot.

On PostgreSQL ids are not committed in order, so a watermark would be unsound there; it keeps
ordinary indexes (created by the migration) and the read helpers query ``event`` directly.
"""
from __future__ import annotations

import fcntl
import logging
import os
import time
from typing import Any, Sequence

from .db import FileWorker, database, is_sqlite, sqlite3, sqlite_connection

log = logging.getLogger(__name__)

# A pass writes each page of the key tables it touches once, and with random keys it touches
# most of them whatever its size: so passes are made big (a longer tail to read) and rare.
# The tail is passed once it holds MIN_PASS_ROWS events or its oldest is MAX_TAIL_AGE_MS old.
MIN_PASS_ROWS = 100_000
MAX_TAIL_AGE_MS = 5_000
MAX_PASS_ROWS = 400_000  # rows per pass: bounds how long a pass holds the writers' lock
OPEN_END = 2 ** 62

PART_BITS = 17
# What the player records about stories (see player/stats.py); indexed by name as they arrive.
ENGAGEMENT_EVENTS = ("story_viewed", "frame_viewed", "story_completed", "story_shared", "story_closed")
# Written as ORs: SQLite evaluates a partial index's "IN (…)" on every insert at ~1.4 µs a row.
ENGAGEMENT_SQL = f"({' OR '.join(f'name = {name!r}' for name in ENGAGEMENT_EVENTS)})"
ENGAGEMENT_INDEX = f"CREATE INDEX event_engagement ON event (app_id, name, timestamp) WHERE {ENGAGEMENT_SQL}"

SQLITE_SCHEMA = (
    "CREATE TABLE message_key (app_id INTEGER NOT NULL, client_timestamp INTEGER NOT NULL, "
    "message_id TEXT NOT NULL, event_id INTEGER NOT NULL, "
    "PRIMARY KEY (app_id, client_timestamp, message_id)) WITHOUT ROWID",
    "CREATE TABLE event_by_actor (app_id INTEGER NOT NULL, part INTEGER NOT NULL, actor TEXT NOT NULL, "
    "timestamp INTEGER NOT NULL, event_id INTEGER NOT NULL, "
    "PRIMARY KEY (app_id, part, actor, timestamp, event_id)) WITHOUT ROWID",
    "CREATE TABLE event_index_state (id INTEGER PRIMARY KEY CHECK (id = 1), indexed_through INTEGER NOT NULL)",
    "INSERT INTO event_index_state (id, indexed_through) VALUES (1, 0)",
    ENGAGEMENT_INDEX,
)
POSTGRES_SCHEMA = (
    "CREATE UNIQUE INDEX event_app_id_client_timestamp_message_id ON event (app_id, client_timestamp, message_id)",
    "CREATE INDEX event_app_id_actor_timestamp ON event (app_id, actor, timestamp)",
    ENGAGEMENT_INDEX,
)
SCHEMA_1_INDEXES = ("event_app_id_client_timestamp_message_id", "event_app_id_actor_timestamp",
                    "event_app_id_name_timestamp")

# One pass over the rows in (done, top], read once into a small temporary table.
PASS_READ = ("CREATE TEMP TABLE index_pass AS SELECT id, app_id, client_timestamp, message_id, actor, name, "
             "timestamp FROM event WHERE id > ? AND id <= ?")
# (Sorting the rows first measured no faster: the pages a pass touches are in the cache.)
PASS_KEYS = ("INSERT INTO message_key (app_id, client_timestamp, message_id, event_id) "
             "SELECT app_id, client_timestamp, message_id, id FROM index_pass WHERE true ON CONFLICT DO NOTHING")
# Only when some key was already held: drop the repeats before anything makes them findable.
PASS_DROP_REPEATS = ("DELETE FROM index_pass WHERE NOT EXISTS (SELECT 1 FROM message_key k "
                     "WHERE k.app_id = index_pass.app_id AND k.client_timestamp = index_pass.client_timestamp "
                     "AND k.message_id = index_pass.message_id AND k.event_id = index_pass.id)")
PASS_INDEX = (
    f"INSERT INTO event_by_actor (app_id, part, actor, timestamp, event_id) SELECT app_id, id >> {PART_BITS}, "
    "actor, timestamp, id FROM index_pass",
    "DROP TABLE index_pass",
)


def create_schema() -> None:
    """Migration step from schema 1 (ordinary indexes on ``event``)."""
    if not is_sqlite():
        for name in SCHEMA_1_INDEXES:
            database.execute_sql(f"DROP INDEX IF EXISTS {name}")
        for sql in POSTGRES_SCHEMA:
            database.execute_sql(sql)
        return
    for sql in SQLITE_SCHEMA:
        database.execute_sql(sql)
    for name in SCHEMA_1_INDEXES:
        database.execute_sql(f"DROP INDEX IF EXISTS {name}")
    catch_up(database.connection(), limit=None)


def due(con: Any, now_ms: int) -> bool:
    """Whether the tail is long or old enough for a pass (a read; no lock needed)."""
    done = con.execute("SELECT indexed_through FROM event_index_state").fetchone()[0]
    top = con.execute("SELECT MAX(id) FROM event").fetchone()[0] or 0
    if top - done >= MIN_PASS_ROWS:
        return True
    oldest = con.execute("SELECT received_at FROM event WHERE id > ? ORDER BY id LIMIT 1", (done,)).fetchone()
    return oldest is not None and now_ms - oldest[0] >= MAX_TAIL_AGE_MS


def catch_up(con: Any, limit: int | None = MAX_PASS_ROWS) -> int:
    """Pass the events after the watermark (at most ``limit``); return how many ids were passed.

    ``con`` is a DB-API connection in autocommit mode (the pass makes its own transaction) or
    one already inside a transaction.
    """
    own_transaction = not con.in_transaction
    if own_transaction:
        con.execute("BEGIN IMMEDIATE")
    try:
        done = con.execute("SELECT indexed_through FROM event_index_state").fetchone()[0]
        top = con.execute("SELECT MAX(id) FROM event").fetchone()[0] or 0
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
    rows = con.execute("SELECT COUNT(*) FROM index_pass").fetchone()[0]
    if con.execute(PASS_KEYS).rowcount < rows:
        con.execute(PASS_DROP_REPEATS)
    for sql in PASS_INDEX:
        con.execute(sql)
    con.execute("UPDATE event_index_state SET indexed_through = ?", (top,))


# --- reading ---
def by_actor(alias: str, app_id: int, actors: Sequence[str], start_ms: int,
             end_ms: int = OPEN_END) -> tuple[str, list[Any]]:
    """(SQL condition on the event table ``alias``, its parameters): one app's events of some
    actors whose timestamp is in [start_ms, end_ms)."""
    p = database.param
    marks = ", ".join([p] * len(actors))
    params = [app_id, *actors, start_ms, end_ms]
    if not is_sqlite():
        return (f"{alias}.app_id = {p} AND {alias}.actor IN ({marks}) "
                f"AND {alias}.timestamp >= {p} AND {alias}.timestamp < {p}", params)
    # Every part up to the watermark's, listed in the same statement (the same snapshot).
    parts = (f"WITH RECURSIVE parts(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM parts WHERE n < "
             f"(SELECT indexed_through FROM event_index_state) >> {PART_BITS}) SELECT n FROM parts")
    indexed = (f"SELECT event_id FROM event_by_actor WHERE app_id = {p} AND part IN ({parts}) "
               f"AND actor IN ({marks}) AND timestamp >= {p} AND timestamp < {p}")
    # "+app_id": the tail is read by rowid from the watermark on, never through an index that
    # would walk all of the app's events.
    tail = (f"SELECT id FROM event WHERE id > (SELECT indexed_through FROM event_index_state) "
            f"AND +app_id = {p} AND actor IN ({marks}) AND timestamp >= {p} AND timestamp < {p}")
    return f"{alias}.id IN ({indexed} UNION ALL {tail})", params * 2


# --- the background pass ---------------------------------------------------------------------

class Indexer(FileWorker):
    """Keeps the tail short, one thread per process and file (see db.FileWorker).

    It wakes every ``interval`` seconds and, when a pass is ``due``, makes it under the ingest
    writers' lock file (so it never spins on SQLite's busy handler). It stops once the tail is
    empty and nothing arrived for a while; the next ingest request starts it again.
    """

    name = "event-indexer"

    def _run(self, path: str, lock_path: str) -> None:
        quiet = 0.0
        con = sqlite_connection(path)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while quiet < self.idle_stop and os.path.exists(path):
                time.sleep(self.interval)
                try:
                    if not due(con, int(time.time() * 1000)):
                        quiet = quiet + self.interval if _tail_empty(con) else 0.0
                        continue
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    try:
                        passed = catch_up(con)
                    finally:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                except sqlite3.Error as exc:  # the tail stays readable; the next pass retries
                    log.warning("event index pass deferred: %s", exc)
                    continue
                log.debug("event index pass: %d events", passed)
                quiet = 0.0
        finally:
            os.close(fd)
            con.close()


def _tail_empty(con: Any) -> bool:
    done = con.execute("SELECT indexed_through FROM event_index_state").fetchone()[0]
    return (con.execute("SELECT MAX(id) FROM event").fetchone()[0] or 0) <= done


indexer = Indexer()
