import sqlite3
from typing import Any

from peewee import PostgresqlDatabase, SqliteDatabase

class PooledDatabase:
    def __init__(
        self,
        database: str | None,
        max_connections: int = 20,
        stale_timeout: float | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None: ...
    def close_idle(self) -> None: ...

class PooledSqliteDatabase(PooledDatabase, SqliteDatabase):
    def connection(self) -> sqlite3.Connection: ...  # pysqlite3's where installed: the same interface

class PooledPostgresqlDatabase(PooledDatabase, PostgresqlDatabase): ...
