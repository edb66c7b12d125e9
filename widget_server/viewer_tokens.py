"""``POST /v1/viewer-tokens``: the app's server asks for a short-lived token for one user."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Flask, Response, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate

from .auth import create_viewer_token, require_secret_key
from .errors import MalformedBody, ValidationFailed

bp = Blueprint("viewer_tokens", __name__)


class ViewerTokenRequest(Schema):
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    ttl = fields.Integer(load_default=None, validate=validate.Range(min=60, max=24 * 3600))


@bp.post("/v1/viewer-tokens")
def create() -> tuple[Response, int]:
    caller = require_secret_key()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise MalformedBody("Send a JSON object: {\"user_id\": \"…\"}.")
    try:
        args = ViewerTokenRequest().load(data)
    except ValidationError as exc:
        raise ValidationFailed("The request is invalid.", details=exc.messages) from None
    token, expires_at = create_viewer_token(caller.app_id, args["user_id"], args["ttl"])
    expires = datetime.fromtimestamp(expires_at / 1000, timezone.utc).isoformat().replace("+00:00", "Z")
    return jsonify(token=token, expires_at=expires), 201


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
