"""Ingest: the Segment tracking API from the request to the committed row.

``routes`` (the HTTP API, credentials, per-token rate limit, load shedding) reads the body
(``http``), checks it against the event schema (``schema``: every 422), and hands the events to
the writer (``writer``: clock skew, identity joins, profiles), which drops repeats (``dedupe``)
and shares one transaction with the other requests of the moment (``group_commit``). The SDK
scripts that send here are served by ``sdk_assets``. See docs/INGEST.md.
"""
from __future__ import annotations

from flask import Flask

from . import routes, sdk_assets


def init_app(app: Flask) -> None:
    routes.init_app(app)
    sdk_assets.init_app(app)
