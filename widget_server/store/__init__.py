"""Persistence: the database and its schema, SQLite's files, the event key tables, the SQL that
differs between SQLite and PostgreSQL. Imports nothing above it (tests/test_imports.py).

``init_app`` binds the database to the app (``db``) and brings the schema up to date
(``migrations.upgrade``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import db, migrations

if TYPE_CHECKING:  # the app is only named: the store runs without Flask (tests/test_imports.py)
    from flask import Flask


def init_app(app: Flask) -> None:
    db.init_app(app)
    migrations.upgrade()
