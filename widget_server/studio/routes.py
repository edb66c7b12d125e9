"""``/studio``: the sign-in page, the studio page, and the JSON the studio's page calls.

Everything under ``/studio/api/`` needs the signed-in session (session.py); what changes
something also needs the page's CSRF token. The work is the template store's
(engine/template_store.py), as for ``/v1/templates``: a save or a publish from the studio is
the same save, checked the same way, audited under the signed-in key.
"""
from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response as AnyResponse

from .. import http
from ..assets.catalog import STUDIO
from ..assets.encoded import compressed
from ..assets.routes import serve
from ..engine import template_store
from ..engine.errors import NotEligible, TemplateInvalid
from ..engine.template_files import template_files
from ..engine.templates import MAX_TEMPLATE_BYTES
from ..errors import APIError, NotFound
from ..http import without_database
from ..player.stats import story_totals
from ..store.models import MAX_ID, App
from ..stories.templates_api import VersionRequest, known_id
from . import form_edits, samples, session
from .source_lines import line_of

bp = Blueprint("studio", __name__, template_folder="templates")

CSP = "; ".join([
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "font-src 'self'",
    "img-src 'self' https: data: blob:", "media-src 'self' https: blob:", "connect-src 'self'",
    "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
])
STATS_DAYS = 30


class SourceRequest(Schema):
    source = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEMPLATE_BYTES))
    format = fields.String(load_default="toml", validate=validate.OneOf(("toml", "json")))


class PreviewRequest(SourceRequest):
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=MAX_ID))


class SaveRequest(SourceRequest):
    publish = fields.Boolean(load_default=False)


def _page(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(render_template(template, **context), status=status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return compressed(response)


@bp.get(STUDIO + "<path:name>")
@without_database
def static_file(name: str) -> Response:
    """studio.css and studio.js, by fingerprinted URL or plain name (assets/)."""
    return serve(STUDIO + name)


@bp.get("/studio")
def studio() -> Response:
    signed_in = session.current()
    if signed_in is None:
        return _page("studio/login.html")
    app = App.get_by_id(signed_in.app_id)
    return _page("studio/studio.html", app=app, csrf=signed_in.csrf)


@bp.post("/studio/login")
def login() -> AnyResponse:
    key = request.form.get("key", "")[:200]
    try:
        _, cookie = session.sign_in(key)
    except APIError as exc:
        return _page("studio/login.html", status=exc.status, error=exc.message)
    # See Other: the key was in the form's body; a reload of the studio must not post it again.
    return session.set_cookie(redirect("/studio", 303), cookie)


@bp.post("/studio/logout")
def logout() -> AnyResponse:
    session.require()
    return session.clear_cookie(redirect("/studio", 303))


@bp.get("/studio/api/templates")
def templates() -> Response:
    app_id = session.require(changes=False).app_id
    now = int(time.time() * 1000)
    out = []
    for entry in template_store.listing(app_id):
        stats = story_totals(app_id, entry["id"], STATS_DAYS, now)
        out.append({**entry, "stats": {"days": STATS_DAYS, "viewers": stats["viewers"],
                                       "completion_rate": stats["completion_rate"], "shares": stats["shares"]}})
    return jsonify({"templates": out})


@bp.get("/studio/api/templates/<template_id>")
def template(template_id: str) -> Response:
    """What the editor opens: the latest version (a draft carries on where it was left), the
    published number and every version."""
    known_id(template_id)
    app_id = session.require(changes=False).app_id
    found = template_store.head(app_id, template_id)
    if found is not None and found.latest:
        shown = template_store.source(app_id, template_id, found.latest)
    else:
        default = template_files.default(app_id, template_id)
        shown = {"id": template_id, "version": 0, "status": "default", "format": "toml", "source": default.source}
    return jsonify({**shown, "published": found.published if found else None,
                    "versions": template_store.versions(app_id, template_id)})


def _refusals(source: str, exc: TemplateInvalid) -> list[dict[str, Any]]:
    """Each refusal with the line it is about (None when the source does not say)."""
    return [{**error, "line": line_of(source, error["path"], error["reason"])} for error in exc.errors]


def _checked(template_id: str, body: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    try:
        return template_store.check(template_id, body["source"], body["format"], "draft"), []
    except TemplateInvalid as exc:
        return None, _refusals(body["source"], exc)


@bp.post("/studio/api/templates/<template_id>/check")
def check(template_id: str) -> Response:
    """The draft's refusals with their lines (nothing saved), and its spec for the form view."""
    known_id(template_id)
    session.require()
    body = http.load(SourceRequest(), '{"source": "id = ..."}', "check request")
    parsed, errors = _checked(template_id, body)
    return jsonify({"errors": errors, "spec": parsed.spec if parsed else None})


@bp.post("/studio/api/templates/<template_id>/preview")
def preview(template_id: str) -> Response:
    """The draft's story for one user, with which frames were skipped or replaced and why."""
    known_id(template_id)
    app_id = session.require().app_id
    body = http.load(PreviewRequest(), '{"source": "…", "user_id": "…"}', "preview request")
    parsed, errors = _checked(template_id, body)
    if parsed is None:
        return jsonify({"errors": errors, "story": None})
    outcome, notes = samples.preview_one(app_id, parsed, body["user_id"])
    if isinstance(outcome, NotEligible):
        return jsonify({"errors": [], "story": None, "not_eligible": {"message": outcome.message,
                                                                      "details": outcome.details}})
    return jsonify({"errors": [], "story": outcome, "notes": notes})


@bp.post("/studio/api/templates/<template_id>/samples")
def sample_users(template_id: str) -> Response:
    known_id(template_id)
    app_id = session.require().app_id
    body = http.load(SourceRequest(), '{"source": "…"}', "samples request")
    parsed, errors = _checked(template_id, body)
    if parsed is None:
        return jsonify({"errors": errors, "samples": []})
    return jsonify({"errors": [], "samples": samples.pick(app_id, parsed)})


@bp.post("/studio/api/templates/<template_id>/edits")
def edit(template_id: str) -> Response:
    """The form view's changes made in the TOML (comments and layout kept); not saved."""
    known_id(template_id)
    session.require()
    body = http.load(form_edits.EditsRequest(), '{"source": "…", "edits": [{"op": "set", ...}]}', "edit request")
    return jsonify({"source": form_edits.apply(body["source"], body["edits"])})


@bp.post("/studio/api/templates/<template_id>/versions")
def save(template_id: str) -> tuple[Response, int]:
    known_id(template_id)
    signed_in = session.require()
    body = http.load(SaveRequest(), '{"source": "…", "publish": false}', "save request")
    try:
        number = template_store.save_draft(signed_in.app_id, template_id, body["source"], body["format"],
                                           key_id=signed_in.key_id, publish=body["publish"], file="draft")
    except TemplateInvalid as exc:  # the one error body, each refusal with its line
        raise TemplateInvalid(exc.file, _refusals(body["source"], exc)) from None
    return jsonify({"id": template_id, "version": number, "status": "published" if body["publish"] else "draft"}), 201


@bp.post("/studio/api/templates/<template_id>/publish")
def publish(template_id: str) -> Response:
    known_id(template_id)
    signed_in = session.require()
    number = http.load(VersionRequest(), '{"version": 2}', "publish request")["version"]
    return jsonify({"id": template_id, "published": template_store.publish(signed_in.app_id, template_id, number,
                                                                           key_id=signed_in.key_id)})


@bp.post("/studio/api/templates/<template_id>/rollback")
def rollback(template_id: str) -> Response:
    known_id(template_id)
    signed_in = session.require()
    number = http.load(VersionRequest(), '{"version": 1}', "rollback request")["version"]
    return jsonify({"id": template_id, "published": template_store.rollback(signed_in.app_id, template_id, number,
                                                                            key_id=signed_in.key_id)})


@bp.get("/studio/api/templates/<template_id>/versions/<int:number>")
def version_source(template_id: str, number: int) -> Response:
    known_id(template_id)
    app_id = session.require(changes=False).app_id
    try:
        return jsonify(template_store.source(app_id, template_id, number))
    except NotFound:
        raise NotFound(f"The template {template_id!r} has no version {number}.",
                       details={"version": [f"No version {number}."]}) from None
