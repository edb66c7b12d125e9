"""Triggers' tests share: apps with a webhook secret, trigger definitions, the routes, and a
webhook receiver on 127.0.0.1 that records every delivery and answers as told."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Flask

from helpers.server import Tenant, basic, http, make_tenant


def cli(app: Flask, *args: str) -> Any:
    """A ``recap`` command run against ``app`` (its context pushed, as `recap` pushes it)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


@dataclass
class WebhookTenant(Tenant):
    webhook_secret: str = ""


def webhook_tenant(app: Flask, name: str = "Music") -> WebhookTenant:
    """An app as `recap apps create` leaves it, with the webhook secret `recap keys rotate
    --kind webhook` prints."""
    tenant = make_tenant(name)
    result = cli(app, "keys", "rotate", str(tenant.app_id), "--kind", "webhook")
    assert result.exit_code == 0, result.output
    secret = result.output.strip().removeprefix("webhook secret: ")
    return WebhookTenant(**vars(tenant), webhook_secret=secret)


def release_trigger(hook: str, **changes: Any) -> dict[str, Any]:
    """DESIGN.md's example: fans of the artist (top 10 over 90 days, or 20 plays) hear of a release."""
    return {
        "on": {"event": "Release Published", "where": {"kind": "album"}},
        "period": {"kind": "last_days", "days": 90},
        "metrics": {"top_artists": {"kind": "top", "event": "Song Played", "property": "artist", "n": 10}},
        "audience": "event.properties.artist in (top_artists | map(attribute='label') | list)",
        "message": {"title": "New from {{ event.properties.artist }}", "body": "Listen now."},
        "webhook": hook,
        "limits": {"per_user_per_day": 1},
        **changes,
    }


def put_trigger(server, key: str, trigger_id: str, body: dict | str,
                content_type: str = "application/json") -> Any:
    data = (json.dumps(body) if isinstance(body, dict) else body).encode()
    return http("PUT", f"{server.url}/v1/triggers/{trigger_id}", data, {"Content-Type": content_type, **basic(key)})
