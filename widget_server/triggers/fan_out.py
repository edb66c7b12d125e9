"""An event's fan-out: the app's users split in chunks (each a job, so several workers share
them), each chunk's audience chosen (audience.py) and its deliveries made (deliveries.py).
One run per (trigger, cause): the same event ingested twice, or its job run twice, splits once.
Each chunk is a row held for a lease as a build's chunk is (jobs/leases.py): one lost with a killed
worker is enqueued again by the ``resume_trigger_chunks`` chore, and counted in its run once.

A story trigger's cause is a story's period becoming available (stories.py): the same fan-out,
of the users the story is available to. A milestone is the same for one user: their own event
arrived, their metric is computed for them alone, and the delivery is made when it is reached.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from peewee import IntegrityError

from ..engine.periods import resolve
from ..engine.users import user_ids
from ..jobs import leases
from ..jobs.queue import Queue, enqueue
from ..store.db import write_transaction
from ..store.models import App, TriggerChunk, TriggerRun
from . import audience, deliveries, events, store, stories

log = logging.getLogger(__name__)

ROWS_PER_INSERT = 500


def start(app_id: int, trigger_id: str, version: int, cause: dict[str, Any]) -> int:
    """Split the app's users into chunk jobs for this cause, once; how many chunks were enqueued."""
    trigger = store.version(app_id, trigger_id, version)
    if not events.matches(trigger.spec["on"], cause):
        return 0
    return _split(app_id, trigger_id, version, cause)


def _split(app_id: int, trigger_id: str, version: int, cause: dict[str, Any]) -> int:
    try:
        with write_transaction():
            if TriggerRun.select().where((TriggerRun.app_id == app_id) & (TriggerRun.trigger_id == trigger_id)
                                         & (TriggerRun.cause_key == cause["key"])).exists():
                return 0
            run = TriggerRun.create(app_id=app_id, trigger_id=trigger_id, version=version,
                                    cause_key=cause["key"], cause=cause)
    except IntegrityError:  # another worker's copy made it meanwhile
        return 0
    users = user_ids(app_id)
    chunks = [users[i:i + audience.CHUNK] for i in range(0, len(users), audience.CHUNK)]
    with write_transaction():
        TriggerRun.update(chunks=len(chunks), users=len(users),
                          finished_at=None if chunks else deliveries.clock()).where(TriggerRun.id == run.id).execute()
        rows = [{"run": run.id, "seq": seq, "users": chunk} for seq, chunk in enumerate(chunks)]
        for at in range(0, len(rows), ROWS_PER_INSERT):
            TriggerChunk.insert_many(rows[at:at + ROWS_PER_INSERT]).execute()
    for seq in range(len(chunks)):
        enqueue("trigger_chunk", run.id, seq)
    log.info("trigger %s: %s fans out over %d users in %d chunks", trigger_id, cause.get("event") or cause["kind"],
             len(users), len(chunks))
    return len(chunks)


def run_chunk(run_id: int, seq: int, users: list[str] | None = None) -> int:
    """One chunk's audience and its deliveries, unless it is done or a live worker holds it; how
    many are to be sent. (``users``: a job enqueued before chunks were rows, which makes its row.)"""
    run: TriggerRun | None = TriggerRun.get_or_none(TriggerRun.id == run_id)
    if run is None:
        return 0
    if users is not None:
        TriggerChunk.insert(run=run_id, seq=seq, users=users).on_conflict_ignore().execute()
    chunk = TriggerChunk.get_or_none((TriggerChunk.run == run_id) & (TriggerChunk.seq == seq))
    if chunk is None:
        return 0
    lease_ms = int(current_app.config["TRIGGER_CHUNK_LEASE"] * 1000)
    job_id = leases.claim(TriggerChunk, chunk.id, lease_ms)
    if job_id is None:
        return 0
    try:
        return _run_claimed(run, chunk)
    except BaseException as exc:
        leases.release(TriggerChunk, chunk.id, job_id, lease_ms, interrupted=isinstance(exc, KeyboardInterrupt))
        raise


def _run_claimed(run: TriggerRun, chunk: TriggerChunk) -> int:
    trigger = store.version(run.app_id, run.trigger_id, run.version)
    now = datetime.fromtimestamp(deliveries.clock() / 1000, UTC)
    app = App.get_by_id(run.app_id)
    users = chunk.users
    if run.cause["kind"] == "story":  # only those the story is available to
        users = stories.eligible(app, run.cause["story"], run.cause["period"], users, now)
    chosen = audience.choose(trigger, app, users, run.cause, now)
    made = deliveries.create(run.app_id, trigger, run.cause, chosen)
    # The chunk done and counted in its run together, once; its users are no longer needed, so a
    # done chunk keeps no list of user ids.
    with write_transaction():
        if not (TriggerChunk.update(state="done", claimed_until=None, done_at=deliveries.clock(), users=[])
                .where((TriggerChunk.id == chunk.id) & (TriggerChunk.state != "done")).execute()):
            return made
        (TriggerRun.update(done_chunks=TriggerRun.done_chunks + 1, matched=TriggerRun.matched + len(chosen))
         .where(TriggerRun.id == run.id).execute())
        (TriggerRun.update(finished_at=deliveries.clock())
         .where((TriggerRun.id == run.id) & (TriggerRun.done_chunks >= TriggerRun.chunks)).execute())
    return made


def resume_chunks(queue: Queue) -> int:
    """Chunks of unfinished runs whose worker stopped without finishing them (a claim that ran out,
    or a job lost before any worker claimed it) enqueued again; how many (the chore's work)."""
    lease_ms = int(current_app.config["TRIGGER_CHUNK_LEASE"] * 1000)
    chunks = leases.stalled(queue, TriggerChunk, TriggerChunk.select(), lease_ms)
    for chunk in chunks:
        queue.enqueue("trigger_chunk", chunk.run_id, chunk.seq)
        log.warning("trigger run %d: chunk %d enqueued again (its worker stopped without finishing it)",
                    chunk.run_id, chunk.seq)
    return len(chunks)


def milestone(app_id: int, trigger_id: str, version: int, user_id: str) -> int:
    """A user's own event arrived: their milestone's metric computed for them alone, and the
    delivery made if it is reached, once per user (the cause is the milestone itself, and the
    period for a year's or a month's: the next year's is a milestone of its own)."""
    trigger = store.version(app_id, trigger_id, version)
    now = datetime.fromtimestamp(deliveries.clock() / 1000, UTC)
    on = trigger.spec["on"]
    period = trigger.spec["period"]
    within = resolve(period, now).key if period["kind"] in ("year", "month") else ""
    cause = {"key": hashlib.sha256(f"metric\0{on['metric']}\0{on['reaches']}\0{within}".encode()).hexdigest(),
             "kind": "metric", "metric": on["metric"], "reaches": on["reaches"]}
    chosen = audience.choose(trigger, App.get_by_id(app_id), [user_id], cause, now)
    return deliveries.create(app_id, trigger, cause, chosen)


def stories_available() -> int:
    """Each enabled story trigger whose story has a period available now that it has not told of
    yet starts a fan-out over the app's users; how many started (the chore's work)."""
    now = datetime.fromtimestamp(deliveries.clock() / 1000, UTC)
    started = 0
    for app_id, trigger_id, version in stories.triggers():
        trigger = store.version(app_id, trigger_id, version)
        template_id = trigger.spec["on"]["story"]
        period = stories.available(app_id, template_id, now)
        if period is None:
            continue
        key = hashlib.sha256(f"story\0{template_id}\0{period}".encode()).hexdigest()
        cause = {"key": key, "kind": "story", "story": template_id, "period": period}
        started += _split(app_id, trigger_id, version, cause) > 0
    return started
