"""Sharing: the final card as a public page and PNG images, with a deep link and a QR code.

Routes: ``POST /v1/shares``, ``DELETE /v1/shares/<id>``, ``GET /s/<token>`` (+ ``story.png``,
``og.png``, ``qr.png``), ``POST /v1/uploads``, ``GET /u/<name>`` and the ``/.well-known`` app-link
files. See docs/SHARING.md.
"""
from __future__ import annotations

from flask import Flask

from .blueprint import bp


def init_app(app: Flask) -> None:
    from . import app_links, cli, uploads, views  # noqa: F401  (they add their routes to bp)

    app.register_blueprint(bp)
    app.cli.add_command(cli.shares)
