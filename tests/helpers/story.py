"""Helpers for the story engine tests: sending events through the real ingest, and minting tokens."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers.server import basic, http

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def app_template(instance: str | Path, app_id: int, template_id: str, text: str) -> Path:
    """``text`` written as an app's own template, where the registry finds it
    (``<instance>/templates/<app id>/<template_id>.toml``); its path."""
    folder = Path(instance) / "templates" / str(app_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{template_id}.toml"
    path.write_text(text)
    return path


def card_title_lines(text: str) -> str:
    """A template's card title as its text holds it: the ``title`` line under ``[card]`` and the
    lines of its translations beside it (``title.en = …``, ``title.ja = …``), to replace as one."""
    found = re.compile(r"^title(\.[\w-]+)? = .*\n(title\.[\w-]+ = .*\n)*", re.M).search(text, text.index("\n[card]\n"))
    assert found, "no card title"
    return found.group(0).rstrip("\n")


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def ms(text: str) -> int:
    """'2026-03-01T23:30:00+00:00' (or naive = UTC) → epoch milliseconds."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def send(server, write_key: str, events: list[dict[str, Any]]) -> None:
    """POST events to /v1/batch in chunks; every one must be stored."""
    for start in range(0, len(events), 500):
        chunk = events[start:start + 500]
        reply = http("POST", server.url + "/v1/batch", json.dumps({"batch": chunk}).encode(),
                     {"Content-Type": "application/json", **basic(write_key)})
        assert reply.status == 200, reply.body
        assert reply.json()["rejected"] == [], reply.body


def track(user: str | None, name: str, at_ms: int, props: dict | None = None, *, zone: str = "UTC",
          anon: str | None = None, locale: str | None = None) -> dict[str, Any]:
    event = {"type": "track", "event": name, "timestamp": iso(at_ms), "properties": props or {},
             "context": {"timezone": zone, **({"locale": locale} if locale else {})}}
    if user is not None:
        event["userId"] = user
    if anon is not None:
        event["anonymousId"] = anon
    return event


def identify(user: str, traits: dict, at_ms: int, *, anon: str | None = None, zone: str = "UTC") -> dict:
    event = {"type": "identify", "userId": user, "traits": traits, "timestamp": iso(at_ms),
             "context": {"timezone": zone}}
    if anon:
        event["anonymousId"] = anon
    return event


def viewer_token(server, secret_key: str, user_id: str) -> str:
    reply = http("POST", server.url + "/v1/viewer-tokens", json.dumps({"user_id": user_id}).encode(),
                 {"Content-Type": "application/json", **basic(secret_key)})
    assert reply.status == 201, reply.body
    return reply.json()["token"]
