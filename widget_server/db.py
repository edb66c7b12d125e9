"""The peewee database: bound at start-up, one connection per request, schema versions."""
from __future__ import annotations

import logging
from typing import Callable

from flask import Flask
from peewee import Database, DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import connect as connect_url

log = logging.getLogger(__name__)

database = DatabaseProxy()

# WAL lets readers run beside the writer; NORMAL is durable against process crashes and only
# risks the last commits on power loss, the usual trade for an analytics store.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "busy_timeout": 10_000,
    "cache_size": -128_000,  # 128 MB of page cache: keeps the unique and per-user indexes hot.
    "temp_store": "memory",
    "mmap_size": 1 << 30,
    "foreign_keys": 1,
}


def open_database(url: str) -> Database:
    if url.startswith("sqlite:///"):
        return SqliteDatabase(url[len("sqlite:///"):], pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    return connect_url(url)


def is_sqlite() -> bool:
    return isinstance(database.obj, SqliteDatabase)


def is_postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)


def init_app(app: Flask) -> None:
    database.initialize(open_database(app.config["DATABASE_URL"]))
    upgrade()

    @app.before_request
    def _connect() -> None:
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        if not database.is_closed():
            database.close()


# --- schema versions -------------------------------------------------------------------------
# Each entry brings the schema from version N-1 to N. Append; never edit a released step.
MIGRATIONS: list[Callable[[], None]] = []


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
    """Apply pending migrations in order; return the versions applied."""
    from . import models  # noqa: F401  (registers the migrations)
    from .models import SchemaVersion

    applied = []
    with database.connection_context():
        database.create_tables([SchemaVersion], safe=True)
        version = current_version()
        for number, step in enumerate(MIGRATIONS, start=1):
            if number <= version:
                continue
            with database.atomic():
                step()
                SchemaVersion.create(version=number, name=step.__name__)
            log.info("database upgraded to schema version %d (%s)", number, step.__name__)
            applied.append(number)
    return applied
