"""Deliveries: one row per (trigger, user, cause), made once, then posted to the app's webhook
until it answers 2xx, with exponential backoff for up to TRIGGER_RETRY_HOURS, every attempt kept.

The row's id is the idempotency key the payload carries: a hash of (app, trigger, user, cause),
and that triple is unique in the database, so a retried job, a re-run fan-out or the same event
ingested twice makes no second row, and a receiver that sees an id twice (a POST whose answer was
lost) knows it is the same notification.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import current_app

from ..auth import VIEWER_TOKEN_MAX_TTL, NoWebhookSecret, create_viewer_token, webhook_secret
from ..engine.periods import DAY_MS
from ..http import iso_time
from ..jobs.queue import enqueue, running_task
from ..store.db import database, write_transaction
from ..store.models import Delivery, DeliveryAttempt, Profile
from . import respect, store, webhook_urls, webhooks
from .audience import Chosen, opted_out
from .definition import Trigger

log = logging.getLogger(__name__)

SENDING = ("pending", "retrying")
RESUME_ROWS = 500  # overdue deliveries enqueued again a run, at most
BATCH = 250  # new deliveries one job posts
POSTING_THREADS = 8  # how many of them at once
COUNTED = ("pending", "retrying", "delivered", "failed")  # what a daily cap counts (not capped, dropped)


def clock() -> int:
    """Now in ms: the app's TRIGGER_CLOCK, which tests swap instead of sleeping."""
    now: Callable[[], int] = current_app.config["TRIGGER_CLOCK"]
    return now()


def delivery_id(app_id: int, trigger_id: str, user_id: str, cause_key: str) -> str:
    return hashlib.sha256(f"{app_id}\0{trigger_id}\0{user_id}\0{cause_key}".encode()).hexdigest()[:32]


def public_cause(cause: dict[str, Any]) -> dict[str, Any]:
    """What the payload says of the cause: what it was, never its properties (personal data)."""
    return {k: v for k, v in cause.items() if k in ("kind", "event", "message_id", "metric", "reaches", "story")}


def create(app_id: int, trigger: Trigger, cause: dict[str, Any], chosen: list[Chosen]) -> int:
    """The deliveries of ``chosen`` users for this cause, those not made before; each due now, or
    when the user's quiet hours end, or capped. Enqueued once committed; how many are to be sent."""
    if not chosen:
        return 0
    now = clock()
    ids = {c.user_id: delivery_id(app_id, trigger.id, c.user_id, cause["key"]) for c in chosen}
    limits = trigger.spec["limits"]
    overall = int(current_app.config["TRIGGERS_PER_USER_PER_DAY"])
    due: list[tuple[str, int]] = []
    with write_transaction():
        made = {row.id for row in Delivery.select(Delivery.id).where(Delivery.id.in_(list(ids.values())))}
        recent = [(r.user_id, r.trigger_id, r.created_at) for r in
                  Delivery.select(Delivery.user_id, Delivery.trigger_id, Delivery.created_at)
                  .where((Delivery.app_id == app_id) & Delivery.user_id.in_(list(ids))
                         & (Delivery.created_at >= now - 2 * DAY_MS) & Delivery.status.in_(COUNTED))]
        caps = respect.Caps(recent, {c.user_id: c.utc_offset for c in chosen}, now)
        rows = []
        for one in chosen:
            if ids[one.user_id] in made:
                continue
            allowed = caps.allows(one.user_id, trigger.id, limits["per_user_per_day"], overall)
            at = respect.quiet_until(now, one.utc_offset, limits.get("quiet_hours")) or now
            rows.append({"id": ids[one.user_id], "app_id": app_id, "trigger_id": trigger.id,
                         "version": trigger.number, "user_id": one.user_id, "cause_key": cause["key"],
                         "cause": public_cause(cause), "message": {"title": one.title, "body": one.body},
                         "status": "pending" if allowed else "capped", "created_at": now, "due_at": at})
            if allowed:
                caps.add(one.user_id, trigger.id)
                due.append((ids[one.user_id], at))
        if rows:
            Delivery.insert_many(rows).on_conflict_ignore().execute()
    now_due = [one_id for one_id, at in due if at <= now]
    for start in range(0, len(now_due), BATCH):  # one job posts a chunk's notifications, several at once
        enqueue("trigger_deliveries", now_due[start:start + BATCH])
    for one_id, at in due:
        if at > now:  # each deferred one waits on the queue for its own time
            _enqueue(one_id, 0, (at - now) / 1000)
    return len(due)


def deliver_many(ids: list[str]) -> dict[str, int]:
    """First attempts of new deliveries, posted POSTING_THREADS at a time (the receivers' answers
    overlap); each then goes on as ``deliver`` does. How many ended in each status."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def one(one_id: str) -> str:
        with app.app_context(), database.connection_context():
            return deliver(one_id, attempts=0)
    with ThreadPoolExecutor(POSTING_THREADS, thread_name_prefix="trigger-post") as pool:
        return dict(Counter(pool.map(one, ids)))


def _enqueue(one_id: str, attempts: int, delay: float | None) -> None:
    """The delivery's job for its next attempt, named by it (``<id>.<attempts made>``): a copy of
    the job for an attempt already made (a resumed one, below) finds its name stale and stops."""
    enqueue("trigger_delivery", one_id, delay=delay, task_id=f"{one_id}.{attempts}")


def deliver(one_id: str, attempts: int | None = None) -> str:
    """Post the delivery if it is due and still wanted; its status after. A refusal schedules the
    next attempt (TRIGGER_RETRY_DELAY seconds, doubling, at most TRIGGER_RETRY_MAX_DELAY) until
    TRIGGER_RETRY_HOURS after it was made; then it is failed. Never raises for a receiver's fault."""
    row: Delivery | None = Delivery.get_or_none(Delivery.id == one_id)
    if row is None or row.status not in SENDING:
        return row.status if row is not None else "gone"
    task = running_task()
    expected = attempts if attempts is not None else None if task is None else task.id.rpartition(".")[2]
    if expected is not None and str(expected) != str(row.attempts):
        return "stale"  # a copy for an attempt made meanwhile
    now = clock()
    if row.status == "pending" and row.due_at > now:  # woken before its quiet hours end: wait again
        _enqueue(one_id, row.attempts, (row.due_at - now) / 1000)
        return "deferred"
    profile = Profile.get_or_none((Profile.app_id == row.app_id) & (Profile.user_id == row.user_id))
    if profile is None or opted_out(profile):  # erased, or opted out, since it was made
        _settle(row, "dropped", None)
        return "dropped"
    # A claim: of two copies of this job, one posts (the other finds the attempt taken).
    claimed = (Delivery.update(attempts=Delivery.attempts + 1)
               .where((Delivery.id == one_id) & (Delivery.attempts == row.attempts) & Delivery.status.in_(SENDING))
               .execute())
    if not claimed:
        return "taken"
    number = row.attempts + 1
    started = time.monotonic()
    code, error = _post(row)
    took = int((time.monotonic() - started) * 1000)
    DeliveryAttempt.create(delivery=one_id, number=number, at=clock(), status_code=code, error=error,
                           duration_ms=took)
    if code is not None and 200 <= code < 300:
        _settle(row, "delivered", None, delivered_at=clock())
        return "delivered"
    reason = error or f"The webhook answered {code}."
    config = current_app.config
    wait = min(float(config["TRIGGER_RETRY_DELAY"]) * 2 ** (number - 1), float(config["TRIGGER_RETRY_MAX_DELAY"]))
    if clock() + wait * 1000 > row.created_at + float(config["TRIGGER_RETRY_HOURS"]) * 3_600_000:
        _settle(row, "failed", reason)
        log.warning("trigger %s: delivery %s failed for good after %d attempts: %s", row.trigger_id, one_id,
                    number, reason)
        return "failed"
    _settle(row, "retrying", reason, due_at=clock() + int(wait * 1000))
    _enqueue(one_id, number, wait)
    return "retrying"


def resume_stalled(limit: int = RESUME_ROWS) -> int:
    """Deliveries still to be sent whose next attempt is TRIGGER_STALL_SECONDS overdue (their job
    was lost with a killed worker) are enqueued again; how many. A copy of a job still waiting
    does no harm: the one that runs first makes the attempt, the other finds its name stale."""
    overdue = clock() - int(current_app.config["TRIGGER_STALL_SECONDS"]) * 1000
    rows = list(Delivery.select(Delivery.id, Delivery.attempts)
                .where(Delivery.status.in_(SENDING) & (Delivery.due_at < overdue)).limit(limit))
    for row in rows:
        _enqueue(row.id, row.attempts, None)
    if rows:
        log.warning("%d trigger deliveries were overdue and are enqueued again", len(rows))
    return len(rows)


def _settle(row: Delivery, status: str, error: str | None, **more: Any) -> None:
    Delivery.update(status=status, last_error=error, **more).where(Delivery.id == row.id).execute()


def _post(row: Delivery) -> tuple[int | None, str | None]:
    """(the status code, None) when the webhook answered; (None, why) when it could not be asked."""
    config = current_app.config
    try:
        trigger = store.version(row.app_id, row.trigger_id, row.version)
        secret = webhook_secret(row.app_id)
        target = webhook_urls.resolve(trigger.spec["webhook"], allow_local=store.allow_local())
        body = webhooks.encode(payload(row, trigger))
    except (NoWebhookSecret, webhook_urls.Refused, NoStoryLink) as exc:
        return None, str(exc)
    try:
        code = webhooks.post(target, body, {"Recap-Signature": webhooks.signature(secret, body)},
                             float(config["TRIGGER_WEBHOOK_TIMEOUT"]))
    except (OSError, ValueError) as exc:  # refused, reset, timed out, TLS; http.client's own errors
        return None, f"{type(exc).__name__}: {exc}"[:500]
    return code, None


class NoStoryLink(Exception):
    """The trigger links a story, but the server does not know its public address."""


def payload(row: Delivery, trigger: Trigger) -> dict[str, Any]:
    """DESIGN.md's payload: the id, trigger, user id, message, story link and cause, nothing else."""
    return {"id": row.id, "trigger": row.trigger_id, "user_id": row.user_id, "message": row.message,
            "story_url": story_url(row, trigger), "cause": row.cause, "created_at": iso_time(row.created_at)}


def story_url(row: Delivery, trigger: Trigger) -> str | None:
    """The story the trigger names, for this user: a fresh viewer token (its own grant, 24 h) and
    the delivery's id, which the player reports as notification_opened."""
    template = trigger.story
    if template is None:
        return None
    base = current_app.config["PUBLIC_BASE_URL"]
    if not base:
        raise NoStoryLink("Set RECAP_PUBLIC_BASE_URL: the story link needs the server's public address.")
    token, _ = create_viewer_token(row.app_id, row.user_id, ttl=VIEWER_TOKEN_MAX_TTL)
    return f"{base}/embed/{template}?token={token}&delivery={row.id}"


def listing(app_id: int, trigger_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """The trigger's deliveries, newest first, each with every attempt."""
    query = (Delivery.select().where((Delivery.app_id == app_id) & (Delivery.trigger_id == trigger_id))
             .order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit))
    rows = list(query)
    attempts: dict[str, list[dict[str, Any]]] = {}
    if rows:
        for a in (DeliveryAttempt.select().where(DeliveryAttempt.delivery.in_([r.id for r in rows]))
                  .order_by(DeliveryAttempt.number)):
            attempts.setdefault(a.delivery, []).append(
                {"number": a.number, "at": iso_time(a.at), "status_code": a.status_code, "error": a.error,
                 "duration_ms": a.duration_ms})
    return [{"id": r.id, "user_id": r.user_id, "version": r.version, "status": r.status, "cause": r.cause,
             "message": r.message, "created_at": iso_time(r.created_at), "due_at": iso_time(r.due_at),
             "delivered_at": iso_time(r.delivered_at) if r.delivered_at else None, "last_error": r.last_error,
             "attempts": attempts.get(r.id, [])} for r in rows]
