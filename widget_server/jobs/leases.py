"""Chunks of work held for a lease, so each is done once whichever worker ends up doing it: a story
build's (``BuildChunk``, builds.py) and a trigger fan-out's (``TriggerChunk``, triggers/fan_out.py).

A chunk row has ``state`` (queued | done | failed), ``job_id``, ``claimed_until``, ``attempts`` and
``enqueued_at``. Its job claims it for a lease with one conditional ``UPDATE``; a claim that ran out
means its worker died, and an unclaimed chunk enqueued more than a lease ago while the queue is
empty means its job was lost: ``stalled`` finds both, for whoever enqueues them again.
"""
from __future__ import annotations

from typing import Any

from ..store.models import JobRecord, now_ms
from .queue import Queue, running_task


def claim(model: Any, chunk_id: int, lease_ms: int) -> str | None:
    """Claim the chunk for this job, unless it is done or a live job holds it; the job's id, or None."""
    task = running_task()
    job_id = task.id if task is not None else ""
    moment = now_ms()
    claimed = (model.update(state="queued", job_id=job_id, claimed_until=moment + lease_ms, attempts=model.attempts + 1)
               .where((model.id == chunk_id) & (model.state != "done")
                      & (model.claimed_until.is_null() | (model.claimed_until < moment) | (model.job_id == job_id)))
               .execute())
    return job_id if claimed else None


def release(model: Any, chunk_id: int, job_id: str, lease_ms: int, *, interrupted: bool) -> None:
    """After a failed attempt: hold the chunk through huey's backoff, or mark it failed once the
    retries are spent; an interrupted one (enqueued again at once) any worker may take."""
    task = running_task()
    values: dict[str, object]
    if interrupted or task is None:
        values = {"claimed_until": None}
    elif task.retries:
        values = {"claimed_until": now_ms() + int(task.retry_delay * 1000) + lease_ms}
    else:
        values = {"state": "failed", "claimed_until": None}
    model.update(**values).where((model.id == chunk_id) & (model.job_id == job_id) & (model.state != "done")).execute()


def stalled(queue: Queue, model: Any, pending: Any, lease_ms: int) -> list[Any]:
    """The chunks of ``pending`` (a query of ``model``) that nobody will finish otherwise, each
    taken by this caller for enqueueing again (the old job, if it ever runs, then finds the chunk
    done or claimed)."""
    moment = now_ms()
    queued = pending.where(model.state == "queued")
    found = list(queued.where(model.claimed_until.is_null(False) & (model.claimed_until < moment)))
    if not found and queue.depth() == 0:
        found = list(queued.where(model.claimed_until.is_null() & (model.enqueued_at < moment - lease_ms)))
    taken = []
    for chunk in found:
        # Only the one caller whose update still finds the chunk as it read it takes it: two
        # followers (or chores) at once make one new job, not two.
        if not (model.update(claimed_until=None, enqueued_at=moment)
                .where((model.id == chunk.id) & (model.state == "queued") & (model.enqueued_at == chunk.enqueued_at)
                       & (model.claimed_until.is_null() if chunk.claimed_until is None
                          else model.claimed_until == chunk.claimed_until))
                .execute()):
            continue
        if chunk.job_id:  # its worker is gone: its record would say "running" forever
            JobRecord.delete().where((JobRecord.id == chunk.job_id) & (JobRecord.status == "running")).execute()
        taken.append(chunk)
    return taken
