"""The Segment event, twice over: a msgspec struct for the hot path and a marshmallow schema
that documents the contract and words the errors.

Every event is first decoded with msgspec. Only an event that fails is run through the
marshmallow schema, whose messages name each bad field. ``tests/test_event_schema.py`` proves
the two accept and refuse the same inputs.

``properties``, ``traits`` and ``context`` stay the JSON text the client sent (``msgspec.Raw``):
they are stored as they came, so the hot path never builds Python objects for them, which was
most of its cost (6.6 µs of ~12 µs per event).
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validates_schema

from ..http import NESTED_TOO_DEEPLY
from ..store.models import MAX_ID

TYPES = ("track", "identify", "page", "screen", "alias", "group")
# Times outside these years are a broken clock or a probe, never an event: refused, not stored.
MIN_YEAR, MAX_YEAR = 1970, 2099

Id = str | int  # Segment clients send numeric ids too; they are stored as text.
ABSENT = msgspec.Raw(b"")


class EventIn(msgspec.Struct, forbid_unknown_fields=False):
    type: str | None = None
    event: str | None = None
    name: str | None = None
    userId: Id | None = None
    anonymousId: Id | None = None
    messageId: str | None = None
    timestamp: str | None = None
    properties: msgspec.Raw = ABSENT  # JSON objects, or null, as sent (see json_text)
    traits: msgspec.Raw = ABSENT
    context: msgspec.Raw = ABSENT
    previousId: Id | None = None
    groupId: Id | None = None


class BatchIn(msgspec.Struct, forbid_unknown_fields=False):
    batch: list[msgspec.Raw]
    sentAt: str | None = None
    writeKey: str | None = None
    context: msgspec.Raw = ABSENT


class _Place(msgspec.Struct):
    timezone: Any = None
    locale: Any = None


_decode_place = msgspec.json.Decoder(_Place | None).decode  # a null context is no context
MAX_LOCALE = 35  # a longer context.locale is not a locale (engine/locales.py reads the kept one)


def json_text(raw: msgspec.Raw) -> str | None:
    """The object's JSON text; None for an absent, null or empty object."""
    text = str(raw, "utf-8")  # straight from the buffer, no intermediate bytes
    return None if text in ("", "null", "{}") else text


def is_absent(raw: msgspec.Raw) -> bool:
    """True for an object field that was not sent or is null (msgspec checked it is JSON)."""
    return not raw or memoryview(raw)[0] == 110  # "n"ull


def is_object_or_absent(raw: msgspec.Raw) -> bool:
    """Whether a raw field (properties, traits, context) holds an object, null, or nothing."""
    return not raw or memoryview(raw)[0] in b"{n"


def context_place(context: msgspec.Raw) -> tuple[str | None, str | None]:
    """``context.timezone`` and ``context.locale`` when each is a string (a locale no longer than
    a locale's tag), read without decoding the rest of the context."""
    if not context:
        return None, None
    place = _decode_place(context)
    if place is None:
        return None, None
    zone, locale = place.timezone, place.locale
    return (zone if isinstance(zone, str) else None,
            locale if isinstance(locale, str) and 0 < len(locale) <= MAX_LOCALE else None)


def json_object(raw: msgspec.Raw) -> dict[str, Any]:
    return (msgspec.json.decode(raw) or {}) if raw else {}


class SingleIn(msgspec.Struct, forbid_unknown_fields=False):
    sentAt: str | None = None
    writeKey: str | None = None


_decode_event = msgspec.json.Decoder(EventIn).decode
VIEWER_TRACK_ONLY = "A viewer token sends only track events (the story player's)."


def parse_time(value: str) -> datetime:
    """ISO-8601 with a zone; a naive time is taken as UTC."""
    return datetime.fromisoformat(value)


def time_error(value: str) -> str | None:
    """Why ``value`` is not an acceptable time (timestamp or sentAt), or None."""
    try:
        year = parse_time(value).year
    except ValueError:
        return "Not a valid ISO-8601 datetime."
    return None if MIN_YEAR <= year <= MAX_YEAR else f"Must be in the years {MIN_YEAR} to {MAX_YEAR}."


# A JSON number that may not fit has an exponent (a digit then e/E) or 19 digits in a row;
# anything else is a finite double or an integer inside int64. The text is mapped to its shape
# (digits to 0, e/E to e, the rest to a space) and searched for either: ~0.3 µs for a
# 200-byte context, where a regular expression took ~5 µs. Strings such as hex ids match too
# and only cost the slow path, which decodes and finds the number if there is one.
_SHAPE = bytes(48 if 48 <= i <= 57 else 101 if i in (69, 101) else 32 for i in range(256))
_EXPONENT, _LONG_DIGITS = b"0e", b"0" * 19
INT64 = (-2 ** 63, 2 ** 63 - 1)
FLOAT_OVERFLOW = "Outside the range of a 64-bit float."
INT_OVERFLOW = "An integer outside 64 bits (-2^63 to 2^63-1); send it as a string."


# PostgreSQL can keep no NUL character, neither in text nor in jsonb (where "\\u0000" is refused).
HOLDS_NUL = "Holds the NUL character (\\u0000), which the store cannot keep."
NUL_ESCAPE = b"\\u0000"  # how JSON writes one (a raw NUL is not valid JSON)


def may_be_unstorable(raw: bytes) -> bool:
    """Whether raw JSON text holds anything shaped like a number that may not fit, or a NUL."""
    shape = raw.translate(_SHAPE)
    return _EXPONENT in shape or _LONG_DIGITS in shape or NUL_ESCAPE in raw


def value_errors(field: str, value: Any) -> dict[str, list[str]]:
    """The first value in an object field (raw JSON or decoded) that the stores cannot keep: a
    float past 1.8e308 (JSON allows ``1e400``; it would read back as Infinity, which is not
    JSON), an integer past int64 (SQLite would turn it into an inexact float), or a key or
    string holding a NUL."""
    if isinstance(value, msgspec.Raw):
        raw = bytes(value)
        if not raw or not may_be_unstorable(raw):
            return {}
        try:
            value = json.loads(raw)  # the stdlib reads 1e400 as inf where msgspec refuses
        except RecursionError:
            return {field: [NESTED_TOO_DEEPLY]}
        except ValueError:  # an integer past Python's 4,300-digit conversion limit
            return {field: [INT_OVERFLOW]}
    stack = [(field, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            if any("\x00" in key for key in item):
                return {path: [HOLDS_NUL]}
            stack.extend((f"{path}.{key}", v) for key, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(item))))
        elif isinstance(item, str) and "\x00" in item:
            return {path: [HOLDS_NUL]}
        elif isinstance(item, float) and not math.isfinite(item):
            return {path: [FLOAT_OVERFLOW]}
        elif isinstance(item, int) and not isinstance(item, bool) and not INT64[0] <= item <= INT64[1]:
            return {path: [INT_OVERFLOW]}
    return {}


def semantic_errors(ev: EventIn) -> dict[str, list[str]]:
    """Rules that types alone cannot say. Shared by both validators."""
    errors: dict[str, list[str]] = {}
    properties, traits, context = ev.properties, ev.traits, ev.context
    if type(properties) is type(traits) is type(context) is msgspec.Raw:  # the fast path
        for field, value in (("properties", properties), ("traits", traits), ("context", context)):
            if not is_object_or_absent(value):
                errors[field] = ["Not a valid mapping type."]
        if errors or not may_be_unstorable(b"".join((properties, traits, context))):  # one look at all three
            return errors or _id_and_event_errors(ev)
    for field, value in (("properties", properties), ("traits", traits), ("context", context)):
        errors.update(value_errors(field, value))
    return errors or _id_and_event_errors(ev)


def _id_and_event_errors(ev: EventIn) -> dict[str, list[str]]:
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
    for field in ("userId", "anonymousId", "previousId", "groupId", "event", "name", "messageId", "timestamp"):
        value = getattr(ev, field)
        if isinstance(value, str) and "\x00" in value:
            errors.setdefault(field, [HOLDS_NUL])
    if ev.timestamp is not None:
        message = time_error(ev.timestamp)
        if message:
            errors["timestamp"] = [message]
    return errors


class _IdField(fields.Field[str | int]):
    default_error_messages = {"invalid": "Must be a string or a number."}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str | int:
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
    def _rules(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors = semantic_errors(EventIn(**data))
        if errors:
            raise ValidationError(errors)


_schema = EventSchema()


def event_errors(raw: bytes, forced_type: str | None = None) -> dict[str, list[str]]:
    """Every problem with one raw event, worded by marshmallow."""
    try:
        # The stdlib, not msgspec: it reads 1e400 (as inf), so the error names its field.
        data = json.loads(bytes(raw))
    except ValueError as exc:  # an integer id past Python's 4,300-digit conversion limit
        return {"_event": [f"Not a valid event: {exc}."]}
    except RecursionError:
        return {"_event": [NESTED_TOO_DEEPLY]}
    if not isinstance(data, dict):
        return {"_event": ["An event must be a JSON object."]}
    if forced_type:
        data["type"] = forced_type
    try:
        _schema.load(data)
    except ValidationError as exc:
        messages = exc.messages
        assert isinstance(messages, dict)  # a schema's load reports by field
        return {k: v if isinstance(v, list) else [str(v)] for k, v in messages.items()}
    return {}


def decode_event(raw: bytes, forced_type: str | None = None,
                 forced_user: str | None = None) -> EventIn | dict[str, list[str]]:
    """The event, or its errors by field. ``forced_user`` (a viewer token's) replaces whatever
    user it names, and only track events, what the story player sends, are taken from it."""
    try:
        ev = _decode_event(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return event_errors(raw, forced_type) or {"_event": ["Not a valid event."]}
    if forced_type:
        ev.type = forced_type
    if forced_user is not None:
        if ev.type != "track":  # identify, alias, group would write traits and identities
            return {"type": [VIEWER_TRACK_ONLY]}
        # Another device's anonymous id would join its history to this user.
        ev.userId = forced_user
        ev.anonymousId = None
    errors = semantic_errors(ev)
    return errors or ev
