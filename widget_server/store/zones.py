"""Minutes east of UTC for a time zone at an instant: what each event stores as ``utc_offset``
(docs/ARCHITECTURE.md, Data decisions). Ingest writes it; the engine reads users' offsets now."""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=65536)
def _offset_minutes(zone_name: str, hour: int) -> int:
    """Offset of ``zone_name`` during the UTC hour ``hour``; DST changes fall on hour edges."""
    zone = _zone(zone_name)
    if zone is None:
        return 0
    offset = datetime.fromtimestamp(hour * 3600, zone).utcoffset()
    assert offset is not None  # the datetime is aware: ZoneInfo always gives its offset
    return int(offset.total_seconds() // 60)


def utc_offset(zone_name: str, ts_ms: int) -> int:
    return _offset_minutes(zone_name, ts_ms // 3_600_000)


