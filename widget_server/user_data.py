"""Erasing a user: ``POST /v1/users/erase`` (secret key) and ``recap users erase``.

Everything Recap keeps about the user goes: their profile and identities, the personal content
of their events (ids, properties, traits, context, names) and of the anonymous events joined to
them, their precomputed stories, shares (page and images), uploaded pictures and viewer grants.
An event row stays as a tombstone (message id, type, times) so that a client retrying an old
batch cannot bring the event back (messageId stays taken), and so that the event ids the key
tables are built on never change. Events that arrive after the erasure are stored as usual:
stop sending the user's events first.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import click
from flask import Blueprint, Flask, Response, current_app, jsonify
from marshmallow import Schema, fields, validate

from . import event_indexes, json_body
from .auth import require_secret_key
from .cli_commands import find_app
from .db import database, is_sqlite
from .engine.users import actor_pairs
from .group_commit import FileLock, lock_path
from .models import Identity, PrecomputedStory, Profile, Share, Upload, ViewerGrant
from .share import images
from .share.uploads import upload_dir

bp = Blueprint("erasure", __name__)
users = click.Group("users", help="Erase what Recap keeps about a user.")
CHUNK = 500
TOMBSTONE = ("UPDATE event SET user_id = NULL, anonymous_id = NULL, actor = 'erased', name = NULL, "
             "properties = NULL, context = NULL WHERE id IN ({ids})")


class EraseRequest(Schema):
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=200))


def erase_user(app_id: int, user_id: str) -> dict[str, int]:
    """Erase ``user_id`` of app ``app_id``; how many of each thing went."""
    actors = [actor for actor, _ in actor_pairs(app_id, [user_id])]
    with _writers_locked(), database.atomic():
        condition, params = event_indexes.by_actor("e", app_id, actors, 0, event_indexes.OPEN_END)
        rows = database.execute_sql(f"SELECT e.id, e.name, e.timestamp FROM event e WHERE {condition}",
                                    params).fetchall()
        ids = [row[0] for row in rows]
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            database.execute_sql(TOMBSTONE.format(ids=", ".join([database.param] * len(chunk))), chunk)
        if is_sqlite():
            _forget_keys(app_id, actors, rows)
        shares = list(Share.select().where((Share.app == app_id) & (Share.user_id == user_id)))
        uploads = list(Upload.select().where((Upload.app == app_id) & (Upload.user_id == user_id)))
        counts = {
            "events": len(ids),
            "profiles": Profile.delete().where((Profile.app_id == app_id) & (Profile.user_id == user_id)).execute(),
            "identities": Identity.delete().where((Identity.app_id == app_id)
                                                  & (Identity.user_id == user_id)).execute(),
            "stories": PrecomputedStory.delete().where((PrecomputedStory.app_id == app_id)
                                                       & (PrecomputedStory.user_id == user_id)).execute(),
            "shares": Share.delete().where(Share.id.in_([s.id for s in shares])).execute() if shares else 0,
            "uploads": Upload.delete().where(Upload.id.in_([u.id for u in uploads])).execute() if uploads else 0,
            "viewer_grants": ViewerGrant.delete().where((ViewerGrant.app == app_id)
                                                        & (ViewerGrant.user_id == user_id)).execute(),
        }
    for share in shares:  # files only once the rows are gone for good
        images.forget(share.id)
    for upload in uploads:
        (upload_dir() / f"{upload.id}.{'jpg' if upload.format == 'jpeg' else 'png'}").unlink(missing_ok=True)
    return counts


@contextlib.contextmanager
def _writers_locked() -> Iterator[None]:
    """On SQLite, no index pass and no ingest writer while the events change (passes first,
    the order every writer takes them in)."""
    if not is_sqlite():
        yield
        return
    path = database.obj.database
    keys, writers = event_indexes.keys_lock(path), FileLock(lock_path(path))
    try:
        with keys, writers:
            yield
    finally:
        writers.close()
        keys.close()


def _forget_keys(app_id: int, actors: list[str], rows: list[tuple]) -> None:
    """Drop the passed events' keys; events in the tail are passed as tombstones later."""
    p = database.param
    (watermark,) = database.execute_sql("SELECT indexed_through FROM event_index_state").fetchone()
    database.execute_sql(
        f"DELETE FROM event_by_actor WHERE app_id = {p} AND part IN (WITH RECURSIVE parts(n) AS "
        f"(SELECT 0 UNION ALL SELECT n + 1 FROM parts WHERE n < {p} >> {event_indexes.PART_BITS}) "
        f"SELECT n FROM parts) AND actor IN ({', '.join([p] * len(actors))})", [app_id, watermark, *actors])
    named = [(app_id, name, timestamp, event_id) for event_id, name, timestamp in rows
             if name is not None and event_id <= watermark]
    if named:
        database.cursor().executemany(
            f"DELETE FROM event_by_name WHERE app_id = {p} AND name = {p} AND timestamp = {p} AND event_id = {p}",
            named)


@bp.post("/v1/users/erase")
def erase() -> Response:
    caller = require_secret_key()
    args = json_body.load(EraseRequest(), '{"user_id": "…"}', "request")
    counts = erase_user(caller.app_id, args["user_id"])
    current_app.logger.info("erased a user of app %s: %s", caller.app_id, counts)
    return jsonify(erased=counts)


@users.command("erase")
@click.argument("user_id")
@click.option("--app", "app_name", required=True, help="App name or id.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_command(user_id: str, app_name: str, yes: bool) -> None:
    """Erase everything Recap keeps about USER_ID (events keep a tombstone; see docs)."""
    app = find_app(app_name)
    if not yes:
        click.confirm(f"Erase user {user_id!r} of {app.name}? This cannot be undone", abort=True)
    counts = erase_user(app.id, user_id)
    click.echo(", ".join(f"{name}: {count}" for name, count in counts.items()))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.cli.add_command(users)
