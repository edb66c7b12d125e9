"""How many shares one end user may make: a rate per user, and a cap per user and template.

A viewer token is in the end user's hands, and every share costs a story assembly, a row and
up to ~200 KB of rendered images. Two bounds, both counted from the ``share`` table, so they
hold across processes and restarts:

* ``SHARE_RATE_LIMIT`` shares per ``SHARE_RATE_WINDOW`` seconds per user, over all templates,
  revoked ones included (creating and revoking in a loop is still creating);
* ``SHARE_MAX_LIVE`` live (neither revoked nor expired) shares per user and template, over all
  of the template's periods: revoking one frees its place, and its images leave the cache.

Past either: 429 with ``Retry-After``, the seconds until the oldest counted share stops
counting. Asking again for a card already shared answers that share (shares.create) and
counts against neither bound; the rate is checked before the story is assembled. Within a
process a user's shares are made one at a time (``user_lock``), so a burst of taps cannot slip
past a bound; separate processes may each let one more through.
"""
from __future__ import annotations

import math
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app
from peewee import Expression

from ..auth import Caller
from ..errors import TooManyRequests
from ..store.models import Share

_LOCKS = [threading.Lock() for _ in range(64)]


@contextmanager
def user_lock(caller: Caller) -> Iterator[None]:
    """One share at a time per user in this process (locks are striped over users)."""
    key = f"{caller.app_id}:{caller.user_id}".encode()
    with _LOCKS[zlib.crc32(key) % len(_LOCKS)]:
        yield


def _seconds_until(ms: int, now: int) -> int:
    return max(1, math.ceil((ms - now) / 1000))


def _mine(caller: Caller) -> Expression:
    return (Share.app == caller.app_id) & (Share.user_id == caller.user_id)


def check_rate(caller: Caller, now: int) -> None:
    """Refuse (429) another share by ``caller`` within the rate window when it is used up."""
    config = current_app.config
    mine = _mine(caller)
    limit, window = config["SHARE_RATE_LIMIT"], config["SHARE_RATE_WINDOW"] * 1000
    recent = [row.created_at for row in Share.select(Share.created_at)
              .where(mine & (Share.created_at > now - window)).order_by(Share.created_at).limit(limit)]
    if len(recent) >= limit:
        wait = _seconds_until(recent[0] + window, now)
        raise TooManyRequests(
            f"At most {limit} shares every {window // 1000} seconds; retry in {wait} s.",
            details={"shares": [f"At most {limit} per {window // 1000} s per user."],
                     "limit": limit, "window_seconds": window // 1000}, retry_after=wait)


def check_live(caller: Caller, template_id: str, now: int) -> None:
    """Refuse (429) a new share of ``template_id`` by ``caller`` who has the most live ones."""
    cap, mine = current_app.config["SHARE_MAX_LIVE"], _mine(caller)
    live = [row.expires_at for row in Share.select(Share.expires_at)
            .where(mine & (Share.template_id == template_id) & Share.revoked_at.is_null() & (Share.expires_at > now))
            .order_by(Share.expires_at).limit(cap)]
    if len(live) >= cap:
        wait = _seconds_until(live[0], now)
        raise TooManyRequests(
            f"You already have {cap} live shares of this story; revoke one (DELETE /v1/shares/<id>) to share again.",
            details={"template": [f"At most {cap} live shares per user and template."], "limit": cap},
            retry_after=wait)
