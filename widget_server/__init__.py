"""Recap's widget server: ingest, stories, sharing and the player, as one Flask app.

``create_app`` puts it together in one order: config, error answers, operations (probes, metrics,
request logs), the store (bound, brought up to date, a connection per request), then each
feature package (``FEATURES``, imported here by name). docs/ARCHITECTURE.md draws the parts and
the path of an event.
"""
from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask

from . import (
    apps,
    assets,
    audiences,
    config,
    error_answers,
    http,
    ingest,
    jobs,
    ops,
    player,
    predict,
    share,
    store,
    stories,
    studio,
    triggers,
    users,
    video,
)
from .store import private_files
from .store.sqlite_files import FileLock

START_LOCK_FILE = "start.lock"

# Each feature package exposes ``init_app(app)`` (blueprints, CLI commands, hooks).
FEATURES = (assets, ingest, users, apps, stories, player, share, studio, video, triggers, audiences, predict, jobs)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The app factory: ``test_config`` replaces the instance file and environment.

    Processes that start together on one instance folder (gunicorn workers without
    ``--preload``, a CLI command beside a server) take turns: the first creates the signing
    key and brings the database up to date, the others find both done. The instance folder
    and everything in it are private to the server's user (``private_files``).
    """
    instance_path = (test_config or {}).get("INSTANCE_PATH") or config.instance_path_from_env()
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    private_files.restrict_folder(app.instance_path)
    start_lock = FileLock(os.path.join(app.instance_path, START_LOCK_FILE))
    try:
        with start_lock:
            config.load(app, test_config)
            logging.getLogger("widget_server").setLevel(app.config.get("LOG_LEVEL", "INFO"))
            error_answers.init_app(app)
            ops.init_app(app)  # before the store: its request hooks time everything after them
            store.init_app(app)
            http.bind_database(app)
            for feature in FEATURES:
                feature.init_app(app)
    finally:
        start_lock.close()
    return app
