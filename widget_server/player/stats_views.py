"""``GET /v1/stats/stories/<template>`` (secret key) and the dashboard page that draws it."""
from __future__ import annotations

from typing import Any

from flask import Response, jsonify, render_template, request
from marshmallow import Schema, ValidationError, fields, validate

from ..auth import require_secret_key
from ..engine.template_schema import TEMPLATE_ID, TEMPLATE_ID_RULE
from ..errors import NotFound, Unauthorized, ValidationFailed
from ..store.models import now_ms
from ..triggers.funnel import for_story
from .blueprint import bp
from .stats import story_stats


class StatsQuery(Schema):
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=366))


def _stats(template_id: str) -> dict[str, Any]:
    caller = require_secret_key()
    if not TEMPLATE_ID.match(template_id):
        raise NotFound("No such template id.", details={"template": [TEMPLATE_ID_RULE]})
    try:
        args = StatsQuery().load(request.args.to_dict())
    except ValidationError as exc:
        raise ValidationFailed("The query is invalid.", details=exc.messages) from None
    return story_stats(caller.app_id, template_id, args["days"], now_ms())


@bp.get("/v1/stats/stories/<template_id>")
def stats(template_id: str) -> Response:
    return jsonify(_stats(template_id))


@bp.get("/dashboard/stories/<template_id>")
def dashboard(template_id: str) -> Response:
    try:
        data = _stats(template_id)
    except Unauthorized as exc:
        # A browser asks for the key (as the user name) when challenged.
        exc.headers["WWW-Authenticate"] = 'Basic realm="Recap dashboard", charset="UTF-8"'
        raise
    peak = max([d["viewers"] for d in data["daily"]] + [1])
    notified = for_story(require_secret_key().app_id, template_id, data["window"]["days"], now_ms())
    response = Response(render_template("player/dashboard.html", s=data, peak=peak, triggers=notified))
    response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'self'; "
                                                   "frame-ancestors 'none'; base-uri 'none'")
    response.headers["Cache-Control"] = "no-store"
    return response
