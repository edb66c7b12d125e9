"""``/v1/triggers``: an app's triggers, with the secret key only (DESIGN.md "Triggers"). Put a
version (JSON, or TOML of the same shape), list them, read one with its versions."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from marshmallow import Schema, fields, validate

from .. import http
from ..auth import NoWebhookSecret, require_secret_key, webhook_secret
from ..engine.template_schema import EVENT_TYPES
from ..errors import APIError, ValidationFailed
from . import deliveries, store
from .definition import MAX_TRIGGER_BYTES, is_trigger_id
from .dry_run import dry_run
from .funnel import funnel

bp = Blueprint("triggers", __name__)

BODY_FORMATS = http.DEFINITION_FORMATS


class NoSecret(APIError):
    status, code, message = 409, "no_webhook_secret", "The app has no webhook secret to sign deliveries with."


def known_id(trigger_id: str) -> None:
    """A trigger id of the id's form, else the unknown trigger's 404 (before any key or query)."""
    if not is_trigger_id(trigger_id):
        raise store.unknown_trigger(trigger_id)


@bp.put("/v1/triggers/<trigger_id>")
def put(trigger_id: str) -> tuple[Response, int]:
    known_id(trigger_id)
    caller = require_secret_key()
    body = http.read_body(MAX_TRIGGER_BYTES, tuple(BODY_FORMATS))
    try:  # a trigger nobody can verify would be sent unsigned or not at all: refused now, not at delivery
        webhook_secret(caller.app_id)
    except NoWebhookSecret as exc:
        raise NoSecret(str(exc)) from None
    number = store.save(caller.app_id, trigger_id, body.decode(), BODY_FORMATS[request.mimetype],
                        key_id=caller.key_id)
    return jsonify({"id": trigger_id, "version": number}), 201


@bp.get("/v1/triggers")
def index() -> Response:
    caller = require_secret_key()
    return jsonify({"triggers": store.listing(caller.app_id)})


@bp.get("/v1/triggers/<trigger_id>")
def show(trigger_id: str) -> Response:
    """The latest version's source, and every version."""
    known_id(trigger_id)
    caller = require_secret_key()
    return jsonify({**store.source(caller.app_id, trigger_id), "versions": store.versions(caller.app_id, trigger_id)})


@bp.get("/v1/triggers/<trigger_id>/deliveries")
def deliveries_of(trigger_id: str) -> Response:
    """The trigger's latest deliveries (``?limit=``, at most 500), newest first, with every attempt."""
    known_id(trigger_id)
    caller = require_secret_key()
    store.current(caller.app_id, trigger_id)  # 404 for a trigger never saved
    limit = request.args.get("limit", "100")
    if not limit.isdigit() or not 1 <= int(limit) <= 500:
        raise ValidationFailed("limit is 1 to 500.", details={"limit": ["Must be between 1 and 500."]})
    return jsonify({"deliveries": deliveries.listing(caller.app_id, trigger_id, int(limit))})


class ImaginedEvent(Schema):
    """The event a dry run imagines (an event trigger's): its name (default: the trigger's
    first), type (default track) and properties."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    type = fields.String(validate=validate.OneOf(EVENT_TYPES))
    properties = fields.Dict(keys=fields.String())


class DryRunRequest(Schema):
    event = fields.Nested(ImaginedEvent, load_default=dict)


@bp.post("/v1/triggers/<trigger_id>/dry-run")
def dry_run_of(trigger_id: str) -> Response:
    """How many users the trigger would notify now, and five messages; nothing is sent."""
    known_id(trigger_id)
    caller = require_secret_key()
    trigger = store.current(caller.app_id, trigger_id)
    body = http.load(DryRunRequest(), '{"event": {"properties": {"artist": "Nova"}}}', "dry run") \
        if request.content_length else {"event": {}}
    return jsonify(dry_run(caller.app_id, trigger, body["event"]))


@bp.get("/v1/triggers/<trigger_id>/funnel")
def funnel_of(trigger_id: str) -> Response:
    """Sent → delivered → opened → story completed → shared, for the last ``?days=`` (30, at most 366)."""
    known_id(trigger_id)
    caller = require_secret_key()
    store.current(caller.app_id, trigger_id)
    days = request.args.get("days", "30")
    if not days.isdigit() or not 1 <= int(days) <= 366:
        raise ValidationFailed("days is 1 to 366.", details={"days": ["Must be between 1 and 366."]})
    return jsonify(funnel(caller.app_id, trigger_id, int(days), deliveries.clock()))
