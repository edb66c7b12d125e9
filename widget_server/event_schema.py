"""The Segment event, twice over: a msgspec struct for the hot path and a marshmallow schema
that documents the contract and words the errors.

Every event is first decoded with msgspec (~1 µs). Only an event that fails is run through the
marshmallow schema, whose messages name each bad field. ``tests/test_event_schema.py`` proves
the two accept and refuse the same inputs.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

TYPES = ("track", "identify", "page", "screen", "alias", "group")
MAX_ID = 200

Id = str | int  # Segment clients send numeric ids too; they are stored as text.


class EventIn(msgspec.Struct, forbid_unknown_fields=False):
    type: str | None = None
    event: str | None = None
    name: str | None = None
    userId: Id | None = None
    anonymousId: Id | None = None
    messageId: str | None = None
    timestamp: str | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    previousId: Id | None = None
    groupId: Id | None = None


class BatchIn(msgspec.Struct, forbid_unknown_fields=False):
    batch: list[msgspec.Raw]
    sentAt: str | None = None
    writeKey: str | None = None
    context: dict[str, Any] | None = None


class SingleIn(msgspec.Struct, forbid_unknown_fields=False):
    sentAt: str | None = None
    writeKey: str | None = None


_decode_event = msgspec.json.Decoder(EventIn).decode


def parse_time(value: str) -> datetime:
    """ISO-8601 with a zone; a naive time is taken as UTC."""
    return datetime.fromisoformat(value)


def semantic_errors(ev: EventIn) -> dict[str, list[str]]:
    """Rules that types alone cannot say. Shared by both validators."""
    errors: dict[str, list[str]] = {}
    if ev.type not in TYPES:
        errors["type"] = [f"Must be one of: {', '.join(TYPES)}."]
        return errors
    for field in ("userId", "anonymousId", "previousId", "groupId"):
        value = getattr(ev, field)
        if value is not None and (value == "" or len(str(value)) > MAX_ID):
            errors[field] = [f"Must be 1 to {MAX_ID} characters."]
    if ev.type == "alias":
        if ev.userId is None:
            errors.setdefault("userId", ["Missing data for required field."])
        if ev.previousId is None:
            errors.setdefault("previousId", ["Missing data for required field."])
    elif ev.userId is None and ev.anonymousId is None:
        errors.setdefault("userId", ["Either userId or anonymousId is required."])
    if ev.type == "track" and not ev.event:
        errors["event"] = ["Missing data for required field."]
    if ev.type == "group" and ev.groupId is None:
        errors.setdefault("groupId", ["Missing data for required field."])
    for field, value in (("event", ev.event), ("name", ev.name), ("messageId", ev.messageId)):
        if value is not None and len(value) > MAX_ID:
            errors[field] = [f"Longer than maximum length {MAX_ID}."]
    if ev.timestamp is not None:
        try:
            parse_time(ev.timestamp)
        except ValueError:
            errors["timestamp"] = ["Not a valid ISO-8601 datetime."]
    return errors


class _IdField(fields.Field):
    default_error_messages = {"invalid": "Must be a string or a number."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.make_error("invalid")
        return value


class EventSchema(Schema):
    """A Segment event as Recap accepts it (the documented contract)."""

    class Meta:
        unknown = EXCLUDE

    type = fields.String(allow_none=True)
    event = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    userId = _IdField(allow_none=True)
    anonymousId = _IdField(allow_none=True)
    messageId = fields.String(allow_none=True)
    timestamp = fields.String(allow_none=True)
    properties = fields.Dict(keys=fields.String(), allow_none=True)
    traits = fields.Dict(keys=fields.String(), allow_none=True)
    context = fields.Dict(keys=fields.String(), allow_none=True)
    previousId = _IdField(allow_none=True)
    groupId = _IdField(allow_none=True)

    @validates_schema
    def _rules(self, data: dict, **kwargs) -> None:
        errors = semantic_errors(EventIn(**data))
        if errors:
            raise ValidationError(errors)


_schema = EventSchema()


def event_errors(raw: bytes, forced_type: str | None = None) -> dict[str, list[str]]:
    """Every problem with one raw event, worded by marshmallow."""
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return {"_event": ["Not valid JSON."]}
    if not isinstance(data, dict):
        return {"_event": ["An event must be a JSON object."]}
    if forced_type:
        data["type"] = forced_type
    try:
        _schema.load(data)
    except ValidationError as exc:
        return {k: v if isinstance(v, list) else [str(v)] for k, v in exc.messages.items()}
    return {}


def decode_event(raw: bytes, forced_type: str | None = None,
                 forced_user: str | None = None) -> EventIn | dict[str, list[str]]:
    """The event, or its errors by field. ``forced_user`` replaces whatever user it names."""
    try:
        ev = _decode_event(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return event_errors(raw, forced_type) or {"_event": ["Not a valid event."]}
    if forced_type:
        ev.type = forced_type
    if forced_user is not None:
        ev.userId = forced_user
        if ev.type == "alias":
            ev.previousId = forced_user
    errors = semantic_errors(ev)
    return errors or ev
