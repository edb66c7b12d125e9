"""HTTP routes of sharing: create and revoke shares, the public page and its images."""
from __future__ import annotations

import time
from typing import Any

from flask import Response, current_app, jsonify, render_template, request, send_file
from marshmallow import Schema, ValidationError, fields, validate, validates

from .. import http
from ..assets import preload_first_font
from ..assets.encoded import compressed
from ..engine.template_schema import TEMPLATE_ID, TEMPLATE_ID_RULE
from ..errors import APIError, Gone, ValidationFailed
from ..store.models import Share
from . import access, images, page, shares
from .blueprint import bp

IMAGE_KINDS = {f"{kind}.png": kind for kind in images.KINDS}
# The player may run on the app's own site and call these routes from there; credentials are
# Bearer tokens (never cookies), so any origin may. Images too: the player fetches story.png to
# hand it to the phone's share sheet.
# Browsers and CDNs may keep an image an hour, then revalidate (a cheap 304). Longer would keep
# a revoked card visible in caches for longer; the ETag makes revalidation nearly free.
IMAGE_MAX_AGE = 3600


class ShareRequest(Schema):
    template = fields.String(required=True, validate=validate.Regexp(TEMPLATE_ID, error=TEMPLATE_ID_RULE))
    caption = fields.String(load_default=None, allow_none=True)
    upload_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))

    @validates("caption")
    def _caption_fits(self, value: str | None, **_: Any) -> None:
        limit = current_app.config["SHARE_CAPTION_MAX"]
        if value is not None and len(value) > limit:
            raise ValidationError(f"At most {limit} characters (this one has {len(value)}).")


@bp.after_request
def _cors(response: Response) -> Response:
    if request.path.startswith(("/v1/shares", "/v1/uploads")) or request.path.endswith(".png"):
        response.headers.update(http.PLAYER_API_CORS)
    return response


@bp.route("/v1/shares", methods=["OPTIONS"])
@bp.route("/v1/shares/<share_id>", methods=["OPTIONS"])
@bp.route("/v1/uploads", methods=["OPTIONS"])
def preflight(share_id: str | None = None) -> Response:
    return Response(status=204)


@bp.post("/v1/shares")
def create_share() -> tuple[Response, int]:
    caller = access.viewer()
    args = http.load(ShareRequest(), '{"template": "…", "caption": "…"}', "share request")
    caption = " ".join((args["caption"] or "").split()) or None  # one line, as drawn on the card
    upload = shares.owned_upload(caller, args["upload_id"]) if args["upload_id"] else None
    share, made = shares.create(caller, args["template"], caption, upload)
    return jsonify(_share_json(share)), 201 if made else 200


def _share_json(share: Share) -> dict[str, Any]:
    links = shares.links(share)
    return {"id": share.id, "url": links["url"], "deep_link": links["deep_link"], "images": links["images"],
            "text": links["text"], "background": links["background"], "video": links["video"],
            "expires_at": http.iso_time(share.expires_at, "seconds")}


@bp.get("/v1/shares/<share_id>")
def get_share(share_id: str) -> Response:
    """The share as ``POST /v1/shares`` answered it, with its video's status now."""
    share = shares.owned(access.viewer_or_secret("read shares"), share_id)
    if share.revoked_at is not None or share.expires_at <= shares.now_ms():
        raise Gone("This share has ended.", details={"reason": "revoked" if share.revoked_at else "expired"})
    return jsonify(_share_json(share))


@bp.delete("/v1/shares/<share_id>")
def revoke_share(share_id: str) -> Response:
    share = shares.revoke(access.viewer_or_secret("revoke shares"), share_id)
    images.forget(share.id)
    assert share.revoked_at is not None  # (revoke sets it)
    return jsonify(id=share.id, revoked_at=http.iso_time(share.revoked_at, "seconds"))


@bp.get("/s/<token>")
def share_page(token: str) -> Response:
    try:
        share = shares.live(token)
    except APIError as exc:  # people open these links in browsers: answer with a page
        response = Response(render_template("share/gone.html", status=exc.status, message=exc.message),
                            status=exc.status)
        response.headers["Content-Security-Policy"] = page.CSP
        return compressed(response)
    response = Response(render_template("share/page.html", **page.context(share)))
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Content-Security-Policy"] = page.CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is the secret; don't pass it on
    return compressed(preload_first_font(response))


@bp.get("/s/<token>/<name>")
def share_image(token: str, name: str) -> Response:
    started = time.perf_counter()
    kind = IMAGE_KINDS.get(name)
    if kind is None:
        raise ValidationFailed("No such image.", details={"image": [f"One of {', '.join(IMAGE_KINDS)}."]})
    share = shares.live(token, status_only=True)
    tag = images.etag(share.id, kind)
    headers = {"ETag": f'"{tag}"', "Cache-Control": f"public, max-age={IMAGE_MAX_AGE}",
               "X-Content-Type-Options": "nosniff"}
    if tag in request.if_none_match:
        response = Response(status=304, headers=headers)
    else:
        path, render_ms = images.cached_file(share.id, kind, lambda: Share.get_by_id(share.id))
        response = send_file(path, mimetype="image/png", download_name=name, conditional=False, etag=False,
                             max_age=None)
        response.headers.update(headers)
        if render_ms is not None:
            response.headers["Server-Timing"] = f"render;dur={render_ms:.1f}"
    total = (time.perf_counter() - started) * 1000
    response.headers.add("Server-Timing", f"app;dur={total:.2f}")
    return response
