"""``GET /embed/<template>``: the full-screen player page for a WebView or an iframe."""
from __future__ import annotations

import json

from flask import Response, abort, render_template, request, send_file

from ..apps.settings import FRAME_SOURCE, frame_sources
from ..assets import csp_hash, fonts, inline_script, inline_style, preload_first_font
from ..assets.encoded import compressed
from ..auth import verify_viewer_token, viewer_token_app
from ..engine import locales
from ..engine.story_shape import Story
from ..engine.template_schema import TEMPLATE_ID
from ..errors import APIError
from ..http import without_database
from ..store.models import App
from ..stories.routes import story_for
from .blueprint import bp
from .strings import page_table

# What the first frame needs comes with the page: its whole stylesheet, the player and the
# viewer's story. On a slow link every request after the page costs its latency again, and the
# story could only be asked for once the script had come (docs/PLAYER.md, "The first frame").
STYLES = ("/widget/player.css", "/widget/embed.css")
SCRIPTS = ("/widget/player.js", "/widget/embed.js")


def frame_ancestors(setting: str | None) -> str:
    """The CSP frame-ancestors value for an app's setting: listed origins, or * when empty.

    The setting is written by the app's owner, but it still must not be able to add directives,
    so anything that is not a plain source is dropped; a setting with nothing valid left frames
    nowhere ('none') rather than everywhere.
    """
    words = frame_sources(setting)
    if not words:
        return "*"
    return " ".join(w for w in words if FRAME_SOURCE.match(w)) or "'none'"


def content_security_policy(ancestors: str, style: str, script: str) -> str:
    """The page's CSP; ``style`` and ``script`` are the texts of its one inline <style> and
    <script>, each allowed by its hash (the story's data block is not a script)."""
    return "; ".join([
        "default-src 'none'",
        f"script-src {csp_hash(script)}",
        f"style-src 'self' {csp_hash(style)}",
        "font-src 'self'",
        # Story media may live on a CDN; the share card may be fetched as a file to share.
        "img-src 'self' https: data: blob:",
        "media-src 'self' https: blob:",
        "connect-src 'self' https:",
        "base-uri 'none'",
        "form-action 'none'",
        f"frame-ancestors {ancestors}",
    ])


def _app_for(token: str) -> App | None:
    app_id = viewer_token_app(token) if token else None
    return App.get_or_none(App.id == app_id) if app_id else None


def _story(token: str, template_id: str, locale: str | None) -> Story | None:
    """The viewer's story to put in the page, or None: the player then asks for it itself and
    shows what the story route answers (an expired link, a story not ready yet)."""
    if not token:
        return None
    try:
        return story_for(verify_viewer_token(token), template_id, locale=locale)
    except APIError:
        return None


@bp.get("/embed/<template_id>")
def embed(template_id: str) -> Response:
    if not TEMPLATE_ID.match(template_id):
        abort(404)
    token = request.args.get("token", "")[:2000]
    locale = locales.checked(request.args.get("locale"))
    app = _app_for(token)
    story = _story(token, template_id, locale)
    # The page is in the story's language; without a story, in the one asked for or the app's.
    shown = story["locale"] if story else locale or (app.locale if app else locales.DEFAULT)
    # Every text the page shows is in it (the story, the player's words): the stylesheet declares
    # the fonts' faces for those scripts alone.
    style = inline_style(*STYLES, page_text=json.dumps([story, page_table(shown)], ensure_ascii=False))
    script = inline_script(*SCRIPTS)
    response = Response(render_template("player/embed.html", template_id=template_id, style=style, script=script,
                                        story=story, title=app.name if app else "Your story", locale=locale,
                                        lang=shown, direction=locales.direction(shown), strings=page_table(shown)))
    response.headers["Content-Security-Policy"] = content_security_policy(
        frame_ancestors(app.frame_ancestors if app else ""), style, script)
    # The URL holds a viewer token until the page removes it, and the page a story: keep both
    # out of caches and Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return compressed(preload_first_font(response))


@bp.get("/widget/fonts/manrope.ttf")
@without_database
def whole_font() -> Response:
    """The whole TTF, still named by copies of player.css cached before the WOFF2 files."""
    return send_file(fonts.VARIABLE, mimetype="font/ttf", max_age=30 * 86400)
