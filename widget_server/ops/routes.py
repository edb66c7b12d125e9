"""The operator's routes: ``GET /healthz``, ``GET /readyz``, ``GET /metrics`` (DESIGN.md,
"Operations"). None takes the request's database connection, so each answers whatever the
database's state; none says anything secret, so only /metrics may ask for a token."""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST

from ..error_answers import error_body
from ..errors import Unauthorized
from ..http import without_database
from . import checks, scrape

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@without_database
def healthz() -> Response:
    """The process serves (nothing else is looked at: a load balancer restarts on this)."""
    return jsonify(status="ok")


@bp.get("/readyz")
@without_database
def readyz() -> Response:
    """Every readiness check passes: 200, or 503 naming the ones that failed."""
    results = checks.run_checks(current_app)
    failing = [name for name, result in results.items() if not result["ok"]]
    if not failing:
        return jsonify(status="ok", checks=results)
    response = jsonify(error_body("not_ready", f"Not ready: {', '.join(failing)}.",
                                  {"failing": failing, "checks": results}))
    response.status_code = 503
    return response


@bp.get("/metrics")
@without_database
def metrics() -> Response:
    """The Prometheus text format; with METRICS_TOKEN set, only for ``Authorization: Bearer``
    that token (compared in constant time)."""
    token = current_app.config["METRICS_TOKEN"]
    if token:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), str(token).encode()):
            raise Unauthorized("GET /metrics needs Authorization: Bearer with the metrics token.",
                               headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return Response(scrape.exposition(current_app), content_type=CONTENT_TYPE_LATEST)
