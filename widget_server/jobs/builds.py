"""Story builds on the queue: a build's users split into chunks, each chunk one job, each done once.

``start`` writes the build and its chunks (``StoryBuild``, ``BuildChunk``) and enqueues a
``build_chunk`` job per chunk. The job claims its chunk for ``BUILD_CHUNK_LEASE`` seconds,
assembles it with the same ``precompute.build_chunk`` as the inline build, and marks it done in the
transaction that writes its stories, so a chunk's stories and its "done" commit together or not at
all. A second copy of a job (enqueued again after a timeout, or by ``recap jobs retry``) finds the
chunk done, or claimed by a live worker, and does nothing.

A worker killed mid-chunk leaves a claim that runs out (leases.py): ``requeue_stalled`` (run by whoever follows
the build, and every minute by the ``resume_builds`` chore) enqueues such chunks again, and those
whose job was lost before any worker claimed it. Since a chunk's rows are replaced whole, a chunk
built twice still leaves each user's story once.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from peewee import fn

from ..engine import precompute
from ..engine.periods import Period, resolve
from ..engine.precompute import NAMED_FAILURES, BuildReport
from ..engine.registry import registry
from ..engine.templates import StoryTemplate
from ..store.db import write_transaction
from ..store.models import App, BuildChunk, StoryBuild, now_ms
from . import leases
from .queue import Queue, crontab, job
from .records import worker_name

log = logging.getLogger(__name__)

ROWS_PER_INSERT = 500


class _AlreadyDone(Exception):
    """Another worker finished the chunk first: this one's writes are rolled back."""


@dataclass
class Progress:
    chunks: int
    pending: int  # chunks neither done nor failed
    failed_chunks: int
    users_done: int
    report: BuildReport

    @property
    def finished(self) -> bool:
        return self.pending == 0


def start(queue: Queue, app: App, template: StoryTemplate, period: Period, now: datetime, users: list[str],
          chunk_size: int = precompute.CHUNK) -> StoryBuild:
    """Write the build and its chunks, then enqueue a job per chunk."""
    chunks = [users[at:at + chunk_size] for at in range(0, len(users), chunk_size)]
    app_id = app.id
    with write_transaction():
        build = StoryBuild.create(app_id=app_id, template_id=template.id, period_key=period.key,
                                  now=now.isoformat(), chunks=len(chunks), users=len(users),
                                  finished_at=None if chunks else now_ms())
        rows = [{"build": build.id, "seq": seq, "users": json.dumps(chunk)} for seq, chunk in enumerate(chunks)]
        for at in range(0, len(rows), ROWS_PER_INSERT):
            BuildChunk.insert_many(rows[at:at + ROWS_PER_INSERT]).execute()
    ids = BuildChunk.select(BuildChunk.id).where(BuildChunk.build == build.id).order_by(BuildChunk.seq)
    for chunk_id in ids.scalars():
        queue.enqueue("build_chunk", chunk_id)
    log.info("build %d of %s %s: %d users in %d chunks enqueued", build.id, template.id, period.key,
             len(users), len(chunks))
    return build


@job("build_chunk")
def build_chunk(chunk_id: int) -> None:
    """Build one chunk of a build, unless it is done or a live worker holds it."""
    started = time.process_time()  # the chunk's cpu_ms: the claim, the assembly and the write
    lease_ms = int(current_app.config["BUILD_CHUNK_LEASE"] * 1000)
    job_id = leases.claim(BuildChunk, chunk_id, lease_ms)
    if job_id is None:
        return
    try:
        _build_claimed(chunk_id, started)
    except _AlreadyDone:
        return
    except BaseException as exc:
        leases.release(BuildChunk, chunk_id, job_id, lease_ms, interrupted=isinstance(exc, KeyboardInterrupt))
        raise


def _build_claimed(chunk_id: int, started: float) -> None:
    chunk = BuildChunk.get_by_id(chunk_id)
    build = chunk.build
    app = App.get_by_id(build.app_id)
    template = registry.get(build.app_id, build.template_id)
    now = datetime.fromisoformat(build.now)
    period = resolve(template.spec["period"], now)

    def mark_done(report: BuildReport) -> None:
        cpu_ms = round((time.process_time() - started) * 1000)
        done = (BuildChunk.update(state="done", claimed_until=None, built=report.built, cpu_ms=cpu_ms,
                                  not_eligible=report.not_eligible, failed=report.failed,
                                  failures=json.dumps(report.failures), done_at=now_ms(),
                                  built_by=worker_name())
                .where((BuildChunk.id == chunk_id) & (BuildChunk.state != "done")).execute())
        if not done:
            raise _AlreadyDone

    precompute.build_chunk(app, template, period, json.loads(chunk.users), now, record=mark_done)


def requeue_stalled(queue: Queue, build: StoryBuild) -> int:
    """Enqueue again the build's chunks that nobody will finish otherwise; how many.

    A claim that ran out means its worker died; an unclaimed chunk enqueued more than a lease ago
    while the queue is empty means its job was lost. Either gets a new job (the old one, if it
    ever runs, then finds the chunk done or claimed).
    """
    lease_ms = int(current_app.config["BUILD_CHUNK_LEASE"] * 1000)
    chunks = leases.stalled(queue, BuildChunk, BuildChunk.select().where(BuildChunk.build == build.id), lease_ms)
    for chunk in chunks:
        queue.enqueue("build_chunk", chunk.id)
        log.warning("build %d: chunk %d enqueued again (its worker stopped without finishing it)",
                    build.id, chunk.seq)
    return len(chunks)


def progress(build: StoryBuild) -> Progress:
    """How far the build is, and its report so far (failed users from the done chunks)."""
    report = BuildReport()
    counts: dict[str, int] = dict(
        BuildChunk.select(BuildChunk.state, fn.COUNT(BuildChunk.id)).where(BuildChunk.build == build.id)
        .group_by(BuildChunk.state).tuples().execute())
    totals = (BuildChunk.select(fn.SUM(BuildChunk.built), fn.SUM(BuildChunk.not_eligible), fn.SUM(BuildChunk.failed))
              .where((BuildChunk.build == build.id) & (BuildChunk.state == "done")).tuples().first())
    report.built, report.not_eligible, report.failed = (int(value or 0) for value in totals or (0, 0, 0))
    report.users = report.built + report.not_eligible + report.failed
    if report.failed:
        for failures in (BuildChunk.select(BuildChunk.failures)
                         .where((BuildChunk.build == build.id) & (BuildChunk.failed > 0)).order_by(BuildChunk.seq)
                         .limit(NAMED_FAILURES).scalars()):
            report.failures.extend(tuple(item) for item in json.loads(failures)[:NAMED_FAILURES - len(report.failures)])
    pending = counts.get("queued", 0)
    if pending == 0 and build.finished_at is None:
        StoryBuild.update(finished_at=now_ms()).where(StoryBuild.id == build.id).execute()
    return Progress(chunks=build.chunks, pending=pending, failed_chunks=counts.get("failed", 0),
                    users_done=report.users, report=report)


def failed_jobs(build: StoryBuild) -> list[str]:
    """The job ids of the build's chunks that failed for good (``recap jobs retry`` takes them)."""
    return list(BuildChunk.select(BuildChunk.job_id)
                .where((BuildChunk.build == build.id) & (BuildChunk.state == "failed")).scalars())


@job("resume_builds", periodic=crontab(minute="*"))
def resume_builds() -> None:
    """Every minute: builds nobody follows any more still get their stalled chunks enqueued again."""
    from .queue import queue_of

    queue = queue_of(current_app._get_current_object())  # type: ignore[attr-defined]
    for build in StoryBuild.select().where(StoryBuild.finished_at.is_null()):
        requeue_stalled(queue, build)
        progress(build)
