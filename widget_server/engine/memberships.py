"""Who is in an app's audience, as eligibility rules (``audience = "lapsed"``) and triggers ask.

The audiences feature registers the answer (audiences/membership.py: the stored members, computed
again for the users asked about when the stored ones are missing or stale); the engine only
names the question, so it imports no feature package. Without a registered answer nobody is in
any audience.
"""
from __future__ import annotations

from collections.abc import Callable

Members = Callable[[int, str, list[str]], set[str]]
_answer: list[Members] = []


def register(members: Members) -> None:
    """The function answering ``members`` (the latest registered; registering again replaces it)."""
    _answer[:] = [members]


def members(app_id: int, audience_id: str, user_ids: list[str]) -> set[str]:
    """Those of ``user_ids`` in the app's audience ``audience_id``."""
    if not _answer or not user_ids:
        return set()
    return _answer[0](app_id, audience_id, user_ids)
