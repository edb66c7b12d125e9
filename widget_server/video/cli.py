"""``recap videos render``: the yearly campaign, every eligible user's video drawn before launch.

Each eligible user gets the share their own tap on Share would make (the same frozen card, no
caption), made now; its video goes on the queue for ``recap worker`` processes to share, and the
command follows them with a progress bar. When the user taps Share on launch day, ``POST
/v1/shares`` finds that share (the same card is one share) and answers it with its video ready.
A second run enqueues only what is missing or stale: shares without a video file of the current
render version (the file name carries it, video/files.py).
"""
from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup

from ..apps.cli import app_option, find_app
from ..auth import Caller
from ..engine.errors import NotEligible
from ..engine.users import user_ids
from ..errors import TooManyRequests, ValidationFailed
from ..jobs.queue import queue_of, queue_status
from ..share import shares
from ..store.models import Share
from . import files

videos = AppGroup("videos", help="Work with the videos of shared stories.")

FOLLOW_POLL_S = 0.5


@videos.command("render")
@app_option
@click.option("--template", "template_id", required=True, help="The story template whose videos to draw.")
def render_command(app_name: str, template_id: str) -> None:
    """Draw every eligible user's video of TEMPLATE on the queue, and follow the workers."""
    if not current_app.config["PUBLIC_BASE_URL"]:
        raise click.ClickException("Set RECAP_PUBLIC_BASE_URL: the campaign's shares are the ones users' taps on "
                                   "Share will find, so their links must have the server's public address.")
    status = queue_status()
    if not status["reachable"]:
        raise click.ClickException(f"The {status['backend']} job queue is not reachable ({status['error']}).")
    queue = queue_of(current_app._get_current_object())  # type: ignore[attr-defined]
    app = find_app(app_name)
    everyone = user_ids(app.id)
    wanted: list[str] = []
    skipped = ready = limited = 0
    with click.progressbar(everyone, label=f"sharing {template_id} for {len(everyone)} users") as bar:
        for user_id in bar:
            try:
                share, made = shares.create(Caller(app.id, "secret", user_id), template_id, None, None)
            except NotEligible:
                skipped += 1
                continue
            except ValidationFailed as exc:  # no such template
                raise click.ClickException(f"{exc.message} {exc.details}") from None
            except TooManyRequests:  # the user shared a lot just now: their own tap will make it
                limited += 1
                continue
            if share.video_status == "off":
                continue
            if files.video_path(share.id).exists():
                ready += 1
                continue
            if not made:  # an older share whose video is missing or stale: drawn again
                Share.update(video_status="pending").where(Share.id == share.id).execute()
                queue.enqueue("render_video", share.id)
            wanted.append(share.id)
    click.echo(f"{len(wanted)} videos to draw, {ready} already drawn, {skipped} users not eligible"
               + (f", {limited} at their share limits" if limited else ""))
    _follow(wanted)


def _follow(wanted: list[str]) -> None:
    """Wait for the videos' jobs, with a progress bar; fail naming how many failed."""
    started, done = time.perf_counter(), 0
    with click.progressbar(length=len(wanted), label="drawing videos") as bar:
        while True:
            counts = _count(wanted)
            bar.update(counts["ready"] + counts["failed"] - done)
            done = counts["ready"] + counts["failed"]
            if not counts["pending"]:
                break
            time.sleep(FOLLOW_POLL_S)
    click.echo(f"{counts['ready']} videos drawn in {time.perf_counter() - started:.1f} s")
    if counts["failed"]:
        raise click.ClickException(f"{counts['failed']} videos failed after their retries; `recap jobs` says why")


def _count(ids: list[str]) -> dict[str, int]:
    counts = {"ready": 0, "failed": 0, "pending": 0, "off": 0}
    for at in range(0, len(ids), 500):
        for row in Share.select(Share.video_status).where(Share.id.in_(ids[at:at + 500])):
            counts[row.video_status or "pending"] += 1
    return counts
