"""The HTTP helpers every blueprint shares: JSON request bodies, CORS headers, ISO times, and a
connection to the store for each request (views marked ``without_database`` answer without one).

Every JSON request body is read here, under one rule: media type, size before and after
gzip, well-formed chunked framing, UTF-8, and a nesting depth the decoder can take.

Ingest decodes the body with its own msgspec structs (``decode``); the other JSON routes load
it through a marshmallow schema (``load``). Either way a bad body is a 4xx naming ``_body``
(or the field), never a 500.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from flask import Flask, request
from marshmallow import Schema, ValidationError

from .errors import MalformedBody, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from .store import db

# What reading a broken body raises: a bad chunk size line, a cut-off chunk.
try:  # gunicorn reports a broken chunked body as its own exception, not an OSError
    from gunicorn.http.errors import ParseException
    _BAD_BODY_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError, ParseException)
except ImportError:  # pragma: no cover - werkzeug's server raises OSError
    _BAD_BODY_ERRORS = (OSError, ValueError)

T = TypeVar("T")

# sendBeacon can only send text/plain without a CORS preflight, so it is accepted as JSON.
JSON_TYPES = ("application/json", "text/plain")
# A definition sent as its text (a trigger, an audience): media type → the format it is parsed as.
DEFINITION_FORMATS = {"application/json": "json", "application/toml": "toml", "text/toml": "toml"}
# The JSON routes other than ingest take a few small fields; ingest has its own limits (config).
MAX_BODY_BYTES = 64 * 1024
GZIP_CORRUPT = "The gzip body is truncated or corrupt."
BAD_FRAMING = "The body's chunked framing is malformed."
NESTED_TOO_DEEPLY = "Arrays and objects are nested too deeply."


def _malformed(message: str, detail: str | None = None) -> MalformedBody:
    return MalformedBody(message, details={"_body": [detail or message]})


def read_body(limit: int, types: tuple[str, ...] = JSON_TYPES) -> bytes:
    """The request body (of one of the media ``types``), un-gzipped, refused with 413 as soon as
    it passes ``limit`` bytes."""
    if request.mimetype not in types:
        raise UnsupportedMediaType(
            f"Content-Type {request.mimetype or '(none)'} is not supported; send {types[0]}.",
            details={"Content-Type": [f"Must be one of: {', '.join(types)}."]})
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"The body is {length} bytes; the limit is {limit}.",
                              details={"limit": limit})
    try:
        raw = request.stream.read(limit + 1)
    except _BAD_BODY_ERRORS:
        raise _malformed(BAD_FRAMING) from None
    if len(raw) > limit:
        raise PayloadTooLarge(f"The body is over the {limit}-byte limit.", details={"limit": limit})
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding == "gzip":
        raw = _gunzip(raw, limit)
    elif encoding not in ("identity", ""):
        raise UnsupportedMediaType(f"Content-Encoding {encoding} is not supported; use gzip.",
                                   details={"Content-Encoding": ["Must be gzip or identity."]})
    try:
        # JSON is UTF-8 (RFC 8259); msgspec checks strings but passes properties, traits and
        # context through as bytes, which would fail later, when they are stored.
        raw.decode()
    except UnicodeDecodeError as exc:
        raise _malformed(f"The body is not valid UTF-8 (byte {exc.start}).",
                         f"Not valid UTF-8 at byte {exc.start}.") from None
    return raw


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        # max_length stops the inflater itself: a bomb never grows past limit + 1 bytes in memory.
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise _malformed(GZIP_CORRUPT) from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"The body inflates past the {limit}-byte limit.", details={"limit": limit})
    if not inflater.eof or inflater.unused_data:  # cut short, or followed by more bytes
        raise _malformed(GZIP_CORRUPT)
    return out


def decode(decoder: Callable[[bytes], T], body: bytes, invalid: str) -> T:
    """``decoder(body)`` (a msgspec decoder): 422 naming the field, 400 naming ``_body`` for
    what is not JSON or is nested deeper than the decoder's recursion allows (~975 levels)."""
    try:
        return decoder(body)
    except msgspec.ValidationError as exc:  # (a subclass of DecodeError)
        raise ValidationFailed(invalid, details=field_error(exc)) from None
    except msgspec.DecodeError as exc:
        raise _malformed(f"The body is not valid JSON: {exc}.", f"{exc}.") from None
    except RecursionError:
        raise _malformed(NESTED_TOO_DEEPLY) from None


def field_error(exc: msgspec.ValidationError) -> dict[str, list[str]]:
    """msgspec's message as {field: [message]}, e.g. "Expected `array` - at `$.batch`"."""
    message, _, path = str(exc).partition(" - at `$.")
    if not path and message.startswith("Object missing required field `"):
        return {message.split("`")[1]: ["Missing data for required field."]}
    field = path.rstrip("`").split("[")[0].split(".")[0] if path else "_body"
    return {field: [message]}


def load(schema: Schema, example: str, what: str, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The body's fields as ``schema`` loads them; 400 if it is not a JSON object (``example``
    shows one), 413 past ``limit`` bytes, 422 naming each bad field otherwise."""
    body = decode(msgspec.json.decode, read_body(limit), f"Send a JSON object: {example}.")
    if not isinstance(body, dict):
        raise MalformedBody(f"Send a JSON object: {example}.", details={"_body": ["Not a JSON object."]})
    try:
        loaded: dict[str, Any] = schema.load(body)
    except ValidationError as exc:
        raise ValidationFailed(f"The {what} is invalid.", details=exc.messages) from None
    return loaded


# --- CORS --------------------------------------------------------------------------------------
# Cross-origin callers present Bearer tokens or keys, never cookies, so a browser adds no ambient
# credential and any origin may call: ``*``. Preflights are cached a day.
ANY_ORIGIN = {"Access-Control-Allow-Origin": "*"}


def cors_headers(methods: str, headers: str = "Authorization, Content-Type") -> dict[str, str]:
    """The CORS headers of a route that any origin may call with ``methods`` and ``headers``."""
    return {**ANY_ORIGIN, "Access-Control-Allow-Methods": methods, "Access-Control-Allow-Headers": headers,
            "Access-Control-Max-Age": "86400"}


# The routes the player calls from other sites' pages (stories, shares, uploads).
PLAYER_API_CORS = cors_headers("GET, POST, DELETE, OPTIONS")


# --- times -------------------------------------------------------------------------------------
def iso_time(ms: float, timespec: str = "auto") -> str:
    """Milliseconds since the epoch as an ISO 8601 UTC time ending in ``Z`` (``timespec`` as
    ``datetime.isoformat``'s)."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


V = TypeVar("V", bound=Callable[..., object])


def without_database(view: V) -> V:
    """Mark a view that must answer whatever the database's state (health and readiness
    probes, metrics): no connection is taken for its requests."""
    view.without_database = True  # type: ignore[attr-defined]  # (read back by bind_database)
    return view


def bind_database(app: Flask) -> None:
    """Each request gets the store's connection, closed after it, except the views marked
    ``without_database``."""

    @app.before_request
    def _connect() -> None:
        if not getattr(app.view_functions.get(request.endpoint or ""), "without_database", False):
            db.connect_for_request()

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        db.close_after_request()
