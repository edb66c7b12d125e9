"""Who a user is in the event store: their own actor plus the earlier ids Identity joins to them."""
from __future__ import annotations

from ..db import database
from ..models import Identity, Profile


def actor_pairs(app_id: int, user_ids: list[str]) -> list[tuple[str, str]]:
    """(actor, user id) for every actor whose events count for each user."""
    pairs = [(f"u:{uid}", uid) for uid in user_ids]
    for start in range(0, len(user_ids), 900):  # stay under SQLite's parameter limit
        chunk = user_ids[start:start + 900]
        rows = (Identity.select(Identity.actor, Identity.user_id)
                .where((Identity.app_id == app_id) & Identity.user_id.in_(chunk)).tuples())
        pairs.extend((actor, uid) for actor, uid in rows if actor != f"u:{uid}")
    return pairs


def user_ids(app_id: int) -> list[str]:
    """Every identified user of the app, in a stable order."""
    return [uid for (uid,) in database.execute_sql(
        f"SELECT user_id FROM profile WHERE app_id = {database.param} ORDER BY user_id", [app_id])]


def profile(app_id: int, user_id: str) -> Profile | None:
    return Profile.get_or_none((Profile.app_id == app_id) & (Profile.user_id == user_id))
