"""Storing accepted events: clock-skew correction, identity joins and profiles, in one transaction.

This is the ingest hot path. Rows are built outside any lock (``prepare``), then written inside
a group commit shared with the other requests of the moment (``group_commit``). On SQLite, one
``executemany`` per request and table: repeats are found before inserting (``dedupe``) and the
events' keys are indexed behind ingest (``event_keys``). On PostgreSQL, a few round trips per
request, in one lock order (``store.postgres_writes``). Profiles are upserted once per user per
request.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from ..http import NESTED_TOO_DEEPLY
from ..store import dialect, event_keys, postgres_writes
from ..store.db import database
from ..store.dialect import Row
from ..store.sqlite_files import lock_path
from ..store.zones import utc_offset
from . import dedupe
from .group_commit import GroupCommitter
from .schema import MAX_YEAR, MIN_YEAR, EventIn, context_place, json_object, json_text, parse_time

_encode = msgspec.json.encode
_committer: GroupCommitter[Writes] = GroupCommitter()

EVENT_COLUMNS = ("app_id", "message_id", "type", "name", "user_id", "anonymous_id", "actor",
                 "timestamp", "utc_offset", "received_at", "properties", "context")
_APP, _MESSAGE = EVENT_COLUMNS.index("app_id"), EVENT_COLUMNS.index("message_id")
# SQLite has no unique index to conflict with: the keys are looked up first (dedupe).
SQLITE_INSERT = f"INSERT INTO event ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
# The years event_schema accepts, in UTC milliseconds: a time corrected by sentAt must stay inside.
MIN_MS = int(datetime(MIN_YEAR, 1, 1, tzinfo=UTC).timestamp() * 1000)
MAX_MS = int(datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC).timestamp() * 1000)


class Unstorable(ValueError):
    """Events that passed the schema but cannot be stored as sent (the HTTP layer answers 422)."""

    def __init__(self, message: str, details: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.message, self.details = message, details


def to_ms(value: str) -> int:
    moment = parse_time(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@dataclass
class Alias:
    """An alias sent with a public credential: written only if its previousId has no history."""

    position: int  # in the request's events
    row: int  # in Writes.rows
    app_id: int
    previous: str
    user_id: str
    identities: list[Row]  # what it joins, if it is written
    profile: Row  # its touch of the user's profile (first/last seen), if it is written


@dataclass
class Writes:
    """What one request will write: event rows, identity joins and profile upserts."""

    rows: list[Row] = field(default_factory=list)
    identities: list[Row] = field(default_factory=list)
    profiles: list[Row] = field(default_factory=list)
    lookup: dedupe.Lookup | None = None  # SQLite: the rows' keys, looked up before the lock
    aliases: list[Alias] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)  # positions of the aliases refused under the lock


@dataclass
class Stored:
    stored: int
    duplicates: int
    refused: list[int]  # positions in the request's events of aliases that would merge known users


def store_events(app_id: int, app_timezone: str, events: list[EventIn], received_at: int,
                 sent_at: int | None, may_merge_users: bool = False) -> Stored:
    """Insert ``events``; ``may_merge_users`` (the secret key) lets an alias join a known user."""
    writes = prepare(app_id, app_timezone, events, received_at, sent_at, may_merge_users)
    path = dialect.sqlite_path()
    if path is None:  # PostgreSQL's unique index drops repeats, its ordinary indexes keep the keys
        stored = _committer.submit(writes, _write_group, None)
    else:
        writes.lookup = dedupe.look_up(path, [(r[_APP], r[_MESSAGE]) for r in writes.rows])
        stored = _committer.submit(writes, _write_group, lock_path(path))
        event_keys.indexer.ensure_running(path)
    return Stored(stored, len(writes.rows) - len(writes.refused) - stored, writes.refused)


def _write_group(group: list[Writes]) -> list[int]:
    """Several requests' writes in one transaction (see group_commit)."""
    path = dialect.sqlite_path()
    if path is None:  # a transaction PostgreSQL rolls back to break a deadlock is run again
        return postgres_writes.retrying(lambda: _write_transaction(group))
    try:
        return _write_transaction(group, path)
    except BaseException:
        dedupe.tail_keys.reset()  # it may hold keys of rows that are now rolled back
        raise


def _write_transaction(group: list[Writes], path: str | None = None) -> list[int]:
    with dialect.writer_transaction() as cursor:
        return [write(cursor, writes, path) for writes in group]


def prepare(app_id: int, app_timezone: str, events: list[EventIn], received_at: int,
            sent_at: int | None, may_merge_users: bool = False) -> Writes:
    """Turn validated events into rows, outside any transaction. Without ``may_merge_users``
    aliases are kept apart, to be decided under the write lock (``_decide_aliases``)."""
    rows: list[Row] = []
    identities: dict[str, str] = {}
    profiles: dict[str, list[Any]] = {}  # user_id -> [first, last, traits, timezone, locale]
    aliases: list[Alias] = []
    for position, ev in enumerate(events):
        ts = to_ms(ev.timestamp) if ev.timestamp else received_at
        if sent_at is not None and ev.timestamp:
            # The client's clock may be off: trust the gap it measured, not its wall clock.
            ts = received_at - (sent_at - ts)
            if not MIN_MS <= ts < MAX_MS:
                message = (f"So far from the events' timestamps that their corrected times fall outside "
                           f"the years {MIN_YEAR} to {MAX_YEAR}.")
                raise Unstorable(f"sentAt: {message}", {"sentAt": [message]})
        event_zone, event_locale = context_place(ev.context)
        zone = event_zone or app_timezone
        user_id = None if ev.userId is None else str(ev.userId)
        anonymous_id = None if ev.anonymousId is None else str(ev.anonymousId)
        traits = json_text(ev.traits) if ev.type in ("identify", "group") else None
        payload = traits if traits is not None else json_text(ev.properties)
        name = ev.event if ev.type == "track" else (ev.name or (str(ev.groupId) if ev.groupId is not None else None))
        rows.append((app_id, ev.messageId or uuid.uuid4().hex, ev.type, name, user_id, anonymous_id,
                     f"u:{user_id}" if user_id is not None else f"a:{anonymous_id}",
                     ts, utc_offset(zone, ts), received_at, payload, json_text(ev.context)))
        if ev.type == "alias" and not may_merge_users and user_id is not None:
            # Decided under the write lock (write), where no other request can give it history.
            previous = str(ev.previousId)
            joins = [(app_id, f"a:{a}", user_id, received_at) for a in (anonymous_id, previous) if a is not None]
            if previous != user_id:
                joins.append((app_id, f"u:{previous}", user_id, received_at))
            aliases.append(Alias(position, len(rows) - 1, app_id, previous, user_id, joins,
                                 (app_id, user_id, "{}", event_zone, ts, ts, event_locale)))
            continue
        if user_id is not None:
            if anonymous_id is not None:
                identities.setdefault(f"a:{anonymous_id}", user_id)
            if ev.type == "alias" and ev.previousId is not None:
                previous = str(ev.previousId)
                identities.setdefault(f"a:{previous}", user_id)
                if previous != user_id:
                    identities.setdefault(f"u:{previous}", user_id)
            profile = profiles.get(user_id)
            if profile is None:
                profile = profiles[user_id] = [ts, ts, {}, None, None]
            else:
                profile[0] = min(profile[0], ts)
                profile[1] = max(profile[1], ts)
            if ev.type == "identify" and traits is not None:
                try:
                    profile[2].update(json_object(ev.traits))
                except RecursionError:  # the body passed its check a few stack frames higher up
                    raise Unstorable(NESTED_TOO_DEEPLY, {"traits": [NESTED_TOO_DEEPLY]}) from None
            if event_zone is not None:
                profile[3] = event_zone
            if event_locale is not None:
                profile[4] = event_locale

    return Writes(
        rows,
        [(app_id, actor, user, received_at) for actor, user in identities.items()],
        [(app_id, user, _encode(traits).decode(), tz, first, last, locale)
         for user, (first, last, traits, tz, locale) in profiles.items()],
        aliases=aliases)


def write(cursor: Any, writes: Writes, sqlite_path: str | None = None) -> int:
    """Run ``writes`` inside the caller's transaction; return how many events were new.

    On SQLite the caller holds the write lock and ``sqlite_path`` names the file: repeats are
    found before inserting (dedupe). PostgreSQL's unique index drops them itself.
    """
    rows, lookup, identities, profiles = writes.rows, writes.lookup, writes.identities, writes.profiles
    if writes.aliases:
        rows, lookup, identities, profiles = _decide_aliases(cursor, writes)
    if sqlite_path is None:
        return postgres_writes.write(cursor, EVENT_COLUMNS, rows, identities, profiles)
    assert lookup is not None  # store_events looks a SQLite request's keys up before the lock
    stored = dedupe.tail_keys.insert_new(cursor, sqlite_path, SQLITE_INSERT, rows, lookup)
    if identities:
        cursor.executemany(dialect.insert_identity_sql(), identities)
    if profiles:
        cursor.executemany(dialect.upsert_profile_sql(), profiles)
    return stored


def _decide_aliases(cursor: Any, writes: Writes) -> tuple[list[Row], dedupe.Lookup | None, list[Row], list[Row]]:
    """Identity is not a public key's to give away (DESIGN.md): an alias sent with one joins its
    previousId only if no profile has it, i.e. it names an anonymous id or a user with no history
    yet. Otherwise the alias is refused and nothing of it is written (``writes.refused``).
    Runs in the write transaction, so a profile another request just committed counts."""
    known = _known_users(cursor, writes.aliases)
    writes.refused = [a.position for a in writes.aliases if a.previous != a.user_id and (a.app_id, a.previous) in known]
    refused_rows = {a.row for a in writes.aliases if a.position in writes.refused}
    accepted = [a for a in writes.aliases if a.row not in refused_rows]
    rows = [row for i, row in enumerate(writes.rows) if i not in refused_rows]
    lookup = writes.lookup
    if lookup is not None and refused_rows:
        kept = [i for i in range(len(writes.rows)) if i not in refused_rows]
        lookup = dedupe.Lookup([lookup.parts[i] for i in kept], [lookup.keys[i] for i in kept],
                                       lookup.stored, lookup.watermark)
    return (rows, lookup, writes.identities + [j for a in accepted for j in a.identities],
            _touched(writes.profiles, [a.profile for a in accepted]))


def _touched(profiles: list[Row], touches: list[Row]) -> list[Row]:
    """The request's profile rows with its accepted aliases' touches folded in: one row per user,
    as a multi-row upsert needs (PostgreSQL's may not touch a row twice). A touch carries no
    traits; its time zone and locale win when it has them, as a later upsert of its own would."""
    rows = {(row[0], row[1]): row for row in profiles}
    for app_id, user_id, traits, zone, first, last, locale in touches:
        had = rows.get((app_id, user_id))
        rows[app_id, user_id] = (app_id, user_id, traits, zone, first, last, locale) if had is None else (
            app_id, user_id, had[2], had[3] if zone is None else zone, min(first, had[4]), max(last, had[5]),
            had[6] if locale is None else locale)
    return list(rows.values())


def _known_users(cursor: Any, aliases: list[Alias]) -> set[tuple[int, str]]:
    """The (app, previousId) pairs among ``aliases`` that name a user with a profile."""
    p = database.param
    pairs = sorted({(a.app_id, a.previous) for a in aliases})
    found: set[tuple[int, str]] = set()
    for app_id, previous in pairs:  # aliases are rare: one indexed lookup each
        cursor.execute(f"SELECT 1 FROM profile WHERE app_id = {p} AND user_id = {p}", (app_id, previous))
        if cursor.fetchone():
            found.add((app_id, previous))
    return found
