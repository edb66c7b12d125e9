"""``recap templates``, ``recap stories`` and ``recap population``: checking templates, previewing
and precomputing stories, and refreshing the percentile distributions."""
from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from ..apps.cli import app_option, find_app
from ..engine import (
    NotEligible,
    StoryTemplate,
    TemplateInvalid,
    assemble_many,
    assemble_story,
    card_layout,
    contrast,
    load_file,
    parse,
    registry,
    resolve_period,
    template_store,
    translations,
)
from ..engine.periods import Period
from ..engine.population import refresh
from ..engine.precompute import CHUNK, BuildReport, build, clear, each_apart
from ..engine.template_files import template_files
from ..engine.users import user_ids
from ..errors import APIError
from ..jobs import builds
from ..jobs.queue import queue_of, queue_status
from ..store.models import App

templates = AppGroup("templates", help="Validate story templates (their format and their text's contrast) "
                                       "and preview stories.")
stories = AppGroup("stories", help="Precompute users' stories so serving is a lookup.")
population = AppGroup("population", help="Refresh the distributions behind 'top X%' metrics.")


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("Use an ISO date, e.g. 2026-11-22.", param_hint="--now") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


now_option = click.option("--now", help="Pretend it is this date (ISO), to pick the period.")


@templates.command("check", short_help="Validate templates: their format, their text's contrast (WCAG AA), "
                                         "with --app a dry run.")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--app", "app_name", help="Check this app's own templates too, and dry-run each against its first users.")
@click.option("--users", default=3, show_default=True, help="How many users to dry-run.")
def check(path: Path | None, app_name: str | None, users: int) -> None:
    """Validate PATH (a .toml file, or every .toml under a folder, at any depth); without PATH the
    shipped templates and, with --app, the app's own (<instance>/templates/<app id>/).

    Besides the format, every text of every frame is measured against its frame's background as
    the player draws it (both ends of a gradient, a flat colour under the player's shade, a
    picture's darkest and lightest shades) and refused under WCAG AA: 4.5:1, or 3:1 for large
    text (24 px, or 18.66 px bold). Each failure names the frame, the text and its ratio.
    """
    app = find_app(app_name) if app_name else None
    if path is None:
        files = registry.files(app.id if app else None)
    else:
        files = [path] if path.is_file() else sorted(path.rglob("*.toml"))
    if not files:
        raise click.ClickException(f"No template (*.toml) in {path or registry.app_folder(app.id if app else None)}.")
    failed = 0
    for file in files:
        try:
            template = load_file(file)
        except TemplateInvalid as exc:
            failed += 1
            echo_invalid(exc)
            continue
        crowded = card_layout.check(template.spec)
        if crowded:
            failed += 1
            echo_invalid(TemplateInvalid(str(file), crowded))
            continue
        unreadable = contrast.errors(template.spec)
        if unreadable:
            failed += 1
            echo_invalid(TemplateInvalid(str(file), unreadable))
            click.echo(f"failed {file} ({template.id}: {len(unreadable)} texts under WCAG AA contrast)", err=True)
            continue
        summary, failures = _dry_run(app, template, users) if app is not None else ("", {})
        failed += bool(failures)
        click.echo(f"{'failed' if failures else 'ok'} {file} ({template.id}: {len(template.metrics)} metrics, "
                   f"{len(template.spec['frames'])} frames){summary}"
                   + "".join(f"\n  user {uid!r}: {reason}" for uid, reason in failures.items()), err=bool(failures))
        _echo_missing(template.spec)
    if failed:
        raise click.ClickException(f"{failed} of {len(files)} templates are invalid, unreadable (contrast) "
                                   f"or failed their dry run.")


def _echo_missing(spec: dict[str, Any]) -> None:
    """What each locale the template declares has no translation for: shown in the default
    locale's words, so not a failure, but listed to be translated."""
    for tag, paths in translations.missing(spec).items():
        click.echo(f"  {tag}: " + (f"missing {len(paths)} texts: {', '.join(paths)}" if paths else "complete"))


def echo_invalid(exc: TemplateInvalid) -> None:
    """Each refusal as ``check`` prints it: file, key path, reason."""
    for error in exc.errors:
        click.echo(f"{exc.file}: {error['path'] or '<root>'}: {error['reason']}", err=True)


@templates.command("push")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@app_option
@click.option("--publish", is_flag=True, help="Publish the new version at once.")
def push(file: Path, app_name: str, publish: bool) -> None:
    """Save FILE (TOML, or JSON if it ends in .json) as a new version of the app's template
    named by its id: a draft, unless --publish. Invalid: nothing is saved, and each key path
    and reason is printed as `recap templates check` prints it."""
    app = find_app(app_name)
    fmt = "json" if file.suffix.lower() == ".json" else "toml"
    try:
        text = file.read_text(encoding="utf-8")
        template_id = parse(text, str(file), fmt).id
        number = template_store.save_draft(app.id, template_id, text, fmt, publish=publish, file=str(file))
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"Cannot read {file}: {exc}") from None
    except TemplateInvalid as exc:
        echo_invalid(exc)
        raise click.ClickException(f"{file} is invalid; nothing was saved.") from None
    click.echo(f"{template_id} version {number} saved ({'published' if publish else 'draft'})")


@templates.command("pull")
@click.argument("template_id")
@app_option
@click.option("--version", "number", type=click.IntRange(1), help="This version (default: the published one).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not to stdout.")
def pull(template_id: str, app_name: str, number: int | None, output: Path | None) -> None:
    """Print (or write) the source of the app's template: the published version, a saved
    --version, or the default for a template the app never saved."""
    app = find_app(app_name)
    try:
        found = template_store.head(app.id, template_id)
        if number is None and (found is None or found.published is None):
            text = template_files.default(app.id, template_id).source
        else:
            text = template_store.source(app.id, template_id, number)["source"]
    except TemplateInvalid as exc:
        echo_invalid(exc)
        raise click.ClickException(f"The template {template_id!r} is invalid.") from None
    except APIError as exc:
        raise click.ClickException(exc.message) from None
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@templates.command("publish")
@click.argument("template_id")
@click.argument("number", metavar="VERSION", type=click.IntRange(1))
@app_option
def publish_command(template_id: str, number: int, app_name: str) -> None:
    """Publish VERSION of the app's template: stories, shares and builds use it from now on."""
    try:
        template_store.publish(find_app(app_name).id, template_id, number)
    except APIError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{template_id} version {number} published")


@templates.command("rollback")
@click.argument("template_id")
@click.argument("number", metavar="VERSION", type=click.IntRange(1))
@app_option
def rollback_command(template_id: str, number: int, app_name: str) -> None:
    """Publish VERSION, earlier than the published one."""
    try:
        template_store.rollback(find_app(app_name).id, template_id, number)
    except APIError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{template_id} rolled back to version {number}")


@templates.command("history")
@click.argument("template_id")
@app_option
def history(template_id: str, app_name: str) -> None:
    """The app's versions of the template and who (which key) did what when."""
    app = find_app(app_name)
    for entry in template_store.versions(app.id, template_id):
        click.echo(f"version {entry['version']} {entry['status']} {entry['format']} "
                   f"{_ms_text(entry['created_at'])} {_by(entry['key_id'])}")
    for entry in template_store.audit(app.id, template_id):
        click.echo(f"{_ms_text(entry['at'])} {entry['action']} version {entry['version']} {_by(entry['key_id'])}")


def _ms_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _by(key_id: int | None) -> str:
    return f"by key {key_id}" if key_id is not None else "by the command line"


def _dry_run(app: App, template: StoryTemplate, users: int) -> tuple[str, dict[str, str]]:
    """A summary of the template's stories for the app's first users, and each user's failure."""
    period = resolve_period(template.spec["period"])
    sample = user_ids(app.id)[:users]
    if not sample:
        return "; no users to dry-run", {}
    out, failures = each_apart(sample, lambda some: assemble_many(app, template, period, some))
    eligible = [s for s in out.values() if not isinstance(s, NotEligible)]
    frames = sum(len(s["frames"]) for s in eligible)
    failed = f", {len(failures)} failed" if failures else ""
    return f"; dry run on {len(sample)} users: {len(eligible)} eligible, {frames} frames{failed}", failures


@templates.command("preview")
@click.argument("template_id")
@click.option("--user", "user_id", required=True, help="The user id.")
@app_option
@now_option
def preview(template_id: str, user_id: str, app_name: str, now: str | None) -> None:
    """Print TEMPLATE_ID's story for one user as JSON (always assembled fresh)."""
    app = find_app(app_name)
    try:
        story = assemble_story(app.id, template_id, user_id, now=_when(now), fresh=True)
    except APIError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message} {json.dumps(exc.details)}") from None
    click.echo(json.dumps(story, indent=2, ensure_ascii=False))


def _template(app: App, template_id: str) -> StoryTemplate:
    """The app's template, or a clear CLI error (an invalid one names its file and reasons)."""
    try:
        return registry.get(app.id, template_id)
    except TemplateInvalid as exc:
        echo_invalid(exc)
        raise click.ClickException(f"The template {template_id!r} is invalid.") from None
    except APIError as exc:
        raise click.ClickException(exc.message) from None


@stories.command("build")
@click.argument("template_id")
@app_option
@now_option
@click.option("--inline", is_flag=True, help="Build in this process (or --workers local processes), not on the queue.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="With --inline: local processes assembling chunks side by side (one per core).")
@click.option("--chunk-size", default=CHUNK, show_default=True, type=click.IntRange(1, 100_000),
              help="Users per chunk: one job each on the queue.")
def build_command(template_id: str, app_name: str, now: str | None, inline: bool, workers: int,
                  chunk_size: int) -> None:
    """Precompute every eligible user's TEMPLATE_ID story for the current period.

    The build is enqueued as chunks of users for `recap worker` (or `recap run`) to share, and
    followed here with a progress bar; --inline builds here instead, for small apps.
    """
    if workers > 1 and not inline:
        raise click.UsageError("--workers is for --inline builds; on the queue, run `recap worker --workers N`.")
    app = find_app(app_name)
    template = _template(app, template_id)
    moment = _when(now)
    period = resolve_period(template.spec["period"], moment)
    everyone = user_ids(app.id)
    started = time.perf_counter()
    click.echo(f"population for {template.id} {period.label}…")
    refresh(app.id, template, period)
    with click.progressbar(length=len(everyone), label=f"building {template.id} {period.label}") as bar:
        if inline:
            report = build(app, template, period, now=moment or datetime.now(UTC), users=everyone,
                           progress=bar.update, refresh_population=False, workers=workers,
                           database_url=current_app.config["DATABASE_URL"], chunk_size=chunk_size)
            stuck: list[str] = []
        else:
            report, stuck = _follow(app, template, period, moment or datetime.now(UTC), everyone,
                                    chunk_size, bar.update)
    elapsed = time.perf_counter() - started
    failed = f", {report.failed} failed" if report.failed else ""
    click.echo(f"built {report.built} stories ({report.not_eligible} users not eligible{failed}) "
               f"in {elapsed:.1f} s, {report.users / max(elapsed, 1e-9):.0f} users/s")
    if stuck:
        click.echo(f"{len(stuck)} chunks failed after their retries; `recap jobs` says why, and "
                   f"`recap jobs retry ID` builds one again: {' '.join(stuck[:10])}", err=True)
    if report.failed:
        for uid, reason in report.failures:
            click.echo(f"failed: user {uid!r}: {reason}", err=True)
        if report.failed > len(report.failures):
            click.echo(f"… and {report.failed - len(report.failures)} more", err=True)
        uid = report.failures[0][0]
        click.echo(f"(recap templates preview {template.id} --user {shlex.quote(uid)} --app {shlex.quote(app.name)}"
                   f"{' --now ' + shlex.quote(now) if now else ''} shows where one fails)", err=True)
    if report.failed or stuck:
        raise click.ClickException(f"the stories of {report.failed + len(everyone) - report.users} of "
                                   f"{len(everyone)} users failed and were not built")


FOLLOW_POLL_S = 0.2
WORKERLESS_HINT_S = 10.0


def _follow(app: App, template: StoryTemplate, period: Period, now: datetime, users: list[str], chunk_size: int,
            advance: Callable[[int], None]) -> tuple[BuildReport, list[str]]:
    """Enqueue the build, follow it to its end; its report and the jobs of its failed chunks."""
    status = queue_status()
    if not status["reachable"]:  # before the build is written: nothing is left half enqueued
        raise click.ClickException(f"The {status['backend']} job queue is not reachable ({status['error']}); "
                                   f"--inline builds in this process.")
    queue = queue_of(current_app._get_current_object())  # type: ignore[attr-defined]
    run = builds.start(queue, app, template, period, now, users, chunk_size)
    shown, moved, hinted = 0, time.monotonic(), False
    while True:
        state = builds.progress(run)
        if state.users_done != shown:
            advance(state.users_done - shown)
            shown, moved = state.users_done, time.monotonic()
        if state.finished:
            return state.report, builds.failed_jobs(run) if state.failed_chunks else []
        builds.requeue_stalled(queue, run)
        if not hinted and time.monotonic() - moved > WORKERLESS_HINT_S:
            hinted = True
            click.echo(f"\nbuild {run.id}: no chunk finished for {WORKERLESS_HINT_S:.0f} s; is a `recap worker` "
                       f"(or `recap run`) consuming the {queue.backend} queue? Ctrl-C leaves the build queued; "
                       f"--inline builds here.", err=True)
        time.sleep(FOLLOW_POLL_S)


@stories.command("clear")
@click.argument("template_id")
@app_option
def clear_command(template_id: str, app_name: str) -> None:
    """Delete TEMPLATE_ID's precomputed stories; stories are then assembled on demand."""
    click.echo(f"deleted {clear(find_app(app_name).id, template_id)} stories")


@population.command("refresh")
@click.argument("template_id")
@app_option
@now_option
def refresh_command(template_id: str, app_name: str, now: str | None) -> None:
    """Recompute TEMPLATE_ID's percentile distributions for the current period."""
    app = find_app(app_name)
    template = _template(app, template_id)
    period = resolve_period(template.spec["period"], _when(now))
    with click.progressbar(length=len(user_ids(app.id)), label="users") as bar:
        counts = refresh(app.id, template, period, progress=bar.update)
    for metric, users in counts.items():
        click.echo(f"{metric}: {users} users")


def init_app(app: Flask) -> None:
    for group in (templates, stories, population):
        app.cli.add_command(group)
