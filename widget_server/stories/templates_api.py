"""``/v1/templates``: an app's templates as data, with the secret key only (DESIGN.md "Templates
as data"). Put a version (TOML or JSON), list, read with versions, publish, roll back, and read
who did what; the work is engine/template_store.py's."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import Schema, fields, validate

from .. import http
from ..auth import require_secret_key
from ..engine import template_store
from ..engine.template_files import template_files
from ..engine.templates import MAX_TEMPLATE_BYTES, is_template_id, unknown_template
from ..errors import NotFound

bp = Blueprint("templates", __name__)

# The media types a template may be put in, and the format each one is.
BODY_FORMATS = {"application/toml": "toml", "text/toml": "toml", "application/json": "json"}


class VersionRequest(Schema):
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


def known_id(template_id: str) -> None:
    """A template id of the id's form, else the unknown template's 404 (before any key or query)."""
    if not is_template_id(template_id):
        raise unknown_template(template_id)


@bp.put("/v1/templates/<template_id>")
def put(template_id: str) -> tuple[Response, int]:
    known_id(template_id)
    caller = require_secret_key()
    body = http.read_body(MAX_TEMPLATE_BYTES, tuple(BODY_FORMATS))
    publish = request.args.get("publish", "").lower() in ("1", "true", "yes")
    number = template_store.save_draft(caller.app_id, template_id, body.decode(), BODY_FORMATS[request.mimetype],
                                       key_id=caller.key_id, publish=publish)
    return jsonify({"id": template_id, "version": number, "status": "published" if publish else "draft"}), 201


@bp.get("/v1/templates")
def index() -> Response:
    caller = require_secret_key()
    return jsonify({"templates": template_store.listing(caller.app_id)})


@bp.get("/v1/templates/<template_id>")
def show(template_id: str) -> Response:
    """The source that serves (the published version, else the default) and every version."""
    known_id(template_id)
    caller = require_secret_key()
    found = template_store.head(caller.app_id, template_id)
    shown: dict[str, Any]
    if found is not None and found.published is not None:
        shown = template_store.source(caller.app_id, template_id)
    else:
        try:
            default = template_files.default(caller.app_id, template_id)
            shown = {"id": template_id, "version": 0, "status": "default", "format": "toml",
                     "source": default.source}
        except NotFound:
            if found is None:
                raise
            shown = {"id": template_id, "version": None, "status": "unpublished", "format": None, "source": None}
    return jsonify({**shown, "published": found.published if found else None, "latest": found.latest if found else 0,
                    "versions": template_store.versions(caller.app_id, template_id)})


@bp.get("/v1/templates/<template_id>/versions/<int:number>")
def show_version(template_id: str, number: int) -> Response:
    known_id(template_id)
    caller = require_secret_key()
    return jsonify(template_store.source(caller.app_id, template_id, number))


@bp.post("/v1/templates/<template_id>/publish")
def publish(template_id: str) -> Response:
    known_id(template_id)
    caller = require_secret_key()
    number = http.load(VersionRequest(), '{"version": 2}', "publish request")["version"]
    return jsonify({"id": template_id, "published": template_store.publish(caller.app_id, template_id, number,
                                                                           key_id=caller.key_id)})


@bp.post("/v1/templates/<template_id>/rollback")
def rollback(template_id: str) -> Response:
    known_id(template_id)
    caller = require_secret_key()
    number = http.load(VersionRequest(), '{"version": 1}', "rollback request")["version"]
    return jsonify({"id": template_id, "published": template_store.rollback(caller.app_id, template_id, number,
                                                                            key_id=caller.key_id)})


@bp.get("/v1/templates/<template_id>/audit")
def audit(template_id: str) -> Response:
    known_id(template_id)
    caller = require_secret_key()
    return jsonify({"audit": template_store.audit(caller.app_id, template_id)})
