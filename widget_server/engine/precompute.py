"""``recap stories build``: assemble every eligible user's story ahead of time, in chunks.

Each chunk of users shares one slice and one query per metric kind, and its stories are written
with one ``executemany``; serving a built story is then a single primary-key lookup. With
``workers`` > 1, chunks are assembled by that many processes, each with its own connection (SQLite
in WAL mode lets them read side by side; each chunk's write is one short transaction).
"""
from __future__ import annotations

import json
import multiprocessing
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..db import database, open_database
from ..models import App, PrecomputedStory, now_ms
from .assemble import assemble_many
from .errors import NotEligible
from .periods import Period, resolve
from .population import refresh
from .templates import StoryTemplate, registry
from .users import user_ids

CHUNK = 250


def build(app: App, template: StoryTemplate, period: Period, *, now: datetime | None = None,
          users: list[str] | None = None, progress: Callable[[int], None] | None = None,
          refresh_population: bool = True, workers: int = 1, database_url: str | None = None,
          chunk_size: int = CHUNK) -> dict[str, int]:
    """Precompute stories; return {"users", "built", "not_eligible"}.

    ``workers`` > 1 needs ``database_url`` (each process opens its own connection) and a
    ``now`` that resolves to ``period``.
    """
    now = now or datetime.now(timezone.utc)
    if refresh_population:
        refresh(app.id, template, period)
    everyone = users if users is not None else user_ids(app.id)
    chunks = [everyone[start:start + chunk_size] for start in range(0, len(everyone), chunk_size)]
    built = skipped = 0
    if workers > 1 and len(chunks) > 1:
        if not database_url:
            raise ValueError("building with several workers needs the database URL")
        root = str(registry.app_root) if registry.app_root else None
        # "spawn": a forked child would inherit the parent's open SQLite connection.
        with multiprocessing.get_context("spawn").Pool(
                workers, initializer=_start_worker, initargs=(database_url, root)) as pool:
            tasks = [(app.id, template.id, now, chunk) for chunk in chunks]
            for size, done, not_eligible in pool.imap_unordered(_worker_chunk, tasks):
                built, skipped = built + done, skipped + not_eligible
                if progress:
                    progress(size)
    else:
        for chunk in chunks:
            done, not_eligible = build_chunk(app, template, period, chunk, now)
            built, skipped = built + done, skipped + not_eligible
            if progress:
                progress(len(chunk))
    return {"users": len(everyone), "built": built, "not_eligible": skipped}


def build_chunk(app: App, template: StoryTemplate, period: Period, chunk: list[str],
                now: datetime) -> tuple[int, int]:
    """Assemble and store one chunk; return (built, not eligible)."""
    # Assemble outside the write transaction: a WAL reader that later writes must not hold a
    # snapshot older than another process's commit.
    stories = assemble_many(app, template, period, chunk, now=now, source="precomputed")
    rows = [{"app_id": app.id, "template_id": template.id, "period_key": period.key, "user_id": uid,
             "story": json.dumps(story, ensure_ascii=False, separators=(",", ":")), "generated_at": now_ms(),
             "template_version": template.version}
            for uid, story in stories.items() if not isinstance(story, NotEligible)]
    with database.atomic():
        (PrecomputedStory.delete().where(
            (PrecomputedStory.app_id == app.id) & (PrecomputedStory.template_id == template.id)
            & (PrecomputedStory.period_key == period.key) & PrecomputedStory.user_id.in_(chunk)).execute())
        if rows:
            PrecomputedStory.insert_many(rows).execute()
    return len(rows), len(chunk) - len(rows)


def _start_worker(database_url: str, app_root: str | None) -> None:
    database.initialize(open_database(database_url))
    registry.app_root = Path(app_root) if app_root else None


def _worker_chunk(task: tuple[int, str, datetime, list[str]]) -> tuple[int, int, int]:
    app_id, template_id, now, chunk = task
    database.connect(reuse_if_open=True)
    app = App.get_by_id(app_id)
    template = registry.get(app_id, template_id)
    period = resolve(template.spec["period"], now)
    built, not_eligible = build_chunk(app, template, period, chunk, now)
    return len(chunk), built, not_eligible


def clear(app_id: int, template_id: str, period_key: str | None = None) -> int:
    """Delete built stories (all periods unless one is named); on-demand assembly takes over."""
    query = PrecomputedStory.delete().where((PrecomputedStory.app_id == app_id)
                                            & (PrecomputedStory.template_id == template_id))
    if period_key:
        query = query.where(PrecomputedStory.period_key == period_key)
    return query.execute()
