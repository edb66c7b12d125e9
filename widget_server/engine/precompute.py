"""``recap stories build``: assemble every eligible user's story ahead of time, in chunks.

Each chunk of users shares one slice and one query per metric kind, and its stories are written
with one ``executemany``; serving a built story is then a single primary-key lookup.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Callable

from ..db import database
from ..models import App, PrecomputedStory, now_ms
from .assemble import assemble_many
from .errors import NotEligible
from .periods import Period
from .population import refresh
from .templates import StoryTemplate
from .users import user_ids

CHUNK = 250


def build(app: App, template: StoryTemplate, period: Period, *, now: datetime | None = None,
          users: list[str] | None = None, progress: Callable[[int], None] | None = None,
          refresh_population: bool = True) -> dict[str, int]:
    """Precompute stories; return {"users", "built", "not_eligible"}."""
    now = now or datetime.now(timezone.utc)
    if refresh_population:
        refresh(app.id, template, period)
    everyone = users if users is not None else user_ids(app.id)
    built = skipped = 0
    for start in range(0, len(everyone), CHUNK):
        chunk = everyone[start:start + CHUNK]
        with database.atomic():
            stories = assemble_many(app, template, period, chunk, now=now, source="precomputed")
            rows = []
            for uid, story in stories.items():
                if isinstance(story, NotEligible):
                    skipped += 1
                    continue
                rows.append({"app_id": app.id, "template_id": template.id, "period_key": period.key,
                             "user_id": uid, "story": json.dumps(story, ensure_ascii=False, separators=(",", ":")),
                             "generated_at": now_ms()})
            (PrecomputedStory.delete().where(
                (PrecomputedStory.app_id == app.id) & (PrecomputedStory.template_id == template.id)
                & (PrecomputedStory.period_key == period.key) & PrecomputedStory.user_id.in_(chunk)).execute())
            if rows:
                PrecomputedStory.insert_many(rows).execute()
            built += len(rows)
        if progress:
            progress(len(chunk))
    return {"users": len(everyone), "built": built, "not_eligible": skipped}


def clear(app_id: int, template_id: str, period_key: str | None = None) -> int:
    """Delete built stories (all periods unless one is named); on-demand assembly takes over."""
    query = PrecomputedStory.delete().where((PrecomputedStory.app_id == app_id)
                                            & (PrecomputedStory.template_id == template_id))
    if period_key:
        query = query.where(PrecomputedStory.period_key == period_key)
    return query.execute()
