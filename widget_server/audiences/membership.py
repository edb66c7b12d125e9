"""Who is in an audience: the stored members, paged by user id, and the counts over time; and
the answer eligibility rules and triggers get (engine/memberships.py), which computes the
audience again for the users asked about when the stored members are missing or stale."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from ..config import signing_keys
from ..errors import ValidationFailed
from ..store.models import AudienceCount, AudienceMember, now_ms
from . import builtin, refresh, store

STALE_MS = 2 * 3600 * 1000  # twice the hourly refresh: members older than this are computed again
PAGE_SIZE = 500
MAX_PAGE_SIZE = 1000
COUNTS_SHOWN = 100  # the latest refreshes GET /v1/audiences/<id> lists
CURSOR_SALT = "recap.audience-cursor"


def last_count(app_id: int, audience_id: str) -> AudienceCount | None:
    row: AudienceCount | None = (AudienceCount.select()
                                 .where((AudienceCount.app_id == app_id) & (AudienceCount.audience_id == audience_id))
                                 .order_by(AudienceCount.computed_at.desc(), AudienceCount.id.desc()).first())
    return row


def fresh(count: AudienceCount | None, version: int) -> bool:
    """Whether the stored members answer for the audience as it is now: refreshed within STALE_MS,
    from its latest version."""
    return count is not None and count.computed_at >= now_ms() - STALE_MS and count.version == version


def members(app_id: int, audience_id: str, user_ids: list[str]) -> set[str]:
    """Those of ``user_ids`` in the audience: stored when fresh, else computed for them now."""
    if audience_id in builtin.BUILTIN:
        return builtin.churners(app_id, user_ids) if builtin.available(app_id) else set()
    number = store.latest(app_id, audience_id)
    if number is None:
        return set()  # an audience the app does not have: nobody is in it
    if fresh(last_count(app_id, audience_id), number):
        rows = AudienceMember.select(AudienceMember.user_id).where(
            (AudienceMember.app_id == app_id) & (AudienceMember.audience_id == audience_id)
            & AudienceMember.user_id.in_(user_ids))
        return {row.user_id for row in rows}
    audience = store.version(app_id, audience_id, number)
    now = datetime.now(UTC)
    found: set[str] = set()
    for i in range(0, len(user_ids), refresh.CHUNK):
        found |= refresh.compute(app_id, audience, user_ids[i:i + refresh.CHUNK], now)
    return found


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(signing_keys(current_app), salt=CURSOR_SALT)


def _after(app_id: int, audience_id: str, cursor: str | None) -> str | None:
    """The user id a cursor continues after (None: from the start); a cursor not ours, or another
    audience's, is refused."""
    if cursor is None:
        return None
    try:
        found = _serializer().loads(cursor)
    except BadSignature:
        found = None
    if not (isinstance(found, list) and len(found) == 3 and found[:2] == [app_id, audience_id]
            and isinstance(found[2], str)):
        raise ValidationFailed("The cursor is not one this audience's members gave.",
                               details={"cursor": ["Not a cursor of this audience; start without one."]})
    return found[2]


def page(app_id: int, audience_id: str, cursor: str | None, limit: int = PAGE_SIZE) -> dict[str, Any]:
    """One page of the stored members by user id: ``{"users", "next", "computed_at"}``."""
    after = _after(app_id, audience_id, cursor)
    where = (AudienceMember.app_id == app_id) & (AudienceMember.audience_id == audience_id)
    if after is not None:
        where &= AudienceMember.user_id > after
    users = [row.user_id for row in AudienceMember.select(AudienceMember.user_id).where(where)
             .order_by(AudienceMember.user_id).limit(limit + 1)]
    more = len(users) > limit
    users = users[:limit]
    count = last_count(app_id, audience_id)
    return {"users": users, "next": _serializer().dumps([app_id, audience_id, users[-1]]) if more else None,
            "computed_at": count.computed_at if count else None}


def stored(app_id: int, audience_id: str) -> Iterator[str]:
    """Every stored member's user id, in order (read as it goes)."""
    rows = (AudienceMember.select(AudienceMember.user_id)
            .where((AudienceMember.app_id == app_id) & (AudienceMember.audience_id == audience_id))
            .order_by(AudienceMember.user_id))
    for row in rows.iterator():
        yield row.user_id


def counts(app_id: int, audience_id: str) -> list[dict[str, Any]]:
    """The latest refreshes, oldest first: computed_at, members, users, version."""
    rows = list(AudienceCount.select()
                .where((AudienceCount.app_id == app_id) & (AudienceCount.audience_id == audience_id))
                .order_by(AudienceCount.computed_at.desc(), AudienceCount.id.desc()).limit(COUNTS_SHOWN))
    return [{"computed_at": r.computed_at, "members": r.members, "users": r.users, "version": r.version}
            for r in reversed(rows)]
