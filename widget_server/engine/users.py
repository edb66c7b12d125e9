"""Who a user is in the event store: their own actor plus the earlier ids Identity joins to them.

Joins chain: a device's anonymous id joined to ``temp`` at login, then ``temp`` aliased into
``final``, makes the device's events ``final``'s. A user aliased into another is *merged*: its
history, its own actor included, belongs to the user at the end of the chain, so every actor counts
for exactly one user.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..store import dialect
from ..store.db import database
from ..store.models import App, Profile
from ..store.zones import utc_offset
from .templates import StoryTemplate

# Longest chain of joins followed; deeper (or cyclic) chains are cut there.
MAX_DEPTH = 16


def actor_pairs(app_id: int, user_ids: list[str]) -> list[tuple[str, str]]:
    """(actor, user id) for every actor whose events count for each user; none for a merged user."""
    p = database.param
    gone = merged(app_id, user_ids)
    owners = [uid for uid in user_ids if uid not in gone]
    pairs = [(f"u:{uid}", uid) for uid in owners]
    for chunk in dialect.chunks(owners):
        # Down the chain: the actors joined to the user, and those joined to each user id among them.
        # The walk stops at the user's own actor, which closes an alias cycle.
        rows = database.execute_sql(
            "WITH RECURSIVE owned(actor, uid, depth) AS ("
            f"SELECT actor, user_id, 1 FROM identity WHERE app_id = {p} "
            f"AND user_id IN ({', '.join([p] * len(chunk))}) "
            "UNION SELECT i.actor, o.uid, o.depth + 1 FROM owned o JOIN identity i "
            f"ON i.app_id = {p} AND i.user_id = SUBSTR(o.actor, 3) "
            f"WHERE SUBSTR(o.actor, 1, 2) = 'u:' AND o.actor <> 'u:' || o.uid AND o.depth < {MAX_DEPTH}) "
            "SELECT DISTINCT actor, uid FROM owned", [app_id, *chunk, app_id])
        pairs.extend((actor, uid) for actor, uid in rows if actor != f"u:{uid}")
    return pairs


def merged(app_id: int, user_ids: list[str] | None = None) -> set[str]:
    """The ids among ``user_ids`` (every id when None) that an alias merged into another user.

    In an alias cycle (``a`` into ``b``, later ``b`` into ``a``) the smallest id keeps the history.
    """
    p = database.param
    seeds: list[tuple[str, list[Any]]] = [("", [])] if user_ids is None else [
        (f"AND actor IN ({', '.join([p] * len(chunk))})", [f"u:{uid}" for uid in chunk])
        for chunk in dialect.chunks(user_ids)]
    chains: dict[str, set[str]] = {}
    for condition, params in seeds:
        # Up the chain from each aliased id: the users it was merged into, in turn.
        rows = database.execute_sql(
            "WITH RECURSIVE up(start, node, depth) AS ("
            f"SELECT SUBSTR(actor, 3), user_id, 1 FROM identity WHERE app_id = {p} "
            f"AND SUBSTR(actor, 1, 2) = 'u:' {condition} "
            "UNION SELECT u.start, i.user_id, u.depth + 1 FROM up u JOIN identity i "
            f"ON i.app_id = {p} AND i.actor = 'u:' || u.node "
            f"WHERE u.node <> u.start AND u.depth < {MAX_DEPTH}) "
            "SELECT start, node FROM up", [app_id, *params, app_id])
        for start, node in rows:
            chains.setdefault(start, set()).add(node)
    return {uid for uid, into in chains.items() if uid not in into or uid > min(into)}


def user_ids(app_id: int) -> list[str]:
    """Every identified user of the app that is not merged into another, in a stable order."""
    gone = merged(app_id)
    return [uid for (uid,) in database.execute_sql(
        f"SELECT user_id FROM profile WHERE app_id = {database.param} ORDER BY user_id", [app_id])
        if uid not in gone]


def profiles_of(app_id: int, user_ids: list[str]) -> dict[str, Profile]:
    """The profiles of those of ``user_ids`` who have one (erased users have none), by user id."""
    return {p.user_id: p for p in Profile.select().where((Profile.app_id == app_id) & Profile.user_id.in_(user_ids))}


def utc_offsets(template: StoryTemplate, app: App, profiles: Mapping[str, Profile], user_ids: list[str],
                now: datetime) -> dict[str, int]:
    """Each user's UTC offset in minutes at ``now``, which makes their "today": in the zone ingest
    records their events in (the last ``context.timezone`` they sent, kept on their profile among
    ``profiles``, which the caller has read), else the app's; or 0 for a template that counts in UTC."""
    if template.spec.get("timezone", "user") != "user":
        return dict.fromkeys(user_ids, 0)
    at = int(now.timestamp() * 1000)
    zones = {uid: profile.timezone for uid, profile in profiles.items()}
    return {uid: utc_offset(zones.get(uid) or app.timezone, at) for uid in user_ids}
