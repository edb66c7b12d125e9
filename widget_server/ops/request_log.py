"""Each request measured and logged: its latency and status counted by route, and one log line
(``widget_server.requests``) carrying the request id that its ``X-Request-Id`` header and any
error body carry, so a user's report of an error is found in the logs.

``RECAP_LOG_FORMAT=json`` writes the server's logs to stderr as JSON lines, one object each:
time, level, logger, message, and within a request its request_id (plus method, route, status
and duration_ms on the request line; exception on a failure). Plain text, the default, leaves
logging as it was: no handler, so only warnings reach stderr.

The route is the URL rule (``/s/<token>``), never the path: a path holds share tokens and user
ids, and would give the metrics a label value per user.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from .. import monitoring
from ..error_answers import request_id

log = logging.getLogger("widget_server.requests")

LOG_FORMATS = ("text", "json")
UNMATCHED = "(unmatched)"  # the route label of a request no rule matched (404, 405)
REQUEST_FIELDS = ("method", "route", "status", "duration_ms")
HANDLER = "recap-json-lines"  # the name of the handler json installs: one per process, whatever the apps


class JSONLines(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        rid = getattr(record, "request_id", None) or (request_id() if has_request_context() else None)
        if rid is not None:
            line["request_id"] = rid
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logs(log_format: str) -> None:
    """Install (json) or remove (text) the JSON lines handler on the ``widget_server`` logger."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"RECAP_LOG_FORMAT is {log_format!r}; it must be one of {', '.join(LOG_FORMATS)}.")
    logger = logging.getLogger("widget_server")
    for old in [h for h in logger.handlers if h.name == HANDLER]:
        logger.removeHandler(old)
    if log_format == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.name = HANDLER
        handler.setFormatter(JSONLines())
        logger.addHandler(handler)


def _started() -> None:
    g.ops_started = time.perf_counter()


def _answered(response: Response) -> Response:
    seconds = time.perf_counter() - g.get("ops_started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    method, status = request.method, response.status_code
    monitoring.REQUEST_SECONDS.labels(route, method).observe(seconds)
    monitoring.REQUESTS.labels(route, method, str(status)).inc()
    if log.isEnabledFor(logging.INFO) and log.hasHandlers():  # by default nothing would write it
        duration_ms = round(seconds * 1000, 2)
        log.info("%s %s %d %.1f ms", method, route, status, duration_ms,
                 extra={"request_id": request_id(), "method": method, "route": route, "status": status,
                        "duration_ms": duration_ms})
    return response


def init_app(app: Flask) -> None:
    """Hooks around every request; registered first, so the time includes the others'."""
    configure_logs(str(app.config["LOG_FORMAT"]).lower())
    app.before_request(_started)
    app.after_request(_answered)
