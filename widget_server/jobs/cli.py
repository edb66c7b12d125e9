"""``recap jobs``: what the queue holds, what runs and what failed (with the reason); retrying."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from . import records
from .queue import queue_of

LISTED = 50


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.group("jobs", cls=AppGroup, invoke_without_command=True)
@click.pass_context
@with_appcontext
def jobs(ctx: click.Context) -> None:
    """List queued, running and failed jobs (``recap jobs`` alone: the list); retry a failed one."""
    if ctx.invoked_subcommand is None:
        _list(LISTED)


@jobs.command("list")
@click.option("--limit", default=LISTED, show_default=True, type=click.IntRange(1, 10_000))
def list_command(limit: int) -> None:
    """Jobs waiting, running, waiting for a retry and failed (with the reason), newest first."""
    _list(limit)


def _list(limit: int) -> None:
    queue = queue_of(current_app._get_current_object())  # type: ignore[attr-defined]
    waiting = queue.depth()
    click.echo(f"queue: {queue.backend}, {waiting} waiting, {len(queue.huey.scheduled())} scheduled for a retry")
    for task in queue.huey.pending(limit=limit):
        click.echo(f"queued    {task.id}  {task.name}{json.dumps(list(task.args))}")
    for row in records.listed(limit):
        line = f"{row.status:<9} {row.id}  {row.name}{row.args}  attempts {row.attempts}, {_when(row.updated_at)}"
        click.echo(line + (f" on {row.worker}" if row.status == "running" else ""))
        if row.reason:
            click.echo(f"          reason: {row.reason}")


@jobs.command("retry")
@click.argument("job_id")
def retry_command(job_id: str) -> None:
    """Put the failed job JOB_ID back on the queue, with its retries renewed."""
    queue = queue_of(current_app._get_current_object())  # type: ignore[attr-defined]
    try:
        row = queue.retry(job_id)
    except LookupError:
        raise click.ClickException(f"No failed job has the id {job_id!r} (recap jobs lists them).") from None
    except ValueError:
        raise click.ClickException(f"The job {job_id!r} names a job this server does not have.") from None
    click.echo(f"enqueued {row.name}{row.args} again as {job_id}")
