"""``recap apps``, ``recap keys`` and ``recap db``: managing apps, their keys and the schema."""
from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from peewee import IntegrityError

from .. import config
from ..auth import create_key, rotate_key, rotate_webhook_secret
from ..engine import locales
from ..store import db, migrations
from ..store.models import ApiKey, App
from . import settings
from .link_schemes import SCHEME, UNSAFE_SCHEMES

# AppGroups: each command runs inside the app's context however it is called (`recap`, or a
# test's runner on the Flask app), which creating a webhook secret needs (the signing keys).
apps = AppGroup("apps", help="Create, change and list the apps that send events.")
keys = AppGroup("keys", help="Rotate write keys, secret keys and the signing keys.")
database_group = AppGroup("db", help="Create or upgrade the database schema.")


WEBHOOK = "webhook"  # `recap keys rotate --kind webhook`: the secret deliveries are signed with
app_option = click.option("--app", "app_name", required=True, help="App name or id.")


def find_app(name: str) -> App:
    """The app named ``name`` (or with that id), else a clear CLI error."""
    found = App.get_or_none((App.name == name) | (App.id == (int(name) if name.isdigit() else -1)))
    if found is None:
        raise click.ClickException(f"No app named {name!r}. See `recap apps list`.")
    return found


def _time_zone(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"{value!r} is not an IANA time zone such as 'Europe/Berlin'.") from None
    return value


def _locale(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    known = locales.parse(value)
    if known is None:
        raise click.BadParameter(f"{value!r} is not a locale such as 'en', 'pt-BR' or 'ar'.")
    return known


# In the setting options below, an empty value ('') clears a setting that may be unset.
def _scheme(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value and (not SCHEME.match(value) or value in UNSAFE_SCHEMES):
        raise click.BadParameter("a custom URL scheme: lowercase letters, digits, '+', '-' or '.', "
                                 "starting with a letter (not http, https, javascript, data, file, …).")
    return value


def _web_base(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise click.BadParameter("an http(s) address without query or fragment, e.g. 'https://music.example'.")
    return value


def _app_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    if not 1 <= len(value.strip()) <= 100:
        raise click.BadParameter("1 to 100 characters.")
    return value.strip()


def _colour(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value and not settings.is_brand_colour(value):
        raise click.BadParameter(f"{value!r} is not a colour such as '#1ed760' or '#fff'.")
    return value


def _frame_ancestors(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    bad = settings.bad_frame_sources(value) if value else []
    if bad:
        raise click.BadParameter(f"{bad[0]!r} is not an origin such as 'https://music.example' "
                                 "(or 'https://*.music.example', or 'self').")
    return None if value is None else " ".join(settings.frame_sources(value))


def _fingerprint(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    for one in value:
        if not settings.CERT_FINGERPRINT.match(one.upper()):
            raise click.BadParameter(f"{one!r} is not a SHA-256 fingerprint such as 'AB:CD:…' (32 pairs).")
    return tuple(one.upper() for one in value)


def _store_link(platform: str, example: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value and settings.bad_store_link(platform, value):
            raise click.BadParameter(f"{value!r} is not a store page such as {example!r}.")
        return value
    return check


def _matching(pattern: Any, example: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        for one in (value if isinstance(value, tuple) else [value] if value else []):
            if not pattern.match(one):
                raise click.BadParameter(f"{one!r} does not look like {example!r}.")
        return value
    return check


def setting_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The settings an app's owner gives at ``apps create`` and changes with ``apps update``."""
    options = [
        click.option("--deep-link-scheme", callback=_scheme,
                     help="Custom URL scheme of the mobile app, e.g. 'musicapp' ('' clears it)."),
        click.option("--share-base-url", callback=_web_base,
                     help="Web base for share links and universal/app links, e.g. 'https://music.example' "
                          "('' clears it)."),
        click.option("--timezone", callback=_time_zone,
                     help="Time zone for users whose events carry none (IANA name; UTC when the app is created "
                          "without one)."),
        click.option("--locale", callback=_locale,
                     help="Locale of stories for users who sent none, e.g. 'es' or 'pt-BR' "
                          f"({locales.DEFAULT} when the app is created without one)."),
        *[click.option(f"--{key}", callback=_colour,
                       help=f"Brand {key} colour of stories and cards, e.g. '#1ed760' "
                            "('' goes back to the template's).")
          for key in settings.BRAND_COLOURS],
        click.option("--frame-ancestors", callback=_frame_ancestors,
                     help="Origins whose pages may frame the embed page, separated by spaces, e.g. "
                          "'https://music.example https://*.music.example' ('' lets any page frame it)."),
        click.option("--android-package", callback=_matching(settings.ANDROID_PACKAGE, "com.example.music"),
                     help="Android application id that opens share links (with --android-cert)."),
        click.option("--android-cert", multiple=True, callback=_fingerprint,
                     help="SHA-256 fingerprint of the Android app's signing certificate (repeatable)."),
        click.option("--app-store-url", callback=_store_link("ios", "https://apps.apple.com/app/id123456789"),
                     help="The app's App Store page, for share pages' \"Get your own\" ('' removes it)."),
        click.option("--play-store-url",
                     callback=_store_link("android", "https://play.google.com/store/apps/details?id=com.example"),
                     help="The app's Google Play page, for share pages' \"Get your own\" ('' removes it)."),
        click.option("--apple-app-id", multiple=True,
                     callback=_matching(settings.APPLE_APP_ID, "ABCDE12345.com.example.music"),
                     help="Team id and bundle id of an iOS app that opens share links (repeatable)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _apply(app: App, values: dict[str, Any]) -> list[str]:
    """Set the given settings on ``app`` (not saved); the names of those that changed."""
    changed = []
    for field in ("deep_link_scheme", "share_base_url", "timezone", "locale", "frame_ancestors"):
        value = values.get(field)
        if value is not None:
            stored = value or (None if field in ("deep_link_scheme", "share_base_url") else "")
            changed += [field] if getattr(app, field) != stored else []
            setattr(app, field, stored)
    brand = dict(app.brand) if isinstance(app.brand, dict) else {}
    for key in settings.BRAND_COLOURS:
        value = values.get(key)
        if value is not None:
            changed += [key] if brand.get(key) != (value or None) else []
            if value:
                brand[key] = value
            else:
                brand.pop(key, None)
    app.brand = brand
    links = dict(app.app_links) if isinstance(app.app_links, dict) else {}
    package, certs = values.get("android_package"), values.get("android_cert") or ()
    if bool(package) != bool(certs):
        raise click.UsageError("--android-package and --android-cert go together.")
    if package:
        links["android"] = settings.android_links(package, list(certs))
        changed.append("app_links.android")
    if values.get("apple_app_id"):
        links["apple"] = settings.apple_links(list(values["apple_app_id"]))
        changed.append("app_links.apple")
    app.app_links = links
    stores = dict(app.store_links) if isinstance(app.store_links, dict) else {}
    for platform, option in (("ios", "app_store_url"), ("android", "play_store_url")):
        value = values.get(option)
        if value is not None:
            changed += [f"store_links.{platform}"] if stores.get(platform) != (value or None) else []
            if value:
                stores[platform] = value
            else:
                stores.pop(platform, None)
    app.store_links = stores
    return changed


@apps.command("create")
@click.argument("name", callback=_app_name)
@setting_options
def create_app_command(name: str, **values: Any) -> None:
    """Create app NAME and print its write key, secret key and webhook secret.

    They are shown this once: keep them. The write key goes in your app or web page; the secret
    key stays on your server, and so does the webhook secret, which checks the signature of what
    triggers send you (docs/TRIGGERS.md). Every setting can be changed
    later with `recap apps update`.
    """
    app = App(name=name, timezone="UTC")
    _apply(app, values)
    try:
        with db.write_transaction():
            app.save()
            write, secret = create_key(app, ApiKey.WRITE), create_key(app, ApiKey.SECRET)
            webhook = rotate_webhook_secret(app.id)
    except IntegrityError:
        raise click.ClickException(f"An app named {name!r} already exists.") from None
    click.echo(f"app: {app.name}")
    click.echo(f"app_id: {app.id}")
    click.echo(f"write_key: {write}")
    click.echo(f"secret_key: {secret}")
    click.echo(f"webhook secret: {webhook}")


@apps.command("update")
@app_option
@click.option("--name", "new_name", callback=_app_name, help="A new name for the app.")
@setting_options
def update_app_command(app_name: str, new_name: str | None, **values: Any) -> None:
    """Change an app's settings; those not given stay as they are.

    Running servers take the change with their next request. Stories built before it are no
    longer served (each remembers the settings it was built with) and are assembled afresh;
    shares already made keep the card they froze.
    """
    app = find_app(app_name)
    changed = _apply(app, values)
    if new_name is not None and new_name != app.name:
        app.name = new_name
        changed.append("name")
    if not changed:
        click.echo(f"{app.name}: nothing changed.")
        return
    try:
        with db.write_transaction():
            app.save()
    except IntegrityError:
        raise click.ClickException(f"An app named {new_name!r} already exists.") from None
    click.echo(f"{app.name}: changed {', '.join(changed)}.")


@apps.command("show")
@app_option
def show_app_command(app_name: str) -> None:
    """Print an app's settings (never its keys: `recap apps list` shows their prefixes)."""
    app = find_app(app_name)
    click.echo(f"app: {app.name}")
    click.echo(f"app_id: {app.id}")
    click.echo(f"timezone: {app.timezone}")
    click.echo(f"locale: {app.locale}")
    click.echo(f"deep_link_scheme: {app.deep_link_scheme or '-'}")
    click.echo(f"share_base_url: {app.share_base_url or '-'}")
    brand = app.brand if isinstance(app.brand, dict) else {}
    for key in settings.BRAND_COLOURS:
        click.echo(f"{key}: {brand.get(key) or '- (the template’s)'}")
    click.echo(f"frame_ancestors: {app.frame_ancestors or '* (any page)'}")
    links = app.app_links if isinstance(app.app_links, dict) else {}
    for platform in ("android", "apple"):
        click.echo(f"app_links.{platform}: {json.dumps(links[platform]) if links.get(platform) else '-'}")
    stores = app.store_links if isinstance(app.store_links, dict) else {}
    for platform in ("ios", "android"):
        click.echo(f"store_links.{platform}: {stores.get(platform) or '-'}")


@apps.command("list")
def list_apps() -> None:
    """List apps with their active key prefixes."""
    for app in App.select().order_by(App.id):
        active = [f"{k.kind}:{k.prefix}…" for k in app.keys if k.revoked_at is None]
        click.echo(f"{app.id}\t{app.name}\t{' '.join(active)}")


@keys.command("rotate")
@click.argument("app_name")
@click.option("--kind", type=click.Choice([ApiKey.WRITE, ApiKey.SECRET, WEBHOOK]), default=ApiKey.WRITE,
              show_default=True, help="Which key to replace (webhook: the secret that signs triggers' webhooks).")
@click.option("--keep-old", is_flag=True,
              help="Leave the old keys working too; the next rotate without it revokes them.")
def rotate(app_name: str, kind: str, keep_old: bool) -> None:
    """Issue a new KIND key for APP_NAME and revoke the old ones.

    Servers already running may accept a revoked key for up to 30 seconds more (each process
    keeps recent key lookups that long). A new webhook secret signs every delivery from the
    next one on.
    """
    app = find_app(app_name)
    if kind == WEBHOOK:
        if keep_old:
            raise click.UsageError("An app has one webhook secret: --keep-old does not apply.")
        with db.write_transaction():
            secret = rotate_webhook_secret(app.id)
        click.echo(f"webhook secret: {secret}")
        return
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
