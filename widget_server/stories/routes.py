"""``GET /v1/stories/<template>``: a user's story as JSON, for a viewer token or the secret key
(which may preview a saved version, ``?version=n``); the template routes' blueprint with it."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, jsonify, request

from ..assets.encoded import compressed
from ..auth import Caller, require_viewer_or_secret
from ..engine import TemplateInvalid, assemble_story, locales, registry
from ..engine.errors import StoryUnavailable
from ..engine.story_shape import Story
from ..engine.templates import is_template_id, unknown_template
from ..errors import Forbidden, ValidationFailed
from ..store.models import MAX_ID
from . import templates_api

bp = Blueprint("stories", __name__)


@bp.get("/v1/stories/<template_id>")
def show(template_id: str) -> Response:
    if not is_template_id(template_id):
        raise unknown_template(template_id)  # before any credential or database work
    user_id = request.args.get("user_id")
    if user_id is not None and not 0 < len(user_id) <= MAX_ID:
        raise ValidationFailed(f"user_id must be 1–{MAX_ID} characters.", details={"user_id": ["Invalid length."]})
    caller = require_viewer_or_secret(user_id=user_id, token=request.args.get("token"))
    fresh = request.args.get("fresh", "").lower() in ("1", "true", "yes")
    response = jsonify(story_for(caller, template_id, fresh=fresh, version=_version(caller),
                                 locale=locales.checked(request.args.get("locale"))))
    # A story is personal: never let a shared cache keep it.
    response.headers["Cache-Control"] = "private, no-store"
    return compressed(response)  # the embed page's first frame waits for it


def _version(caller: Caller) -> int | None:
    """``?version=n``: a preview of that saved version (a draft, say), for the secret key only."""
    given = request.args.get("version")
    if given is None:
        return None
    if caller.kind != "secret":
        raise Forbidden("Only the secret key may preview a template version.",
                        details={"version": ["Needs the secret key."]})
    if not given.isdigit() or not 0 < int(given) < 2**31:
        raise ValidationFailed("version must be a version number.", details={"version": ["Not a version number."]})
    return int(given)


def story_for(caller: Caller, template_id: str, *, fresh: bool = False, version: int | None = None,
              locale: str | None = None) -> Story:
    """The caller's story, as the HTTP routes (stories, shares) hand it out; in ``locale`` (the
    route's checked ``?locale=``) when given, else in the user's own.

    Only the secret key may skip the built story (``fresh``): a viewer token's ``fresh`` is
    ignored, as its user could otherwise make the server assemble a story as often as they ask,
    however many events they sent themselves. A ``version`` (the secret key's preview) is
    always assembled. A viewer is never told why a template is invalid
    (its file path and reasons): the registry logs them, and the secret key is answered them.
    """
    assert caller.user_id is not None  # a story's caller names its user (require_viewer_or_secret)
    try:
        return assemble_story(caller.app_id, template_id, caller.user_id, fresh=fresh and caller.kind == "secret",
                              version=version, locale=locale)
    except TemplateInvalid:
        if caller.kind == "secret":
            raise
        raise StoryUnavailable(details={"template": template_id}) from None


def init_app(app: Flask) -> None:
    registry.app_root = Path(app.instance_path) / "templates"
    app.register_blueprint(bp)
    app.register_blueprint(templates_api.bp)
