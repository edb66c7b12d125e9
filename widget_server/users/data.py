"""What Recap keeps about one user, exported or erased (DESIGN.md: the secret key may "delete or
export a user"): ``POST /v1/users/export`` and ``/v1/users/erase`` with ``{"user_id": "…"}``
(user ids stay out of URLs), and ``recap users export|erase``.

Export: the profile, identities, every event that counts for the user (their own and the
anonymous ones joined to them, properties and context as sent), shares and uploads, as one
JSON document, streamed (a heavy user has hundreds of thousands of events).

Erasure: everything Recap keeps about the user goes: their profile and identities, the personal content
of their events (ids, properties, traits, context, names) and of the anonymous events joined to
them, their precomputed stories, audience memberships, shares (page and images), uploaded pictures (theirs, and the app
server's uploads of their ``photo_url`` or on their shares that no other user's share or photo
shows; the export lists the same pictures) and viewer grants.
An event row stays as a tombstone (message id, type, times) so that a client retrying an old
batch cannot bring the event back (messageId stays taken), and so that the event ids the key
tables are built on never change. Events that arrive after the erasure are stored as usual:
stop sending the user's events first.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, TextIO

import click
from flask import Blueprint, Flask, Response, current_app, jsonify, stream_with_context
from flask.cli import AppGroup
from marshmallow import Schema, fields, validate
from peewee import SQL

from .. import http
from ..apps.cli import app_option, find_app
from ..auth import require_secret_key
from ..engine.users import actor_pairs
from ..share import images
from ..share.public_url import public_base
from ..share.shares import upload_named_by
from ..share.uploads import stored_name, upload_dir
from ..store import dialect, event_keys
from ..store.db import database, write_transaction
from ..store.models import (
    MAX_ID,
    App,
    AudienceMember,
    ChurnScore,
    Identity,
    PrecomputedStory,
    Profile,
    Share,
    Upload,
    ViewerGrant,
)

bp = Blueprint("user_data", __name__)
users = AppGroup("users", help="Export or erase what Recap keeps about a user.")
TOMBSTONE = ("UPDATE event SET user_id = NULL, anonymous_id = NULL, actor = 'erased', name = NULL, "
             "properties = NULL, context = NULL WHERE id IN ({ids})")


class UserRequest(Schema):
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=MAX_ID))


def export_user(app: App, user_id: str, public_base: str) -> Iterator[str]:
    """The user's data as JSON text, in pieces."""
    profile = Profile.get_or_none((Profile.app_id == app.id) & (Profile.user_id == user_id))
    churn = ChurnScore.get_or_none((ChurnScore.app_id == app.id) & (ChurnScore.user_id == user_id))
    shares = list(Share.select().where((Share.app == app.id) & (Share.user_id == user_id)).order_by(Share.created_at))
    head = {
        "app": {"id": app.id, "name": app.name}, "user_id": user_id, "exported_at": _iso(time.time() * 1000),
        "profile": None if profile is None else {"traits": profile.traits, "timezone": profile.timezone,
                                                 "locale": profile.locale, "first_seen": _iso(profile.first_seen),
                                                 "last_seen": _iso(profile.last_seen)},
        "churn": None if churn is None else {"score": round(churn.score, 4), "scored_at": _iso(churn.scored_at)},
        "audiences": [{"audience": m.audience_id, "computed_at": _iso(m.computed_at)} for m in
                      AudienceMember.select().where((AudienceMember.app_id == app.id)
                                                    & (AudienceMember.user_id == user_id))
                      .order_by(AudienceMember.audience_id)],
        "identities": [{"actor": i.actor, "joined_at": _iso(i.created_at)} for i in
                       Identity.select().where((Identity.app_id == app.id) & (Identity.user_id == user_id))
                       .order_by(Identity.id)],
        "shares": [{"id": s.id, "template": s.template_id, "url": s.url, "card": s.card,
                    "created_at": _iso(s.created_at), "expires_at": _iso(s.expires_at),
                    "revoked_at": _iso(s.revoked_at)} for s in shares],
        "uploads": [{"id": u.id, "url": f"{public_base}/u/{stored_name(u)}", "width": u.width,
                     "height": u.height, "created_at": _iso(u.created_at)} for u in _uploads(app.id, user_id, shares)],
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "events": ['
    actors = [actor for actor, _ in actor_pairs(app.id, [user_id])]
    ids = [row[0] for row in _event_rows(app.id, actors, "e.id")]
    for number, chunk in enumerate(dialect.chunks(ids)):
        rows = database.execute_sql(
            "SELECT message_id, type, name, user_id, anonymous_id, timestamp, received_at, properties, context "
            f"FROM event WHERE id IN ({', '.join([database.param] * len(chunk))}) ORDER BY timestamp, id", chunk)
        yield ("," if number else "") + ",".join(_event_json(row) for row in rows)
    yield "]}"


def _event_rows(app_id: int, actors: list[str], columns: str) -> list[tuple[Any, ...]]:
    """``columns`` of every event of ``actors`` (a user's, see ``actor_pairs``), in time order."""
    condition, params = event_keys.by_actor("e", app_id, actors, 0, event_keys.OPEN_END)
    rows: list[tuple[Any, ...]] = database.execute_sql(
        f"SELECT {columns} FROM event e WHERE {condition} ORDER BY e.timestamp, e.id", params).fetchall()
    return rows


def _event_json(row: tuple[Any, ...]) -> str:
    message_id, kind, name, user, anonymous, timestamp, received_at, properties, context = row
    known = json.dumps({"message_id": message_id, "type": kind, "name": name, "user_id": user,
                          "anonymous_id": anonymous, "timestamp": _iso(timestamp),
                          "received_at": _iso(received_at)}, ensure_ascii=False)
    # Properties and context are stored as the JSON text the client sent: spliced in as they are.
    return f'{known[:-1]}, "properties": {properties or "null"}, "context": {context or "null"}}}'


def _iso(ms: float | None) -> str | None:
    return None if ms is None else http.iso_time(ms, "milliseconds")


def erase_user(app_id: int, user_id: str) -> dict[str, int]:
    """Erase ``user_id`` of app ``app_id``; how many of each thing went."""
    actors = [actor for actor, _ in actor_pairs(app_id, [user_id])]
    with event_keys.writes_paused(), write_transaction():
        rows = _event_rows(app_id, actors, "e.id, e.name, e.timestamp")
        ids = [row[0] for row in rows]
        for chunk in dialect.chunks(ids):
            database.execute_sql(TOMBSTONE.format(ids=", ".join([database.param] * len(chunk))), chunk)
        event_keys.forget(app_id, actors, rows)
        shares = list(Share.select().where((Share.app == app_id) & (Share.user_id == user_id)))
        uploads = _uploads(app_id, user_id, shares)
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
            "churn_scores": ChurnScore.delete().where((ChurnScore.app_id == app_id)
                                                      & (ChurnScore.user_id == user_id)).execute(),
            "audience_memberships": AudienceMember.delete().where((AudienceMember.app_id == app_id)
                                                                  & (AudienceMember.user_id == user_id)).execute(),
        }
    for share in shares:  # files only once the rows are gone for good
        images.forget(share.id)
    for upload in uploads:
        (upload_dir() / stored_name(upload)).unlink(missing_ok=True)
    return counts


def _uploads(app_id: int, user_id: str, shares: list[Share]) -> list[Upload]:
    """The pictures of the user: their own uploads and the app server's that show only them."""
    shown = _shown_uploads(app_id, user_id, shares)
    return list(Upload.select().where((Upload.app == app_id) & ((Upload.user_id == user_id) | Upload.id.in_(shown)))
                .order_by(Upload.created_at))


def _shown_uploads(app_id: int, user_id: str, shares: list[Share]) -> list[str]:
    """The app server's uploads that pictured the user: their photo (``traits.photo_url``) and
    those on their shares, unless another user's share or photo shows the same picture."""
    named = {share.upload_id for share in shares if share.upload_id}
    photo = _photo(Profile.get_or_none((Profile.app_id == app_id) & (Profile.user_id == user_id)))
    if photo is not None:
        named.add(photo.id)
    kept = {share.upload_id for share in Share.select(Share.upload).where(
        Share.upload.in_(named) & (Share.user_id != user_id))}
    for upload_id in named - kept:
        # Profiles whose traits mention the picture at all (a text match; Profile.traits.contains
        # would JSON-encode the pattern), then their photo.
        others = Profile.select().where((Profile.app_id == app_id) & (Profile.user_id != user_id)
                                        & SQL(f"traits LIKE {database.param}", [f"%{upload_id}%"]))
        if any(getattr(_photo(other), "id", None) == upload_id for other in others):
            kept.add(upload_id)
    return sorted(named - kept)


def _photo(profile: Profile | None) -> Upload | None:
    traits = profile.traits if profile is not None and isinstance(profile.traits, dict) else {}
    return upload_named_by(traits.get("photo_url"), profile.app_id) if traits and profile is not None else None


@bp.post("/v1/users/export")
def export() -> Response:
    caller = require_secret_key()
    args = http.load(UserRequest(), '{"user_id": "…"}', "request")
    app = App.get_by_id(caller.app_id)
    body = export_user(app, args["user_id"], public_base(required=False))
    response = Response(stream_with_context(body), mimetype="application/json")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/v1/users/erase")
def erase() -> Response:
    caller = require_secret_key()
    args = http.load(UserRequest(), '{"user_id": "…"}', "request")
    counts = erase_user(caller.app_id, args["user_id"])
    current_app.logger.info("erased a user of app %s: %s", caller.app_id, counts)
    return jsonify(erased=counts)


@users.command("export")
@click.argument("user_id")
@app_option
@click.option("--output", type=click.File("w", encoding="utf-8"), default="-", show_default=True,
              help="Where to write the JSON document.")
def export_command(user_id: str, app_name: str, output: TextIO) -> None:
    """Write everything Recap keeps about USER_ID as one JSON document."""
    app = find_app(app_name)
    base = current_app.config["PUBLIC_BASE_URL"] or ""
    for piece in export_user(app, user_id, base):
        output.write(piece)
    output.write("\n")


@users.command("erase")
@click.argument("user_id")
@app_option
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
