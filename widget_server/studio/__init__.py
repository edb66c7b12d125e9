"""The studio (``/studio``): where an app's team writes a story template, sees it play for real
users, and publishes it, signed in with the app's secret key (docs/STUDIO.md)."""
from __future__ import annotations

from flask import Flask

from .routes import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
