"""``recap audiences``: save an app's audiences from files, read them, refresh them, list members."""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from ..apps.cli import app_option, find_app
from ..errors import APIError
from ..http import iso_time
from ..stories.cli import echo_invalid
from . import builtin, membership, refresh, store
from .definition import AudienceInvalid, is_audience_id

audiences = AppGroup("audiences", help="Save, read and refresh the app's audiences.")


@audiences.command("push")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@app_option
@click.option("--id", "audience_id", help="The audience's id (default: the file's name without its extension).")
def push(file: Path, app_name: str, audience_id: str | None) -> None:
    """Save FILE (TOML, or JSON if it ends in .json) as the audience's next version. Invalid:
    nothing is saved, and each key path and reason is printed."""
    app = find_app(app_name)
    audience_id = audience_id or file.stem
    if not is_audience_id(audience_id):
        raise click.BadParameter(f"{audience_id!r}: 1-64 of a-z, 0-9, '_' and '-'.", param_hint="--id")
    fmt = "json" if file.suffix.lower() == ".json" else "toml"
    try:
        number = store.save(app.id, audience_id, file.read_text(encoding="utf-8"), fmt, file=str(file))
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"Cannot read {file}: {exc}") from None
    except AudienceInvalid as exc:
        echo_invalid(exc)
        raise click.ClickException(f"{file} is invalid; nothing was saved.") from None
    except APIError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{audience_id} version {number} saved")


@audiences.command("list")
@app_option
def list_audiences(app_name: str) -> None:
    """The app's audiences: id, latest version (built in), members at the last refresh and when."""
    app = find_app(app_name)
    for entry in store.listing(app.id):
        count = membership.last_count(app.id, entry["id"])
        shown = f"{count.members} members at {iso_time(count.computed_at, 'seconds')}" if count else "never refreshed"
        click.echo(f"{entry['id']}\t{'built in' if entry['builtin'] else 'v' + str(entry['latest'])}\t{shown}")


@audiences.command("show")
@click.argument("audience_id")
@app_option
def show(audience_id: str, app_name: str) -> None:
    """Print the audience's latest source as saved."""
    app = find_app(app_name)
    if audience_id in builtin.BUILTIN:
        click.echo(f"{audience_id}: built in, users whose churn score is at least {builtin.CHURN_THRESHOLD}")
        return
    try:
        text = store.source(app.id, audience_id)["source"]
    except APIError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(text, nl=not text.endswith("\n"))


@audiences.command("members")
@click.argument("audience_id")
@app_option
def members(audience_id: str, app_name: str) -> None:
    """Every member as of the last refresh, one user id a line."""
    app = find_app(app_name)
    if not store.exists(app.id, audience_id):
        raise click.ClickException(f"No audience named {audience_id!r}.")
    for user_id in membership.stored(app.id, audience_id):
        click.echo(user_id)


@audiences.command("refresh")
@app_option
@click.option("--id", "audience_id", help="Only this audience (default: all of the app's).")
def refresh_command(app_name: str, audience_id: str | None) -> None:
    """Compute the app's audiences now, as the hourly job does, and store their members."""
    app = find_app(app_name)
    try:
        if audience_id is None:
            found = refresh.refresh_app(app.id)
        elif store.exists(app.id, audience_id):
            found = {audience_id: refresh.refresh(app.id, audience_id)}
        else:
            raise store.unknown_audience(audience_id)
    except APIError as exc:
        raise click.ClickException(exc.message) from None
    for name, count in found.items():
        click.echo(f"{name}\t{count} members")


def init_app(app: Flask) -> None:
    app.cli.add_command(audiences)
