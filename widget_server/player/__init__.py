"""The story player: ``/widget/player.js`` (+ css), the ``/embed/<template>`` page, story stats."""
from __future__ import annotations

from flask import Flask, Response, request

from ..http import PLAYER_API_CORS
from .blueprint import bp

# The routes that Recap.story calls from other sites' pages (with a Bearer viewer token).
PLAYER_API_PREFIXES = ("/v1/stories/", "/v1/shares")


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
