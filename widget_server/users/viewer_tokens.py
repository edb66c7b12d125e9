"""``POST /v1/viewer-tokens``: the app's server asks for a short-lived token for one user."""
from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify
from marshmallow import Schema, fields, validate

from .. import http
from ..auth import VIEWER_TOKEN_MAX_TTL, create_viewer_token, require_secret_key
from ..store.models import MAX_ID

bp = Blueprint("viewer_tokens", __name__)


class ViewerTokenRequest(Schema):
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=MAX_ID))
    ttl = fields.Integer(load_default=None, validate=validate.Range(min=60, max=VIEWER_TOKEN_MAX_TTL))


@bp.post("/v1/viewer-tokens")
def create() -> tuple[Response, int]:
    caller = require_secret_key()
    args = http.load(ViewerTokenRequest(), '{"user_id": "…"}', "request")
    token, expires_at = create_viewer_token(caller.app_id, args["user_id"], args["ttl"])
    return jsonify(token=token, expires_at=http.iso_time(expires_at)), 201


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
