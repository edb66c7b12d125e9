"""Sharing: the final card as a public page and PNG images, with a deep link and a QR code.

Routes: ``POST /v1/shares``, ``DELETE /v1/shares/<id>``, ``GET /s/<token>`` (+ ``story.png``,
``og.png``, ``qr.png``), ``POST /v1/uploads``, ``GET /u/<name>`` and the ``/.well-known`` app-link
files. See docs/SHARING.md.
"""
from __future__ import annotations

from flask import Flask

from ..store import models
from .blueprint import bp

DEFAULTS = {
    "SHARE_TTL": 180 * 24 * 3600,  # seconds a share link lives
    # Seconds an expired or revoked share still answers 410 before it and its images are deleted.
    "SHARE_KEEP_ENDED": 7 * 24 * 3600,
    "SHARE_CAPTION_MAX": 140,  # characters
    # What one end user may share (share/limits.py): shares per window per user, and live shares
    # per user and template. Past either: 429 with Retry-After.
    "SHARE_RATE_LIMIT": 10,
    "SHARE_RATE_WINDOW": 60,  # seconds
    "SHARE_MAX_LIVE": 20,
    "UPLOAD_MAX_BYTES": 10 * 1024 * 1024,
    # Pixels an upload may declare before it is decoded: a 40 MP photo decodes to ~120 MB;
    # anything more is refused unread, which is what stops decompression bombs.
    "UPLOAD_MAX_PIXELS": 40_000_000,
    "UPLOAD_MAX_SIDE": 2048,  # stored uploads are scaled down to this many pixels at most
    # Clock for expiry, in ms since the epoch; tests swap it instead of sleeping.
    "SHARE_CLOCK": models.now_ms,
}


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    from . import app_links, cli, uploads, views  # noqa: F401  (they add their routes to bp)

    app.register_blueprint(bp)
    app.cli.add_command(cli.shares)
