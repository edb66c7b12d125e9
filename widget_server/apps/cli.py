"""``recap apps``, ``recap keys`` and ``recap db``: managing apps, their keys and the schema."""
from __future__ import annotations

import urllib.parse
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask import Flask, current_app
from peewee import IntegrityError

from .. import config
from ..auth import create_key, rotate_key
from ..store import db, migrations
from ..store.models import ApiKey, App
from .link_schemes import SCHEME, UNSAFE_SCHEMES

apps = click.Group("apps", help="Create and list the apps that send events.")
keys = click.Group("keys", help="Rotate write keys, secret keys and the signing keys.")
database_group = click.Group("db", help="Create or upgrade the database schema.")


app_option = click.option("--app", "app_name", required=True, help="App name or id.")


def find_app(name: str) -> App:
    """The app named ``name`` (or with that id), else a clear CLI error."""
    found = App.get_or_none((App.name == name) | (App.id == (int(name) if name.isdigit() else -1)))
    if found is None:
        raise click.ClickException(f"No app named {name!r}. See `recap apps list`.")
    return found


def _time_zone(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"{value!r} is not an IANA time zone such as 'Europe/Berlin'.") from None
    return value


def _scheme(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and (not SCHEME.match(value) or value in UNSAFE_SCHEMES):
        raise click.BadParameter("a custom URL scheme: lowercase letters, digits, '+', '-' or '.', "
                                 "starting with a letter (not http, https, javascript, data, file, …).")
    return value


def _web_base(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise click.BadParameter("an http(s) address without query or fragment, e.g. 'https://music.example'.")
    return value


def _app_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not 1 <= len(value.strip()) <= 100:
        raise click.BadParameter("1 to 100 characters.")
    return value.strip()


@apps.command("create")
@click.argument("name", callback=_app_name)
@click.option("--deep-link-scheme", callback=_scheme, help="Custom URL scheme of the mobile app, e.g. 'musicapp'.")
@click.option("--share-base-url", callback=_web_base, help="Web base for share links and universal/app links.")
@click.option("--timezone", default="UTC", show_default=True, callback=_time_zone,
              help="Time zone for users whose events carry none (IANA name).")
def create_app_command(name: str, deep_link_scheme: str | None, share_base_url: str | None,
                       timezone: str) -> None:
    """Create app NAME and print its write key and secret key.

    The keys are shown this once and stored only as hashes: keep them. The write key goes in
    your app or web page; the secret key stays on your server.
    """
    try:
        with db.write_transaction():
            app = App.create(name=name, deep_link_scheme=deep_link_scheme,
                             share_base_url=share_base_url, timezone=timezone)
            write, secret = create_key(app, ApiKey.WRITE), create_key(app, ApiKey.SECRET)
    except IntegrityError:
        raise click.ClickException(f"An app named {name!r} already exists.") from None
    click.echo(f"app: {app.name}")
    click.echo(f"app_id: {app.id}")
    click.echo(f"write_key: {write}")
    click.echo(f"secret_key: {secret}")


@apps.command("list")
def list_apps() -> None:
    """List apps with their active key prefixes."""
    for app in App.select().order_by(App.id):
        active = [f"{k.kind}:{k.prefix}…" for k in app.keys if k.revoked_at is None]
        click.echo(f"{app.id}\t{app.name}\t{' '.join(active)}")


@keys.command("rotate")
@click.argument("app_name")
@click.option("--kind", type=click.Choice([ApiKey.WRITE, ApiKey.SECRET]), default=ApiKey.WRITE,
              show_default=True, help="Which key to replace.")
@click.option("--keep-old", is_flag=True,
              help="Leave the old keys working too; the next rotate without it revokes them.")
def rotate(app_name: str, kind: str, keep_old: bool) -> None:
    """Issue a new KIND key for APP_NAME and revoke the old ones.

    Servers already running may accept a revoked key for up to 30 seconds more (each process
    keeps recent key lookups that long).
    """
    app = find_app(app_name)
    with db.write_transaction():
        key = rotate_key(app, kind, keep_old=keep_old)
    click.echo(f"{kind}_key: {key}")


@keys.command("rotate-signing")
def rotate_signing() -> None:
    """Add a new signing key for viewer tokens and share links.

    Tokens signed with older keys keep working until you delete those lines from the
    instance folder's secret_keys file. Running servers on this instance folder take the
    change with their next token, without a restart (keys set in RECAP_SECRET_KEYS need one).
    """
    found = config.add_secret_key(Path(current_app.instance_path))
    click.echo(f"{len(found)} signing keys; the newest now signs.")


@database_group.command("upgrade")
def upgrade() -> None:
    """Apply pending schema migrations (also done on every start)."""
    applied = migrations.upgrade()
    click.echo(f"schema version {migrations.current_version()}"
               + (f" (applied {applied})" if applied else " (up to date)"))


def init_app(app: Flask) -> None:
    for group in (apps, keys, database_group):
        app.cli.add_command(group)
