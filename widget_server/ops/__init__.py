"""Operations: health and readiness probes, Prometheus metrics, request logs (docs/OPERATIONS.md).

``init_app`` runs right after the error handlers, before the store and the features, so its
request hooks time everything after them. Features plug in here, never the other way round:

* ``register_check(app, name, check)``: one more readiness check (the job queue's ``queue``);
* ``register_gauge(app, name, documentation, read, labels=())``: a value read at each scrape
  (the queue's depth);
* counters and histograms are recorded in ``widget_server.monitoring`` (``job_ended`` for the
  queue's workers).
"""
from __future__ import annotations

from flask import Flask

from . import checks, request_log, routes, scrape
from .checks import NotReady, register_check
from .scrape import register_gauge

__all__ = ["init_app", "register_check", "register_gauge", "NotReady"]


def init_app(app: Flask) -> None:
    request_log.init_app(app)
    checks.init_app(app)
    scrape.init_app(app)
    app.register_blueprint(routes.bp)
