"""Readiness: the checks ``GET /readyz`` runs, by name. ``ops.init_app`` registers the server's
own (database, signing_keys, index_lag); features add theirs with ``register_check`` (the job
queue: ``queue``).

A check is a function called in the app's context: it returns details for the answer (or None),
and raises ``NotReady`` with a short reason when the server should not be sent traffic. Any
other exception also fails the check (logged). Answers name reasons, never addresses, paths or
drivers' messages: those go to the log.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Flask, current_app
from peewee import PostgresqlDatabase

from .. import config
from ..store import event_keys
from ..store.db import database, is_sqlite
from ..store.sqlite_files import keys_path, sqlite3

log = logging.getLogger(__name__)

CHECKS = "recap.readiness"  # app.extensions entry: name -> check, in the order they run
Check = Callable[[], "dict[str, Any] | None"]


class NotReady(Exception):
    """A check's failure: ``reason`` is a short phrase for the answer, ``details`` more of it."""

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason, self.details = reason, details


def register_check(app: Flask, name: str, check: Check) -> None:
    """Have ``GET /readyz`` run ``check`` under ``name`` (a name registered again is replaced)."""
    app.extensions.setdefault(CHECKS, {})[name] = check


def run_checks(app: Flask) -> dict[str, dict[str, Any]]:
    """Every registered check's result: ``{"ok": bool, "ms": …}`` plus its details or reason."""
    results: dict[str, dict[str, Any]] = {}
    for name, check in app.extensions.get(CHECKS, {}).items():
        started = time.perf_counter()
        try:
            result = {"ok": True, **(check() or {})}
        except NotReady as exc:
            result = {"ok": False, "reason": exc.reason, **exc.details}
        except Exception:
            log.exception("readiness check %s failed", name)
            result = {"ok": False, "reason": "the check failed (logged)"}
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = result
    return results


def database_reachable() -> None:
    """A fresh connection to the store answers a cheap query within READY_TIMEOUT_SECONDS.

    Fresh, not the pool's: a pooled SQLite connection keeps reading a store file that was
    deleted or whose disk went away, and a pooled PostgreSQL one would wait out TCP's timeouts.
    """
    timeout = current_app.config["READY_TIMEOUT_SECONDS"]
    try:
        if is_sqlite():
            _sqlite_store_answers(database.obj.database, timeout)
        else:
            _postgres_answers(database.obj, timeout)
    except NotReady:
        raise
    except Exception as exc:  # the driver's own errors: connection refused, timed out, no file
        log.warning("readiness: the database is unreachable: %s", exc)
        raise NotReady("unreachable") from None


def _sqlite_store_answers(path: str, timeout: float) -> None:
    con = _read_only(path, timeout)
    try:
        (tables,) = con.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'event'").fetchone()
    finally:
        con.close()
    if not tables:
        log.warning("readiness: %s holds no event table", path)
        raise NotReady("not the store")


def _read_only(path: str, timeout: float, keys: bool = False) -> Any:
    """A fresh read-only connection to the store (and its keys file): a missing file is an error,
    never a new empty store."""
    con = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=timeout)
    if keys:
        con.execute("ATTACH DATABASE ? AS keys", (f"file:{quote(keys_path(path))}?mode=ro",))
    return con


def _postgres_answers(db: Any, timeout: float) -> None:
    seconds = max(int(timeout), 1)
    probe = PostgresqlDatabase(db.database, **{**db.connect_params, "connect_timeout": seconds,
                                               "options": f"-c statement_timeout={seconds * 1000}"})
    try:
        probe.execute_sql("SELECT 1").fetchone()  # type: ignore[no-untyped-call]
    finally:
        probe.close()


def signing_keys_loaded() -> None:
    """The keys that sign and verify tokens and share links are there (re-read if changed)."""
    keys = config.signing_keys(current_app)
    if not keys or not all(isinstance(key, str) and key for key in keys):
        raise NotReady("no signing keys")


def index_lag() -> dict[str, Any]:
    """The oldest event not yet in the key tables arrived less than READY_MAX_INDEX_LAG_SECONDS
    ago (SQLite; PostgreSQL indexes each row as it is written). Stories read the tail row by
    row, so a long one makes them slow."""
    if not is_sqlite():
        return {}
    try:
        events, seconds = read_index_lag()
    except sqlite3.Error as exc:
        log.warning("readiness: the index lag cannot be read: %s", exc)
        raise NotReady("unknown: the store cannot be read") from None
    bound = current_app.config["READY_MAX_INDEX_LAG_SECONDS"]
    if events:
        # A tail left by a process that stopped is passed here: a server taken out of rotation
        # gets no ingest, which is what starts the indexer otherwise.
        event_keys.indexer.ensure_running(database.obj.database)
    if seconds > bound:
        raise NotReady("the event index lags", events=events, seconds=round(seconds, 1), bound_seconds=bound)
    return {"events": events, "seconds": round(seconds, 1), "bound_seconds": bound}


def read_index_lag() -> tuple[int, float]:
    """(events, seconds) the SQLite store's key tables are behind (``event_keys.lag``), read on
    a fresh read-only connection; none on PostgreSQL."""
    if not is_sqlite():
        return 0, 0.0
    con = _read_only(database.obj.database, current_app.config["READY_TIMEOUT_SECONDS"], keys=True)
    try:
        return event_keys.lag(con, int(time.time() * 1000))
    finally:
        con.close()


def init_app(app: Flask) -> None:
    for name, check in (("database", database_reachable), ("signing_keys", signing_keys_loaded),
                        ("index_lag", index_lag)):
        register_check(app, name, check)
