"""Audiences' tests share: the lapsed audience, listening histories whose lapsed users are
counted here independently, the routes, a walk over every page of members, and the music story
admitting only an audience."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import story_templates
from helpers.server import basic, http
from helpers.story import identify, track

LAPSED = """
description = "No Song Played in the last 30 days, and at least 100 plays before"
when = "plays >= 100 and last_play.date <= days_ago(30)"

[period]
kind = "last_days"
days = 365

[metrics.plays]
kind = "count"
event = "Song Played"

[metrics.last_play]
kind = "last"
event = "Song Played"
"""
USERS = 48


def day_at_noon(days_ago: int) -> int:
    """Noon UTC ``days_ago`` days before today (UTC): a day far from any midnight."""
    day = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)
    return int(day.timestamp() * 1000)


def listening_history() -> tuple[list[dict], set[str]]:
    """Plays for USERS users around both edges (95–105 plays, the last one 28–32 or 1–300 days
    ago), and the lapsed among them as this test counts them: ≥ 100 plays in the last 365 days,
    the last of them 30 or more days ago (UTC days: every user here is in UTC)."""
    events, lapsed = [], set()
    for u in range(USERS):
        user = f"user-{u:03d}"
        plays = 95 + u % 11
        last = [28, 29, 30, 31, 32, 1, 60, 300][u % 8]  # 300: some plays older than the period
        days = [last + i % 90 for i in range(plays)]
        events += [track(user, "Song Played", day_at_noon(d) - i * 1000, {"artist": "Nova"})
                   for i, d in enumerate(days)]
        events.append(identify(user, {"name": f"Listener {u}"}, day_at_noon(300)))
        counted = [d for d in days if d < 365]
        if len(counted) >= 100 and min(counted) >= 30:
            lapsed.add(user)
    return events, lapsed


def put(server, key: str, audience_id: str, body: str | dict, content_type: str = "application/toml"):
    data = (json.dumps(body) if isinstance(body, dict) else body).encode()
    return http("PUT", f"{server.url}/v1/audiences/{audience_id}", data, {"Content-Type": content_type, **basic(key)})


def get(server, key: str, path: str):
    return http("GET", server.url + path, None, basic(key))


def walk(server, key: str, audience_id: str, limit: int) -> list[str]:
    """Every page of the members, following ``next``."""
    seen, query = [], f"?limit={limit}"
    while True:
        page = get(server, key, f"/v1/audiences/{audience_id}/members{query}")
        assert page.status == 200, page.body
        body = page.json()
        assert len(body["users"]) <= limit
        seen += body["users"]
        if body["next"] is None:
            return seen
        query = f"?limit={limit}&cursor={body['next']}"


def story_template(audience: str = "lapsed") -> str:
    """The shipped music story, its eligibility one rule: the ``audience``."""
    source = (Path(story_templates.__file__).parent / "year_in_music.toml").read_text()
    rules = re.compile(r"\[\[eligibility\]\]\n(?:[a-z]+ = .*\n)+\n")
    assert len(rules.findall(source)) == 2
    kept = rules.sub("", source)
    return kept + f'\n[[eligibility]]\naudience = "{audience}"\nmessage = "Only for listeners we miss."\n'
