"""The story player: ``/widget/player.js`` (+ css), the ``/embed/<template>`` page, story stats."""
from __future__ import annotations

from flask import Blueprint, Flask, Response, request

bp = Blueprint("player", __name__, static_folder="static", static_url_path="/widget",
               template_folder="templates")

WIDGET_PREFIX = "/widget/"


@bp.after_request
def _widget_cors(response: Response) -> Response:
    # player.css and its font are loaded by other sites' pages; fonts need CORS to be used.
    if request.path.startswith(WIDGET_PREFIX):
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def init_app(app: Flask) -> None:
    from . import embed, stats_views  # noqa: F401  (they add their routes to bp)

    app.register_blueprint(bp)
