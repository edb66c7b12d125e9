"""The periodic chores, on the queue's schedule (each on the first worker that takes it).

Each is bounded and safe to run twice (several workers with their schedulers on): the sweeps
delete at most a few hundred rows a run, and a population refresh is skipped while the stored
distribution is still fresh. The request paths keep their own throttled sweeps too, so a server
with no worker at all still keeps its tables to about what is live.
"""
from __future__ import annotations

import logging

from flask import current_app

from ..auth import delete_expired_grants
from ..engine import population
from ..engine.periods import resolve
from ..engine.registry import registry
from ..errors import APIError
from ..share.shares import delete_ended
from ..store.models import BuildChunk, PopulationStat, StoryBuild, now_ms
from .queue import crontab, job

log = logging.getLogger(__name__)

PRUNE_BUILDS_ROWS = 50  # finished builds deleted a run, at most (each with its chunks)


@job("refresh_populations", periodic=crontab(minute="*/15"))
def refresh_populations() -> int:
    """Refresh the current period's distributions of every template that has been ranked; how many."""
    refreshed = 0
    pairs = PopulationStat.select(PopulationStat.app_id, PopulationStat.template_id).group_by(
        PopulationStat.app_id, PopulationStat.template_id).tuples().execute()
    for app_id, template_id in pairs:
        try:
            template = registry.get(app_id, template_id)
        except APIError:  # removed or broken since: nothing to rank by
            continue
        period = resolve(template.spec["period"])
        if population.stale(app_id, template, period):
            population.refresh(app_id, template, period)
            refreshed += 1
    return refreshed


@job("sweep_grants", periodic=crontab(minute="*/10"))
def sweep_grants() -> int:
    """Delete expired viewer grants."""
    return delete_expired_grants()


@job("sweep_shares", periodic=crontab(minute="*/10"))
def sweep_shares() -> int:
    """Delete shares ended longer than SHARE_KEEP_ENDED ago, with their images."""
    return delete_ended()



@job("prune_builds", periodic=crontab(minute="7", hour="*"))
def prune_builds() -> int:
    """Delete builds finished more than BUILD_KEEP_DAYS ago, with their chunks (retention: a
    chunk row names every user it built, so they are not kept forever); how many builds."""
    cutoff = now_ms() - int(current_app.config["BUILD_KEEP_DAYS"]) * 86_400_000
    old = [row.id for row in StoryBuild.select(StoryBuild.id)
           .where(StoryBuild.finished_at.is_null(False) & (StoryBuild.finished_at < cutoff))
           .limit(PRUNE_BUILDS_ROWS)]
    if old:
        BuildChunk.delete().where(BuildChunk.build.in_(old)).execute()
        StoryBuild.delete().where(StoryBuild.id.in_(old)).execute()
        log.info("%d finished story builds older than %s days deleted", len(old), current_app.config["BUILD_KEEP_DAYS"])
    return len(old)
