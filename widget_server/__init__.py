"""Recap's widget server: ingest, stories, sharing and the player, as one Flask app."""
from __future__ import annotations

import logging
import os
from importlib import import_module

from flask import Flask

from . import config, db, errors

# Each feature module exposes ``init_app(app)`` (blueprints, CLI commands, hooks).
FEATURES = ("ingest", "viewer_tokens", "cli_commands", "stories", "story_commands", "player", "share",
            "sdk_assets")


def create_app(test_config: dict | None = None) -> Flask:
    """The app factory: ``test_config`` replaces the instance file and environment."""
    instance_path = (test_config or {}).get("INSTANCE_PATH") or config.instance_path_from_env()
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    config.load(app, test_config)
    logging.getLogger("widget_server").setLevel(app.config.get("LOG_LEVEL", "INFO"))

    errors.init_app(app)
    db.init_app(app)
    for name in FEATURES:
        import_module(f"{__name__}.{name}").init_app(app)
    return app
