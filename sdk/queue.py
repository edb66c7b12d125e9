"""Where encoded events wait for delivery: in memory, or in a SQLite spool on disk.

Both queues number events with increasing ids. The sender *claims* a batch, posts it, then
*acks* it (removed) or *releases* it (back in line). The spool's claims are leases tagged
with the claiming process id, so several processes (gunicorn workers) can share one spool
file, and the events a killed process had claimed are taken over by the next one.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

Item = tuple[int, bytes]
BUSY_TIMEOUT = 10.0  # seconds a spool write waits for another process sharing the file

# Connections a forked child inherited: never used or closed there (SQLite forbids both),
# only kept so the garbage collector does not close them under the parent's feet.
_inherited: list[sqlite3.Connection] = []


class EventQueue(Protocol):
    """What the worker needs from a queue."""

    durable: bool

    def put(self, bodies: list[bytes], timeout: float | None = None) -> int:
        """Append; return how many were dropped because the queue is full. With ``timeout``,
        raise ``sqlite3.OperationalError`` rather than wait longer for the disk."""

    def claim(self, max_count: int, max_bytes: int) -> list[Item]: ...

    def renew(self, items: list[Item]) -> None: ...

    def ack(self, items: list[Item]) -> None: ...

    def release(self, items: list[Item]) -> None: ...

    def lowest_id(self) -> int | None:
        """The lowest id still waiting or in flight, or None when the queue is empty."""

    def highest_id(self) -> int:
        """The highest id still waiting or in flight (0 if none): with a spool, events other
        processes left or are adding count too."""

    def pending(self) -> int: ...

    def checkpoint(self) -> None:
        """Fold the spool's write-ahead log into its file (nothing to do in memory)."""

    def after_fork(self) -> None: ...

    def close(self) -> None: ...


def _batch_prefix(items: list[Item], max_count: int, max_bytes: int) -> list[Item]:
    """The longest prefix within both limits (always at least one item, if any)."""
    size = 0
    for index, (_, body) in enumerate(items[:max_count]):
        size += len(body) + 1
        if size > max_bytes and index:
            return items[:index]
    return items[:max_count]


class MemoryQueue:
    """A bounded in-process queue; what it holds is lost if the process dies."""

    durable = False

    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self._waiting: deque[Item] = deque()
        self._claimed: dict[int, bytes] = {}
        self._last_id = 0
        self._lock = threading.Lock()

    def put(self, bodies: list[bytes], timeout: float | None = None) -> int:
        with self._lock:
            room = max(0, self.max_events - len(self._waiting) - len(self._claimed))
            kept = bodies[:room]
            for body in kept:
                self._last_id += 1
                self._waiting.append((self._last_id, body))
            return len(bodies) - len(kept)

    def claim(self, max_count: int, max_bytes: int) -> list[Item]:
        with self._lock:
            head = [self._waiting[i] for i in range(min(max_count, len(self._waiting)))]
            batch = _batch_prefix(head, max_count, max_bytes)
            for item in batch:
                self._waiting.popleft()
                self._claimed[item[0]] = item[1]
            return batch

    def renew(self, items: list[Item]) -> None:
        """In memory a claim never expires."""

    def ack(self, items: list[Item]) -> None:
        with self._lock:
            for event_id, _ in items:
                self._claimed.pop(event_id, None)

    def release(self, items: list[Item]) -> None:
        with self._lock:
            for item in reversed(items):
                if self._claimed.pop(item[0], None) is not None:
                    self._waiting.appendleft(item)

    def lowest_id(self) -> int | None:
        with self._lock:
            ids = [self._waiting[0][0]] if self._waiting else []
            if self._claimed:
                ids.append(min(self._claimed))
            return min(ids) if ids else None

    def highest_id(self) -> int:
        with self._lock:
            return self._last_id if self._waiting or self._claimed else 0

    def pending(self) -> int:
        return len(self._waiting) + len(self._claimed)

    def checkpoint(self) -> None:
        """Nothing on disk."""

    def after_fork(self) -> None:
        # The parent still holds these events and will send them; the child starts empty.
        self._lock = threading.Lock()
        self._waiting.clear()
        self._claimed.clear()

    def close(self) -> None:
        """Nothing to release."""


def default_spool_path(host: str, write_key: str) -> Path:
    """One spool file per (server, key) in the user's cache directory."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(f"{host}\0{write_key}".encode()).hexdigest()[:16]
    return Path(base) / "recap-sdk" / f"spool-{digest}.sqlite3"


class SpoolQueue:
    """A SQLite file that outlives the process: an outage of any length and a restart lose nothing."""

    durable = True

    def __init__(self, path: str | os.PathLike[str], max_events: int, lease: float = 60.0) -> None:
        self.path = Path(path)
        self.max_events = max_events
        self.lease = lease
        self._lock = threading.Lock()
        self._last_reclaim = 0.0
        self._closed = False
        self._conn = self._open()
        self._checkpoints, self._checkpoint_lock = self._connect(), threading.Lock()
        self._rows: int = self._conn.execute("SELECT rows FROM spool_size").fetchone()[0]
        self.reclaim_dead_owners()

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():
            # Events may carry personal data: only the owner may read the file.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        conn = self._connect()
        # Incremental vacuum lets an emptied spool give back the disk a long outage took
        # (it only takes effect on a new file, before the first table).
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        # WAL + NORMAL: a commit survives the process being killed (not a power cut) and costs
        # no fsync; the worker commits every ``write_interval``.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # No checkpoint inside a commit: a checkpoint fsyncs the file, which on a busy disk held
        # commits 40-120 ms and broke the crash bound; checkpoint() runs them on a connection
        # of their own (in WAL mode a checkpoint and a commit do not wait for each other).
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("PRAGMA cache_size=-1024")
        conn.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                     " body BLOB NOT NULL, claimed_until REAL NOT NULL DEFAULT 0,"
                     " owner INTEGER NOT NULL DEFAULT 0)")
        # The row count, kept by put() and ack() in their own transactions: COUNT(*) walks the
        # whole table (~60 ms per million rows), and ids have gaps once a batch is held back.
        # A spool an older version wrote is counted once.
        conn.execute("CREATE TABLE IF NOT EXISTS spool_size (rows INTEGER NOT NULL)")
        if conn.execute("SELECT 1 FROM spool_size").fetchone() is None:  # (no write lock on every open)
            conn.execute("INSERT INTO spool_size SELECT COUNT(*) FROM events "
                         "WHERE NOT EXISTS (SELECT 1 FROM spool_size)")
        return conn

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)

    def checkpoint(self) -> None:
        """Copy what the write-ahead log holds into the file, without waiting on anyone (PASSIVE)."""
        with self._checkpoint_lock:
            if not self._closed:
                self._checkpoints.execute("PRAGMA wal_checkpoint(PASSIVE)")

    @contextlib.contextmanager
    def _transaction(self, timeout: float | None = None) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, inside one write transaction (rolled back on error);
        ``timeout`` bounds the wait for the lock and for another process's write lock."""
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            raise sqlite3.OperationalError("the spool is busy in this process")
        try:
            conn = self._conn
            if timeout is not None:
                conn.execute(f"PRAGMA busy_timeout = {max(1, int(timeout * 1000))}")
            try:
                conn.execute("BEGIN IMMEDIATE")
            finally:
                if timeout is not None:
                    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            self._lock.release()

    def put(self, bodies: list[bytes], timeout: float | None = None) -> int:
        with self._transaction(timeout) as conn:
            held = conn.execute("SELECT rows FROM spool_size").fetchone()[0]
            kept = bodies[:max(0, self.max_events - held)]
            conn.executemany("INSERT INTO events (body) VALUES (?)", [(b,) for b in kept])
            conn.execute("UPDATE spool_size SET rows = rows + ?", (len(kept),))
            self._rows = held + len(kept)
        return len(bodies) - len(kept)

    def claim(self, max_count: int, max_bytes: int) -> list[Item]:
        now = time.time()
        with self._transaction() as conn:
            rows = conn.execute("SELECT id, body FROM events WHERE claimed_until < ? ORDER BY id LIMIT ?",
                                (now, max_count)).fetchall()
            batch = _batch_prefix(rows, max_count, max_bytes)
            if batch:
                # Every unclaimed row between the first and last id is in ``batch``.
                conn.execute("UPDATE events SET claimed_until = ?, owner = ? "
                             "WHERE id BETWEEN ? AND ? AND claimed_until < ?",
                             (now + self.lease, os.getpid(), batch[0][0], batch[-1][0], now))
        if not batch and now - self._last_reclaim > 5.0:
            self.reclaim_dead_owners()
            self._compact_if_empty()
        return batch

    def _compact_if_empty(self) -> None:
        with self._lock:
            if self._conn.execute("SELECT 1 FROM events LIMIT 1").fetchone() is None:
                # (executescript: a plain execute() steps the pragma once, freeing one page)
                self._conn.executescript("PRAGMA incremental_vacuum;")

    def _in_claim(self, sql: str, items: list[Item], *params: object) -> None:
        """Run ``sql`` over exactly the rows of ``items`` that this process holds, in one
        statement (json_each walks the id list in C: as fast as a range, and exact)."""
        if not items:
            return
        with self._lock:
            self._conn.execute(sql + _HELD, (*params, *_held(items)))

    def renew(self, items: list[Item]) -> None:
        self._in_claim("UPDATE events SET claimed_until = ?", items, time.time() + self.lease)

    def ack(self, items: list[Item]) -> None:
        if not items:
            return
        with self._transaction() as conn:
            deleted = conn.execute("DELETE FROM events" + _HELD, _held(items)).rowcount
            conn.execute("UPDATE spool_size SET rows = rows - ?", (deleted,))
            self._rows = conn.execute("SELECT rows FROM spool_size").fetchone()[0]

    def release(self, items: list[Item]) -> None:
        self._in_claim("UPDATE events SET claimed_until = 0", items)

    def lowest_id(self) -> int | None:
        with self._lock:
            if self._closed:
                return None
            lowest: int | None = self._conn.execute("SELECT MIN(id) FROM events").fetchone()[0]
            return lowest

    def highest_id(self) -> int:
        with self._lock:
            if self._closed:
                return 0
            highest: int | None = self._conn.execute("SELECT MAX(id) FROM events").fetchone()[0]
            return highest or 0

    def pending(self) -> int:
        """Rows in the spool (every process's). Never waits: while the writer or the sender holds
        the connection (for up to SQLite's busy timeout when another process writes), the count
        as of their last put or ack, which is never below this process's undelivered events."""
        if not self._lock.acquire(blocking=False):
            return self._rows
        try:
            if not self._closed:  # (a read never waits on another process's write in WAL mode)
                self._rows = self._conn.execute("SELECT rows FROM spool_size").fetchone()[0]
            return self._rows
        finally:
            self._lock.release()

    def reclaim_dead_owners(self) -> None:
        """Release the claims of processes that died holding them (killed mid-send)."""
        self._last_reclaim = time.time()
        with self._lock:
            owners = [row[0] for row in self._conn.execute(
                "SELECT DISTINCT owner FROM events WHERE claimed_until >= ?", (time.time(),))]
            dead = [owner for owner in owners if owner != os.getpid() and not _alive(owner)]
            for owner in dead:
                self._conn.execute("UPDATE events SET claimed_until = 0 WHERE owner = ?", (owner,))
        if dead:
            log.info("recap: took over the spooled events of exited processes %s", dead)

    def after_fork(self) -> None:
        _inherited.extend((self._conn, self._checkpoints))
        self._lock, self._checkpoint_lock = threading.Lock(), threading.Lock()
        self._conn = self._open()
        self._checkpoints = self._connect()

    def close(self) -> None:
        self.pending()  # the count stays readable after close
        with self._checkpoint_lock, self._lock:
            self._closed = True
            self._checkpoints.close()
            self._conn.close()


_HELD = " WHERE id IN (SELECT value FROM json_each(?)) AND owner = ?"


def _held(items: list[Item]) -> tuple[str, int]:
    """The parameters of ``_HELD`` for ``items``: their ids as a JSON list, and this process."""
    return "[" + ",".join(str(event_id) for event_id, _ in items) + "]", os.getpid()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
