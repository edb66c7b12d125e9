"""``recap triggers``: save an app's triggers from files and read them back."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from ..apps.cli import app_option, find_app
from ..auth import NoWebhookSecret, webhook_secret
from ..errors import APIError
from ..stories.cli import echo_invalid
from . import deliveries, store
from .definition import TriggerInvalid, is_trigger_id
from .dry_run import dry_run

triggers = AppGroup("triggers", help="Save and read the triggers that notify users through the app's webhook.")


@triggers.command("push")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@app_option
@click.option("--id", "trigger_id", help="The trigger's id (default: the file's name without its extension).")
def push(file: Path, app_name: str, trigger_id: str | None) -> None:
    """Save FILE (TOML, or JSON if it ends in .json) as the trigger's next version, which acts at
    once. Invalid: nothing is saved, and each key path and reason is printed."""
    app = find_app(app_name)
    trigger_id = trigger_id or file.stem.replace("_", "-")
    if not is_trigger_id(trigger_id):
        raise click.BadParameter(f"{trigger_id!r}: 1-64 of a-z, 0-9 and '-', not starting with '-'.",
                                 param_hint="--id")
    try:
        webhook_secret(app.id)
    except NoWebhookSecret as exc:
        raise click.ClickException(str(exc)) from None
    fmt = "json" if file.suffix.lower() == ".json" else "toml"
    try:
        number = store.save(app.id, trigger_id, file.read_text(encoding="utf-8"), fmt, file=str(file))
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"Cannot read {file}: {exc}") from None
    except TriggerInvalid as exc:
        echo_invalid(exc)
        raise click.ClickException(f"{file} is invalid; nothing was saved.") from None
    click.echo(f"{trigger_id} version {number} saved")


@triggers.command("list")
@app_option
def list_triggers(app_name: str) -> None:
    """The app's triggers: id, latest version, what starts each, enabled, webhook."""
    app = find_app(app_name)
    for entry in store.listing(app.id):
        on = json.dumps(entry["on"], ensure_ascii=False, separators=(",", ":"))
        click.echo(f"{entry['id']}\tv{entry['latest']}\t{on}\t{'on' if entry['enabled'] else 'off'}"
                   f"\t{entry['webhook']}")


@triggers.command("show")
@click.argument("trigger_id")
@app_option
@click.option("--version", "number", type=click.IntRange(1), help="This version (default: the latest).")
def show(trigger_id: str, app_name: str, number: int | None) -> None:
    """Print the trigger's source as saved."""
    app = find_app(app_name)
    try:
        text = store.source(app.id, trigger_id, number)["source"]
    except APIError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(text, nl=not text.endswith("\n"))


@triggers.command("deliveries")
@click.argument("trigger_id")
@app_option
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500), help="How many, newest first.")
def list_deliveries(trigger_id: str, app_name: str, limit: int) -> None:
    """The trigger's latest deliveries: id, user, status, attempts (each one's answer), when made."""
    app = find_app(app_name)
    for entry in deliveries.listing(app.id, trigger_id, limit):
        answers = " ".join(str(a["status_code"] or "no answer") for a in entry["attempts"]) or "-"
        click.echo(f"{entry['id']}\t{entry['user_id']}\t{entry['status']}\t{len(entry['attempts'])}: {answers}"
                   f"\t{entry['created_at']}" + (f"\t{entry['last_error']}" if entry["last_error"] else ""))


@triggers.command("dry-run")
@click.argument("trigger_id")
@app_option
@click.option("--properties", default="{}", help="The imagined event's properties, as JSON (an event trigger's).")
def dry_run_command(trigger_id: str, app_name: str, properties: str) -> None:
    """How many users the trigger would notify now, and five of the messages; nothing is sent."""
    app = find_app(app_name)
    try:
        imagined = json.loads(properties)
    except ValueError as exc:
        raise click.BadParameter(f"Not JSON: {exc}", param_hint="--properties") from None
    if not isinstance(imagined, dict):
        raise click.BadParameter("A JSON object, e.g. '{\"artist\": \"Nova\"}'.", param_hint="--properties")
    try:
        found = dry_run(app.id, store.current(app.id, trigger_id), {"properties": imagined})
    except APIError as exc:
        raise click.ClickException(exc.message) from None
    if not found["matches"]:
        click.echo("The event does not match the trigger's `on`: nobody would be notified.")
        return
    click.echo(f"would notify {found['would_notify']} of {found['users']} users")
    for one in found["sample"]:
        click.echo(f"{one['user_id']}\t{one['message']['title']}\t{one['message']['body']}")


def init_app(app: Flask) -> None:
    app.cli.add_command(triggers)
