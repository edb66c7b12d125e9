"""SQLite's files: the driver and pragmas, background connections, the writers' lock files, the
WAL checkpointer, and one long-lived object per process and file (``PerProcess``: a connection
that keeps its page cache, or a lock file's descriptor).

A per-process object must not cross a fork (a forked child would share the parent's SQLite
connection, or its ``flock``), and a process serves one store at a time: tests move on to the
next file, and the object for the old one is closed.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

import peewee

log = logging.getLogger(__name__)


class Closable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=Closable)


class PerProcess(Generic[T]):
    """``holder(path)``: the object ``open_(path)`` made in this process for ``path``."""

    def __init__(self, open_: Callable[[str], T]) -> None:
        self._open = open_
        self._current: tuple[int, str, T] | None = None  # (pid, path, object)

    def __call__(self, path: str) -> T:
        pid = os.getpid()
        if self._current is None or self._current[:2] != (pid, path):
            if self._current is not None and self._current[0] == pid:
                self._current[2].close()
            self._current = (pid, path, self._open(path))
        return self._current[2]


def lock_path(database_path: str) -> str:
    """The file a SQLite database's writers take turns on."""
    return database_path + "-write.lock"


class FileLock:
    """An exclusive ``flock`` on the lock file at ``path``, held inside ``with``; the file stays
    open until ``close``. Locks through separate opens exclude each other even inside one
    process. ``FileLock(None)`` is a no-op."""

    def __init__(self, path: str | None) -> None:
        self.fd = None if path is None else os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)


# The SQLite driver peewee chose: pysqlite3 (a current SQLite, much faster JSON) when installed,
# else the standard library's. Our own connections must use the same one. pysqlite3 has the
# standard module's interface, so that is the type checkers' view of either.
if TYPE_CHECKING:
    import sqlite3 as sqlite3  # (re-exported: event_keys uses it)
else:
    sqlite3 = peewee.sqlite3


# WAL lets readers run beside the writer; NORMAL is durable against process crashes and only
# risks the last commits on power loss, the usual trade for an analytics store.
# Writers never checkpoint (wal_autocheckpoint 0): copying the WAL back and its fsync cost the
# committing request much of its time (docs/INGEST.md); a background thread does it instead.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "wal_autocheckpoint": 0,
    "journal_size_limit": 64 << 20,
    "busy_timeout": 10_000,
    "cache_size": -128_000,  # 128 MB of page cache: keeps the unique and per-user indexes hot.
    "temp_store": "memory",
    "mmap_size": 1 << 30,
    "foreign_keys": 1,
}


class FileWorker:
    """Background work on one SQLite file: one daemon thread per process and file, started by
    ``ensure_running`` when a request needs it. ``_run`` returns after a quiet spell of
    ``idle_stop`` seconds, so idle processes (and test apps) hold no thread."""

    name = "file-worker"

    def __init__(self, interval: float = 0.5, idle_stop: float = 30.0) -> None:
        self.interval = interval
        self.idle_stop = idle_stop
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def ensure_running(self, path: str) -> None:
        thread = self._threads.get(path)
        if thread is not None and thread.is_alive():
            return
        with self._lock:
            thread = self._threads.get(path)
            if thread is None or not thread.is_alive():  # (after a fork no thread is alive)
                thread = threading.Thread(target=self._run, args=(path,), daemon=True,
                                          name=f"{self.name}-{os.path.basename(path)}")
                self._threads[path] = thread
                thread.start()

    def _run(self, path: str) -> None:
        raise NotImplementedError


class WalCheckpointer(FileWorker):
    """Checkpoints the WAL every ``interval`` seconds, so no request pays for it. A passive
    checkpoint never blocks readers or the writer.

    Copying frames back is not enough under steady ingest: SQLite only starts the WAL over when
    a writer begins right after a complete checkpoint with no reader in the WAL, and with
    writers back to back that moment rarely came: the WAL grew past 200 MB in a sustained run,
    and everything reading or writing through it slowed down. Once a complete checkpoint finds
    ``RESTART_FRAMES`` frames, the checkpointer therefore holds the writers' lock for a moment
    and restarts the WAL itself (waiting at most its 50 ms busy timeout for readers); what that
    gained in the ingest benchmark: docs/INGEST.md.
    """

    name = "wal-checkpoint"
    RESTART_FRAMES = 4096  # 16 MB of 4 KB pages

    def _run(self, path: str) -> None:
        try:
            con = sqlite3.connect(path, timeout=0.05, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("WAL checkpointer for %s could not open it: %s", path, exc)
            return
        writers = FileLock(lock_path(path))
        quiet = 0.0
        try:
            while quiet < self.idle_stop and os.path.exists(path):
                time.sleep(self.interval)
                try:
                    _, wal_frames, copied = con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if wal_frames == copied >= self.RESTART_FRAMES:
                        with writers:
                            con.execute("PRAGMA wal_checkpoint(RESTART)")
                except sqlite3.Error as exc:  # a checkpoint is only ever deferred, never lost
                    log.debug("WAL checkpoint of %s deferred: %s", path, exc)
                    continue
                quiet = quiet + self.interval if wal_frames == copied else 0.0
        finally:
            writers.close()
            con.close()


wal_checkpointer = WalCheckpointer()


_sqlite_pragmas: dict[str, dict[str, object]] = {}  # path -> the pragmas its connections use


def keys_path(path: str) -> str:
    """The file beside a SQLite store that holds its event keys (see event_keys)."""
    return path + "-keys"


# The files SQLite makes beside a store and its keys file; SQLite gives them the store's mode.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def sqlite_connection(path: str, store: str | None = None, **pragmas: object) -> sqlite3.Connection:
    """An autocommit connection with the store's pragmas (``pragmas`` override them), for
    background work. ``store``: the store ``path`` belongs to, attached read-only as ``store``."""
    con = sqlite3.connect(f"file:{urllib.parse.quote(path)}", uri=True, isolation_level=None,
                          check_same_thread=False)
    for name, value in {**_sqlite_pragmas.get(store or path, SQLITE_PRAGMAS), **pragmas}.items():
        con.execute(f"PRAGMA {name} = {value}")
    if store is not None:
        con.execute("ATTACH DATABASE ? AS store", (f"file:{urllib.parse.quote(store)}?mode=ro",))
    return con


# The ingest writer's connection (one thread at a time uses it, under the group commit):
# request connections start with a cold page cache, this one keeps its hot pages.
sqlite_writer = PerProcess(sqlite_connection)


