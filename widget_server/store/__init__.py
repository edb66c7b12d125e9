"""Persistence: the database and its schema, SQLite's files, the event key tables, the SQL that
differs between SQLite and PostgreSQL. Imports nothing above it (tests/test_imports.py).

``init_app`` binds the database to the app (``db``) and brings the schema up to date
(``migrations.upgrade``).
"""
from __future__ import annotations

from flask import Flask

from . import db, migrations


def init_app(app: Flask) -> None:
    db.init_app(app)
    migrations.upgrade()
