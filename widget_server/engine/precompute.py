"""``recap stories build``: assemble every eligible user's story ahead of time, in chunks.

Each chunk of users shares one slice and one query per metric kind, and its stories are written
with one ``executemany``; serving a built story is then a single primary-key lookup. With
``workers`` > 1, chunks are assembled by that many processes, each with its own connection (SQLite
in WAL mode lets them read side by side; each chunk's write is one short transaction).

One user's failure never stops a build: a chunk that fails is assembled again in halves, down to
the users whose own story fails, and those are counted and named in the report.
"""
from __future__ import annotations

import json
import logging
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from ..store.db import database, open_database
from ..store.models import App, PrecomputedStory, now_ms
from .assemble import assemble_many, built_from
from .errors import NotEligible
from .periods import Period, resolve
from .population import refresh
from .registry import registry
from .templates import StoryTemplate
from .users import user_ids

log = logging.getLogger(__name__)

CHUNK = 250
NAMED_FAILURES = 20  # a build reports this many failed users by id and reason; the rest it counts
REASON_CHARS = 300


@dataclass
class BuildReport:
    """What a build did: users seen, stories built, users not eligible, users whose story failed
    (the first NAMED_FAILURES of them as (user id, reason))."""

    users: int = 0
    built: int = 0
    not_eligible: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def add(self, other: BuildReport) -> None:
        self.users += other.users
        self.built += other.built
        self.not_eligible += other.not_eligible
        self.failed += other.failed
        self.failures.extend(other.failures[:NAMED_FAILURES - len(self.failures)])


def build(app: App, template: StoryTemplate, period: Period, *, now: datetime | None = None,
          users: list[str] | None = None, progress: Callable[[int], None] | None = None,
          refresh_population: bool = True, workers: int = 1, database_url: str | None = None,
          chunk_size: int = CHUNK) -> BuildReport:
    """Precompute stories of every user (or ``users``) and report what was built and what failed.

    ``workers`` > 1 needs ``database_url`` (each process opens its own connection) and a
    ``now`` that resolves to ``period``.
    """
    now = now or datetime.now(UTC)
    if refresh_population:
        refresh(app.id, template, period)
    everyone = users if users is not None else user_ids(app.id)
    chunks = [everyone[start:start + chunk_size] for start in range(0, len(everyone), chunk_size)]
    report = BuildReport()
    if workers > 1 and len(chunks) > 1:
        if not database_url:
            raise ValueError("building with several workers needs the database URL")
        root = str(registry.app_root) if registry.app_root else None
        # "spawn": a forked child would inherit the parent's open SQLite connection.
        with multiprocessing.get_context("spawn").Pool(
                workers, initializer=_start_worker, initargs=(database_url, root)) as pool:
            tasks = [(app.id, template.id, now, chunk) for chunk in chunks]
            for done in pool.imap_unordered(_worker_chunk, tasks):
                _tally(report, done, template, progress)
    else:
        for chunk in chunks:
            _tally(report, build_chunk(app, template, period, chunk, now), template, progress)
    return report


def _tally(report: BuildReport, done: BuildReport, template: StoryTemplate,
           progress: Callable[[int], None] | None) -> None:
    for uid, reason in done.failures[:NAMED_FAILURES - len(report.failures)]:
        log.warning("building %s: the story of user %r failed: %s", template.id, uid, reason)
    report.add(done)
    if progress:
        progress(done.users)


def build_chunk(app: App, template: StoryTemplate, period: Period, chunk: list[str],
                now: datetime, *, record: Callable[[BuildReport], None] | None = None) -> BuildReport:
    """Assemble and store one chunk's stories (a failed user's earlier story is removed).

    ``record`` is called with the chunk's report inside the transaction that writes its stories
    (the job queue marks the chunk done there); if it raises, nothing is written.
    """
    def written(users: list[str]) -> dict[str, str | NotEligible]:
        stories = assemble_many(app, template, period, users, now=now, source="precomputed")
        return {uid: story if isinstance(story, NotEligible)
                else json.dumps(story, ensure_ascii=False, separators=(",", ":")) for uid, story in stories.items()}

    # Assemble outside the write transaction: a WAL reader that later writes must not hold a
    # snapshot older than another process's commit.
    stories, failures = each_apart(chunk, written)
    source = built_from(template, app)
    rows = [{"app_id": app.id, "template_id": template.id, "period_key": period.key, "user_id": uid,
             "story": story, "generated_at": now_ms(), "built_from": source,
             "template_version": template.number}
            for uid, story in stories.items() if not isinstance(story, NotEligible)]
    report = BuildReport(users=len(chunk), built=len(rows), not_eligible=len(stories) - len(rows),
                         failed=len(failures), failures=list(failures.items())[:NAMED_FAILURES])
    with database.atomic():
        (PrecomputedStory.delete().where(
            (PrecomputedStory.app_id == app.id) & (PrecomputedStory.template_id == template.id)
            & (PrecomputedStory.period_key == period.key) & PrecomputedStory.user_id.in_(chunk)).execute())
        if rows:
            PrecomputedStory.insert_many(rows).execute()
        if record is not None:
            record(report)
    return report


T = TypeVar("T")


def _reason(exc: Exception) -> str:
    """One printable line: the message may quote data, which may hold control characters."""
    text = f"{type(exc).__name__}: {exc}"[:REASON_CHARS]
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def each_apart(users: list[str], attempt: Callable[[list[str]], dict[str, T]]) -> tuple[dict[str, T], dict[str, str]]:
    """``attempt(users)``, and the reason of each user for whom it fails alone.

    Tried on all of them at once; when that fails, on each half apart, down to the users who
    fail on their own: a failing user costs about one more pass over their chunk and fails no
    one else.
    """
    try:
        return attempt(users), {}
    except Exception as exc:  # whatever it is, it is these users', not the whole build's
        if len(users) <= 1:
            return {}, {uid: _reason(exc) for uid in users}
    half = len(users) // 2
    first, failed = each_apart(users[:half], attempt)
    second, failed_too = each_apart(users[half:], attempt)
    return {**first, **second}, {**failed, **failed_too}


def _start_worker(database_url: str, app_root: str | None) -> None:
    database.initialize(open_database(database_url))
    registry.app_root = Path(app_root) if app_root else None


def _worker_chunk(task: tuple[int, str, datetime, list[str]]) -> BuildReport:
    app_id, template_id, now, chunk = task
    database.connect(reuse_if_open=True)
    app = App.get_by_id(app_id)
    template = registry.get(app_id, template_id)
    period = resolve(template.spec["period"], now)
    return build_chunk(app, template, period, chunk, now)


def clear(app_id: int, template_id: str, period_key: str | None = None) -> int:
    """Delete built stories (all periods unless one is named); on-demand assembly takes over."""
    query = PrecomputedStory.delete().where((PrecomputedStory.app_id == app_id)
                                            & (PrecomputedStory.template_id == template_id))
    if period_key:
        query = query.where(PrecomputedStory.period_key == period_key)
    deleted: int = query.execute()
    return deleted
