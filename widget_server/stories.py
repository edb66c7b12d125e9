"""``GET /v1/stories/<template>``: a user's story as JSON, for a viewer token or the secret key."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, jsonify, request

from .auth import require_viewer_or_secret
from .engine import assemble_story, registry
from .engine.templates import is_template_id, unknown_template
from .errors import ValidationFailed

bp = Blueprint("stories", __name__)


@bp.get("/v1/stories/<template_id>")
def show(template_id: str) -> Response:
    if not is_template_id(template_id):
        raise unknown_template(template_id)  # before any credential or database work
    user_id = request.args.get("user_id")
    if user_id is not None and not 0 < len(user_id) <= 200:
        raise ValidationFailed("user_id must be 1–200 characters.", details={"user_id": ["Invalid length."]})
    caller = require_viewer_or_secret(user_id=user_id, token=request.args.get("token"))
    fresh = request.args.get("fresh", "").lower() in ("1", "true", "yes")
    story = assemble_story(caller.app_id, template_id, caller.user_id, fresh=fresh)
    response = jsonify(story)
    # A story is personal: never let a shared cache keep it.
    response.headers["Cache-Control"] = "private, no-store"
    return response


def init_app(app: Flask) -> None:
    registry.app_root = Path(app.instance_path) / "templates"
    app.register_blueprint(bp)
