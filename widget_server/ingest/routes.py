"""Ingest: the Segment HTTP tracking API (``/v1/batch`` and the single-event routes)."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
from flask import Blueprint, Flask, Response, current_app, jsonify, request

from .. import monitoring
from ..auth import Caller, require_ingest_credential
from ..errors import Forbidden, PayloadTooLarge, StoreBusy, TooManyRequests, ValidationFailed, transient_failure
from ..http import cors_headers, decode, read_body
from ..store import db
from ..store.models import ApiKey, App
from . import writer
from .load_shedding import refuse_late_requests
from .rate_limit import RateLimiter
from .schema import (
    BatchIn,
    EventIn,
    SingleIn,
    decode_event,
    is_absent,
    is_object_or_absent,
    time_error,
    value_errors,
)

log = logging.getLogger(__name__)

bp = Blueprint("ingest", __name__)
bp.before_request(refuse_late_requests)

ALIAS_REFUSED = {
    "field": "previousId", "code": "forbidden",
    "message": "previousId names a user who already has history: with a write key an alias may only join "
               "anonymous history, or an id with no history yet, to a user. Merge known users with the secret key.",
}
SINGLE_ROUTES = ("track", "identify", "page", "screen", "alias", "group")
CORS_HEADERS = cors_headers("POST, OPTIONS", "Authorization, Content-Type, Content-Encoding")

_decode_batch = msgspec.json.Decoder(BatchIn).decode
_decode_single = msgspec.json.Decoder(SingleIn).decode
_app_timezones: dict[tuple[str, int], str] = {}  # (database URL, app id) -> the app's time zone


def _app_timezone(app_id: int) -> str:
    key = (db.url(), app_id)
    zone = _app_timezones.get(key)
    if zone is None:
        zone = _app_timezones[key] = App.get_by_id(app_id).timezone
    return zone


viewer_limiter = RateLimiter()


@bp.after_request
def _cors(response: Response) -> Response:
    response.headers.update(CORS_HEADERS)
    return response


@bp.route("/v1/batch", methods=["POST", "OPTIONS"])
@bp.route("/v1/import", methods=["POST", "OPTIONS"])
def batch() -> Response:
    if request.method == "OPTIONS":
        return Response(status=204)
    received_at = int(time.time() * 1000)
    body = read_body(current_app.config["MAX_BATCH_BYTES"])
    envelope = decode(_decode_batch, body, "The body must be {\"batch\": [event, ...]}.")
    caller = require_ingest_credential(envelope.writeKey)
    limit = current_app.config["MAX_EVENTS_PER_BATCH"]
    if len(envelope.batch) > limit:
        raise PayloadTooLarge(f"A batch holds at most {limit} events.", details={"limit": limit})
    if not is_object_or_absent(envelope.context):
        raise ValidationFailed("The batch's context must be an object.",
                               details={"context": ["Not a valid mapping type."]})
    unstorable = value_errors("context", envelope.context)
    if unstorable:
        raise ValidationFailed("The batch's context holds a value the store cannot keep.", details=unstorable)
    context = None if is_absent(envelope.context) else envelope.context

    max_event = current_app.config["MAX_EVENT_BYTES"]
    viewer = _viewer_user(caller)
    if viewer is not None:
        most = _viewer_batch_limit()
        if len(envelope.batch) > most:
            raise PayloadTooLarge(f"A viewer token sends at most {most} events at once.", details={"limit": most})
    good: list[EventIn] = []
    indexes: list[int] = []  # each good event's index in the batch
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(envelope.batch):
        if len(raw) > max_event:
            rejected.append({"index": index, "field": "_event", "code": "too_large",
                             "message": f"The event is {len(raw)} bytes; the limit is {max_event}."})
            continue
        result = decode_event(raw, forced_user=viewer)
        if isinstance(result, EventIn):
            if context is not None and is_absent(result.context):
                result.context = context
            good.append(result)
            indexes.append(index)
        else:
            for field, messages in result.items():
                rejected.append({"index": index, "field": field, "code": "invalid",
                                 "message": " ".join(messages)})

    if not good and rejected:
        monitoring.ingested(rejected=_reasons(rejected))
        if all(r["code"] == "too_large" for r in rejected):
            raise PayloadTooLarge("Every event in the batch is over the size limit.",
                                  details={"rejected": rejected})
        raise ValidationFailed("No event in the batch is valid.", details={"rejected": rejected})
    _charge_viewer(caller, len(good))
    stored = _store(caller, good, received_at, envelope.sentAt)
    if stored.refused:
        rejected = sorted(rejected + [{"index": indexes[position], **ALIAS_REFUSED} for position in stored.refused],
                          key=lambda r: r["index"])
    accepted = len(good) - len(stored.refused)
    monitoring.ingested(accepted, stored.stored, stored.duplicates, _reasons(rejected))
    if stored.refused and not accepted:
        raise Forbidden(ALIAS_REFUSED["message"], details={"rejected": rejected})
    return jsonify(success=True, accepted=accepted, stored=stored.stored, duplicates=stored.duplicates,
                   rejected=rejected)


def _reasons(rejected: list[dict[str, object]]) -> list[str]:
    """One code per rejected event (an event with several bad fields has an entry for each)."""
    first: dict[object, str] = {}
    for entry in rejected:
        first.setdefault(entry["index"], str(entry["code"]))
    return list(first.values())


def single(kind: str) -> Response:
    if request.method == "OPTIONS":
        return Response(status=204)
    received_at = int(time.time() * 1000)
    max_event = current_app.config["MAX_EVENT_BYTES"]
    body = read_body(max_event)
    envelope = decode(_decode_single, body, "The event is not valid.")
    caller = require_ingest_credential(envelope.writeKey)
    result = decode_event(body, forced_type=kind, forced_user=_viewer_user(caller))
    if not isinstance(result, EventIn):
        monitoring.ingested(rejected=["invalid"])
        raise ValidationFailed("The event is not valid.", details=result)
    _charge_viewer(caller, 1)
    stored = _store(caller, [result], received_at, envelope.sentAt)
    monitoring.ingested(1 - len(stored.refused), stored.stored, stored.duplicates,
                        [ALIAS_REFUSED["code"]] * len(stored.refused))
    if stored.refused:
        raise Forbidden(ALIAS_REFUSED["message"], details={ALIAS_REFUSED["field"]: [ALIAS_REFUSED["message"]]})
    return jsonify(success=True, accepted=1, stored=stored.stored, duplicates=stored.duplicates, rejected=[])


def _viewer_batch_limit() -> int:
    config = current_app.config
    most: int = min(config["VIEWER_MAX_EVENTS_PER_BATCH"], config["VIEWER_EVENTS_BURST"])
    return most


def _charge_viewer(caller: Caller, count: int) -> None:
    """One end user's token may not fill the store (nor the story engine's work): 429 past its
    user's bucket (per process; see docs/INGEST.md)."""
    if caller.kind != "viewer" or not count:
        return
    config = current_app.config
    wait = viewer_limiter.take((db.url(), caller.app_id, caller.user_id), count, config["VIEWER_EVENTS_BURST"],
                               config["VIEWER_EVENTS_PER_MINUTE"] / 60)
    if wait:
        raise TooManyRequests(f"This viewer has sent too many events; retry in {wait} s.", retry_after=wait,
                              details={"limit": {"burst": config["VIEWER_EVENTS_BURST"],
                                                 "per_minute": config["VIEWER_EVENTS_PER_MINUTE"]}})


def _viewer_user(caller: Caller) -> str | None:
    """A viewer token speaks only for its own user, whatever the events claim."""
    return caller.user_id if caller.kind == "viewer" else None


def _store(caller: Caller, events: list[EventIn], received_at: int, sent_at: str | None) -> writer.Stored:
    app_id = caller.app_id
    sent_ms = None
    if sent_at:
        message = time_error(sent_at)
        if message:
            raise ValidationFailed(f"sentAt: {message}", details={"sentAt": [message]})
        sent_ms = writer.to_ms(sent_at)
    try:
        stored = writer.store_events(app_id, _app_timezone(app_id), events, received_at, sent_ms,
                                     may_merge_users=caller.kind == ApiKey.SECRET)
    except writer.Unstorable as exc:
        raise ValidationFailed(exc.message, details=exc.details) from None
    except Exception as exc:
        # errors.transient_failure decides what a lock wait is, on either database; ingest answers
        # it 429 (its documented answer, which every Segment client retries), the rest as usual.
        if not isinstance(transient_failure(exc), StoreBusy):
            raise
        log.warning("ingest: store busy, answering 429 (%s)", exc)
        raise TooManyRequests("The store is busy; retry shortly.", retry_after=1) from None
    _tell_listeners(app_id, events)
    return stored


STORED_LISTENERS = "recap.ingest.listeners"
Listener = Callable[[int, list[EventIn]], None]


def on_stored(app: Flask, listener: Listener) -> None:
    """Call ``listener(app_id, events)`` after each request's events are committed (triggers).
    It runs in the request, so it must be quick: anything slow goes on the job queue."""
    app.extensions.setdefault(STORED_LISTENERS, []).append(listener)


def _tell_listeners(app_id: int, events: list[EventIn]) -> None:
    for listener in current_app.extensions.get(STORED_LISTENERS, ()):
        try:
            listener(app_id, events)
        except Exception:  # what was stored stays stored and acknowledged: a listener's failure is logged
            log.exception("ingest: a listener of stored events failed")


for _kind in SINGLE_ROUTES:
    bp.add_url_rule(f"/v1/{_kind}", endpoint=_kind, view_func=lambda _k=_kind: single(_k),
                    methods=["POST", "OPTIONS"])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
