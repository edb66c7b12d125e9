"""The loop closes (issue 21): a notification's story link opens the player, which reports
notification_opened, and its story's events, with the delivery id; the trigger's funnel and the
story dashboard show sent → delivered → opened → story completed → shared."""
from __future__ import annotations

import pytest

from helpers.player import wait_rows
from helpers.server import basic, http
from helpers.story import send
from helpers.triggers import delivering, put_trigger, release, release_trigger, settle
from helpers.waiting import wait_until

pytestmark = pytest.mark.browser

OPENED_SQL = ("SELECT name, user_id, json_extract(properties, '$.delivery') FROM event "
              "WHERE app_id = ? AND name IN ('notification_opened', 'story_completed') ORDER BY id")


def test_opening_the_story_link_is_counted_in_the_triggers_funnel(app, live_server, music, phone, query):
    with delivering(app, live_server, music) as (tenant, receiver):
        everyone = release_trigger(receiver.url, story="player-quick", metrics={})
        del everyone["audience"]
        assert put_trigger(live_server, tenant.secret_key, "new-release", everyone).status == 201
        send(live_server, tenant.secret_key, [release("Björk")])
        wait_until(lambda: receiver.received, 60, "ana's webhook")
        settle(app)
        (payload,) = receiver.payloads()
        assert payload["user_id"] == "ana"

        phone.goto(payload["story_url"])
        phone.wait_for_selector(".recap-player[data-state='ended']", timeout=15_000)
        assert "delivery" not in phone.url and "token" not in phone.url
        rows = wait_rows(query, OPENED_SQL, tenant.app_id, count=2)
        assert rows == [("notification_opened", "ana", payload["id"]), ("story_completed", "ana", payload["id"])]

        # Opened again (a reload, another tab): still one opening of that delivery.
        phone.goto(payload["story_url"])
        phone.wait_for_selector(".recap-player[data-state='ended']", timeout=15_000)
        wait_rows(query, OPENED_SQL, tenant.app_id, count=4)
        funnel = http("GET", f"{live_server.url}/v1/triggers/new-release/funnel", None,
                      basic(tenant.secret_key)).json()
        assert {k: funnel[k] for k in ("sent", "delivered", "opened", "completed", "shared")} == {
            "sent": 1, "delivered": 1, "opened": 1, "completed": 1, "shared": 0}
        page = http("GET", f"{live_server.url}/dashboard/stories/player-quick", None, basic(tenant.secret_key))
        assert page.status == 200
        assert b"<th scope=\"row\">new-release</th><td>1</td><td>1</td><td>1</td>" in page.body.replace(b"\n", b"")
