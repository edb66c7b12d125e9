"""What a notification must respect besides its audience: a cap per user per day (per trigger, and
over all of an app's triggers), and quiet hours in the user's own time zone, where a notification
due inside them waits until they end. Days and hours are the user's local ones, from the
``utc_offset`` ingest keeps for their zone (store/zones.py)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..engine.periods import DAY_MS

MINUTE_MS = 60_000


def local_day_start(at_ms: int, utc_offset: int) -> int:
    """The UTC instant (ms) at which the user's local day holding ``at_ms`` began."""
    shift = utc_offset * MINUTE_MS
    return (at_ms + shift) // DAY_MS * DAY_MS - shift


def _minutes(clock: str) -> int:
    hours, _, minutes = clock.partition(":")
    return int(hours) * 60 + int(minutes)


def quiet_until(at_ms: int, utc_offset: int, quiet_hours: list[str] | None) -> int | None:
    """When the quiet hours holding ``at_ms`` end for the user (ms), or None outside them.
    ``["22:00", "09:00"]`` spans midnight; ``["13:00", "14:00"]`` does not."""
    if not quiet_hours:
        return None
    start, end = _minutes(quiet_hours[0]), _minutes(quiet_hours[1])
    local = at_ms + utc_offset * MINUTE_MS
    now = local // MINUTE_MS % 1440
    inside = start <= now < end if start < end else (now >= start or now < end)
    if start == end or not inside:
        return None
    return at_ms - local % MINUTE_MS + (end - now) % 1440 * MINUTE_MS


class Caps:
    """How many notifications each user already has today, from the deliveries of the last two
    days (``recent``: user, trigger, created_at), counted per trigger and in all."""

    def __init__(self, recent: Iterable[tuple[str, str, int]], offsets: dict[str, int], now_ms: int):
        self.per_trigger: Counter[tuple[str, str]] = Counter()
        self.overall: Counter[str] = Counter()
        for user_id, trigger_id, created_at in recent:
            if created_at >= local_day_start(now_ms, offsets.get(user_id, 0)):
                self.add(user_id, trigger_id)

    def add(self, user_id: str, trigger_id: str) -> None:
        self.per_trigger[(user_id, trigger_id)] += 1
        self.overall[user_id] += 1

    def allows(self, user_id: str, trigger_id: str, per_trigger: int, overall: int) -> bool:
        return self.per_trigger[(user_id, trigger_id)] < per_trigger and self.overall[user_id] < overall
