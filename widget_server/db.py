"""The peewee database: bound at start-up, one connection per request, schema versions."""
from __future__ import annotations

import logging
import os
import threading
import time
import urllib.parse
from typing import Callable

from flask import Flask
import peewee
from peewee import Database, DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import connect as connect_url
from playhouse.pool import PooledSqliteDatabase

from . import private_files
from .group_commit import FileLock, lock_path
from .per_process import PerProcess

log = logging.getLogger(__name__)

database = DatabaseProxy()

# The SQLite driver peewee chose: pysqlite3 (a current SQLite, much faster JSON) when installed,
# else the standard library's. Our own connections must use the same one.
sqlite3 = peewee.sqlite3

# WAL lets readers run beside the writer; NORMAL is durable against process crashes and only
# risks the last commits on power loss, the usual trade for an analytics store.
# Writers never checkpoint (wal_autocheckpoint 0): copying the WAL back and its fsync cost the
# committing request up to 40% of its time; a background thread does it instead (see below).
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

    def ensure_running(self, path: str, *args: object) -> None:
        thread = self._threads.get(path)
        if thread is not None and thread.is_alive():
            return
        with self._lock:
            thread = self._threads.get(path)
            if thread is None or not thread.is_alive():  # (after a fork no thread is alive)
                thread = threading.Thread(target=self._run, args=(path, *args), daemon=True,
                                          name=f"{self.name}-{os.path.basename(path)}")
                self._threads[path] = thread
                thread.start()

    def _run(self, path: str, *args: object) -> None:
        raise NotImplementedError


class WalCheckpointer(FileWorker):
    """Checkpoints the WAL every ``interval`` seconds, so no request pays for it. A passive
    checkpoint never blocks readers or the writer.

    Copying frames back is not enough under steady ingest: SQLite only starts the WAL over when
    a writer begins right after a complete checkpoint with no reader in the WAL, and with
    writers back to back that moment rarely came: the WAL grew past 200 MB in a sustained run,
    and everything reading or writing through it slowed down. Once a complete checkpoint finds
    ``RESTART_FRAMES`` frames, the checkpointer therefore holds the writers' lock for a moment
    and restarts the WAL itself (waiting at most its 50 ms busy timeout for readers); 300k-event
    rounds of the ingest benchmark went from ~45k to ~55k events/s.
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


_sqlite_pragmas: dict[str, dict] = {}  # path -> the pragmas its connections use


def keys_path(path: str) -> str:
    """The file beside a SQLite store that holds its event keys (see event_indexes)."""
    return path + "-keys"


# The files SQLite makes beside a store and its keys file; SQLite gives them the store's mode.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


class SqliteStore(PooledSqliteDatabase):
    """The pooled SQLite database, which tolerates SQLite's own rollbacks."""

    def rollback(self) -> None:
        # On some errors (a full disk, an interrupt) SQLite rolls the transaction back itself;
        # the ROLLBACK peewee then sends would fail ("no transaction is active") and that
        # error would replace the one that matters.
        if self.connection().in_transaction:
            super().rollback()


def open_database(url: str, busy_timeout_ms: int | None = None) -> Database:
    """The peewee database at ``url``; ``url`` stays on it (see ``url()``)."""
    opened = _open(url, busy_timeout_ms)
    opened.url = url
    return opened


def _open(url: str, busy_timeout_ms: int | None) -> Database:
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        pragmas = dict(SQLITE_PRAGMAS)
        if busy_timeout_ms is not None:
            pragmas["busy_timeout"] = busy_timeout_ms
        _sqlite_pragmas[path] = pragmas
        if path != ":memory:":
            for store in (path, keys_path(path)):  # private before SQLite first makes them
                private_files.create_file(store)
                for suffix in SQLITE_SIDE_FILES:
                    private_files.restrict(store + suffix)
        # Pooled: opening a connection, its pragmas and the attached keys file cost ~0.7 ms,
        # which every request paid. Returned connections are rolled back if needed, and any
        # thread may take them.
        database = SqliteStore(path, pragmas=pragmas, check_same_thread=False,
                               max_connections=64, timeout=10, stale_timeout=300)
        database.attach(keys_path(path), "keys")  # on every connection: its tables read as if they were the store's
        return database
    return connect_url(url)


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


def write_transaction():
    """A transaction that will write, holding the write lock from its first statement (peewee's
    ``atomic``: nested, a savepoint).

    On SQLite a transaction that reads first and writes later cannot wait for the lock: if
    another connection committed after its first read, SQLite refuses the upgrade at once
    ("database is locked", whatever the busy timeout), since the snapshot it read is stale.
    ``BEGIN IMMEDIATE`` takes the lock up front, waiting up to the busy timeout; a wait past
    it is answered 503 with Retry-After (errors.transient_failure).
    """
    return database.atomic("IMMEDIATE") if is_sqlite() else database.atomic()


def url() -> str:
    """The URL of the database in use: what caches of its rows are kept under, since one
    process may open another database later (tests, tools)."""
    return database.obj.url


def is_sqlite() -> bool:
    return isinstance(database.obj, SqliteDatabase)


def is_postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)


def init_app(app: Flask) -> None:
    database.initialize(open_database(app.config["DATABASE_URL"], app.config["SQLITE_BUSY_TIMEOUT_MS"]))
    upgrade()

    sqlite_path = database.obj.database if is_sqlite() else None

    @app.before_request
    def _connect() -> None:
        if sqlite_path:
            wal_checkpointer.ensure_running(sqlite_path)
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        if not database.is_closed():
            database.close()


# --- schema versions -------------------------------------------------------------------------
# Each entry brings the schema from version N-1 to N. Append; never edit a released step.
MIGRATIONS: list[Callable[[], None]] = []
UPGRADE_LOCK_ID = 0x7265636170  # PostgreSQL advisory lock held while upgrading ("recap")


def migration(func: Callable[[], None]) -> Callable[[], None]:
    MIGRATIONS.append(func)
    return func


def current_version() -> int:
    from .models import SchemaVersion

    if not database.table_exists(SchemaVersion._meta.table_name):
        return 0
    row = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
    return row.version if row else 0


def upgrade() -> list[int]:
    """Apply pending migrations in order, then bring a SQLite store's keys file up to date;
    return the versions applied."""
    from . import models  # noqa: F401  (registers the migrations)
    from .models import SchemaVersion

    applied = []
    with database.connection_context():
        if is_postgres():  # servers on several machines may start together: one upgrades at a time
            database.execute_sql("SELECT pg_advisory_lock(%s)", (UPGRADE_LOCK_ID,))
        try:
            database.create_tables([SchemaVersion], safe=True)
            version = current_version()
            for number, step in enumerate(MIGRATIONS, start=1):
                if number <= version:
                    continue
                with write_transaction():
                    step()
                    SchemaVersion.create(version=number, name=step.__name__)
                log.info("database upgraded to schema version %d (%s)", number, step.__name__)
                applied.append(number)
        finally:
            if is_postgres():
                database.execute_sql("SELECT pg_advisory_unlock(%s)", (UPGRADE_LOCK_ID,))
    if is_sqlite():
        from .event_indexes import open_keys

        open_keys(database.obj.database)
        # The pool's idle connections (all of them, at start-up) are closed: one made before the
        # keys file was (re)built would still see the old file, and none may cross a fork
        # (gunicorn --preload).
        database.obj.close_idle()
    return applied
