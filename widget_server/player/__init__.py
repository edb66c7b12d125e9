"""The story player: ``/widget/player.js`` (+ css), the ``/embed/<template>`` page, story stats."""
from __future__ import annotations

from flask import Blueprint, Flask, Response, request

bp = Blueprint("player", __name__, static_folder="static", static_url_path="/widget",
               template_folder="templates")

WIDGET_PREFIX = "/widget/"
# The routes that Recap.story calls from other sites' pages (with a Bearer viewer token).
PLAYER_API_PREFIXES = ("/v1/stories/", "/v1/shares")
PLAYER_API_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "86400",
}


@bp.after_request
def _widget_cors(response: Response) -> Response:
    # player.css and its font are loaded by other sites' pages; fonts need CORS to be used.
    if request.path.startswith(WIDGET_PREFIX):
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _player_api_cors(response: Response) -> Response:
    """Let a page on any origin mount the player: it reads its story and makes share links.

    Safe with ``*`` because these routes take a Bearer token, never cookies, so a browser adds no
    ambient credential; the routes' own owners may set stricter headers, which are kept.
    """
    if request.path.startswith(PLAYER_API_PREFIXES) and "Access-Control-Allow-Origin" not in response.headers:
        response.headers.update(PLAYER_API_CORS)
    return response


def init_app(app: Flask) -> None:
    from . import embed, stats_views  # noqa: F401  (they add their routes to bp)

    app.register_blueprint(bp)
    app.after_request(_player_api_cors)
