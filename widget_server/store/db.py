"""The peewee database: bound at start-up, pooled, a connection per request."""
from __future__ import annotations

import weakref
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from peewee import Database, DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import parse as parse_url
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from . import private_files
from .sqlite_files import SQLITE_PRAGMAS, SQLITE_SIDE_FILES, _sqlite_pragmas, keys_path, wal_checkpointer

if TYPE_CHECKING:  # the app is only named: the store runs without Flask (tests/test_imports.py)
    from flask import Flask

database = DatabaseProxy()
_urls: weakref.WeakKeyDictionary[Database, str] = weakref.WeakKeyDictionary()  # database -> its URL


class SqliteStore(PooledSqliteDatabase):
    """The pooled SQLite database, which tolerates SQLite's own rollbacks."""

    field_types = {**SqliteDatabase.field_types, "EVENT_JSON": "TEXT"}  # models.EventJSON

    def rollback(self) -> None:
        # On some errors (a full disk, an interrupt) SQLite rolls the transaction back itself;
        # the ROLLBACK peewee then sends would fail ("no transaction is active") and that
        # error would replace the one that matters.
        if self.connection().in_transaction:
            super().rollback()


class PostgresStore(PooledPostgresqlDatabase):
    """The pooled PostgreSQL database, whose ``jsonb`` values read as their JSON text, as SQLite's do."""

    field_types = {**PostgresqlDatabase.field_types, "EVENT_JSON": "JSONB"}  # models.EventJSON

    def _initialize_connection(self, conn: Any) -> None:
        # psycopg2 would parse every jsonb value into Python objects; the store hands JSON on as
        # text (the API answers it, the engine reads it in SQL), so the text is kept.
        import psycopg2.extras  # the postgres extra: only a PostgreSQL store needs it

        psycopg2.extras.register_default_jsonb(conn, loads=str)


# Connections a process keeps open to PostgreSQL. A new one cost a request 2.3 ms (and the
# server a backend process); many processes on many machines should share a pgbouncer
# (docs/SCALE.md) rather than each keep this many.
POSTGRES_POOL_SIZE = 16


def open_database(url: str, busy_timeout_ms: int | None = None) -> Database:
    """The peewee database at ``url``; ``url`` is remembered for it (see ``url()``)."""
    opened = _open(url, busy_timeout_ms)
    _urls[opened] = url
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
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(**parse_url(url), max_connections=POSTGRES_POOL_SIZE, stale_timeout=300)
    raise ValueError(f"RECAP_DATABASE_URL must be a sqlite:/// or postgresql:// URL, not {url.split('://')[0]!r}")


def write_transaction() -> AbstractContextManager[object]:
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
    return _urls[database.obj]


def is_sqlite() -> bool:
    return isinstance(database.obj, SqliteDatabase)


def is_postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)


def init_app(app: Flask) -> None:
    """Bind the database; the schema is brought up to date next (``store.init_app``), and
    ``http.bind_database`` gives each request its connection."""
    database.initialize(open_database(app.config["DATABASE_URL"], app.config["SQLITE_BUSY_TIMEOUT_MS"]))


def connect_for_request() -> None:
    """A connection for the request being answered (on SQLite, with its WAL checkpointer running)."""
    if is_sqlite():
        wal_checkpointer.ensure_running(database.obj.database)
    database.connect(reuse_if_open=True)


def close_after_request() -> None:
    if not database.is_closed():
        database.close()
