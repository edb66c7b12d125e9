"""An app's audiences in the database: every save a new version, the latest one computed (the
versions kept as triggers' are, store/versioned.py). A process caches parsed versions, which
never change."""
from __future__ import annotations

from typing import Any

from ..errors import NotFound
from ..store import versioned
from ..store.models import AudienceVersion, StoredAudience
from . import builtin
from .definition import Audience, parse

REQUEST_BODY = "<request body>"


def _key(app_id: int, audience_id: str) -> dict[str, Any]:
    return {"app_id": app_id, "audience_id": audience_id}


def save(app_id: int, audience_id: str, text: str, fmt: str = "toml", *, key_id: int | None = None,
         file: str = REQUEST_BODY) -> int:
    """Save ``text`` as the audience's next version; its number. Invalid → AudienceInvalid and
    nothing saved; a built-in audience's id → BuiltinAudience."""
    if audience_id in builtin.BUILTIN:
        raise builtin.BuiltinAudience(f"{audience_id!r} is built in: its members come from churn prediction.",
                                      details={"audience": audience_id})
    parse(audience_id, text, fmt, file)
    return versioned.save(StoredAudience, AudienceVersion, _key(app_id, audience_id), text, fmt, key_id)


def latest(app_id: int, audience_id: str) -> int | None:
    return versioned.latest(StoredAudience, _key(app_id, audience_id))


_parsed: versioned.Parsed[Audience] = versioned.Parsed()


def current(app_id: int, audience_id: str) -> Audience:
    """The audience's latest version, parsed (cached), or NotFound."""
    number = latest(app_id, audience_id)
    if number is None:
        raise unknown_audience(audience_id)
    return version(app_id, audience_id, number)


def version(app_id: int, audience_id: str, number: int) -> Audience:
    def load() -> Audience:
        row = _version_row(app_id, audience_id, number)
        parsed = parse(audience_id, row.source, row.format, f"app {app_id} audience {audience_id} version {number}")
        parsed.number = number
        return parsed
    return _parsed.get(app_id, audience_id, number, load)


def _version_row(app_id: int, audience_id: str, number: int) -> AudienceVersion:
    row: AudienceVersion | None = versioned.version_row(AudienceVersion, _key(app_id, audience_id), number)
    if row is None:
        raise NotFound(f"The audience {audience_id!r} has no version {number}.",
                       details={"audience": audience_id, "version": number})
    return row


def source(app_id: int, audience_id: str) -> dict[str, Any]:
    """The latest version's text as saved: id, version, format, source, created_at, key_id."""
    number = latest(app_id, audience_id)
    if number is None:
        raise unknown_audience(audience_id)
    row = _version_row(app_id, audience_id, number)
    return {"id": audience_id, "version": number, "format": row.format, "source": row.source,
            "created_at": row.created_at, "key_id": row.key_id}


def versions(app_id: int, audience_id: str) -> list[dict[str, Any]]:
    return versioned.listing(AudienceVersion, _key(app_id, audience_id))


def ids(app_id: int) -> list[str]:
    """The app's saved audiences' ids, sorted."""
    rows = StoredAudience.select(StoredAudience.audience_id).where(StoredAudience.app_id == app_id)
    return sorted(row.audience_id for row in rows)


def listing(app_id: int) -> list[dict[str, Any]]:
    """The app's audiences, saved and built in: id, latest (0 built in), builtin, description, updated_at."""
    out = [{"id": name, "latest": 0, "builtin": True, "updated_at": None,
            "description": f"Users whose churn score is at least {builtin.CHURN_THRESHOLD}."}
           for name in builtin.available(app_id)]
    for row in StoredAudience.select().where(StoredAudience.app_id == app_id).order_by(StoredAudience.audience_id):
        audience = version(app_id, row.audience_id, row.latest)
        out.append({"id": row.audience_id, "latest": row.latest, "builtin": False, "updated_at": row.updated_at,
                    "description": audience.spec.get("description", "")})
    return out


def exists(app_id: int, audience_id: str) -> bool:
    return audience_id in builtin.available(app_id) or latest(app_id, audience_id) is not None


def unknown_audience(audience_id: object) -> NotFound:
    shown = str(audience_id)[:100]
    return NotFound(f"No audience named {shown!r}.", details={"audience": shown})
