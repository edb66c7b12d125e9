"""What notifications respect (issue 21): a cap per user per day, per trigger and in all; quiet
hours in the user's own time zone, deferring to their end; opted-out and erased users never
notified, even when they opt out after a delivery was made."""
from __future__ import annotations

import pytest

from helpers.server import basic
from helpers.share import post_json
from helpers.story import identify, send, track
from helpers.triggers import CLOCK, DAY, delivering, put_trigger, release, release_trigger, settle
from helpers.waiting import wait_until
from widget_server.jobs.queue import queue_of
from widget_server.store.db import database
from widget_server.store.models import Delivery
from widget_server.triggers import respect

HOUR = 3_600_000


@pytest.fixture
def setup(app, live_server):
    with delivering(app, live_server) as both:
        yield both


def fan(user: str, zone: str = "UTC") -> list[dict]:
    """A user whose top artist is Nova, in ``zone``."""
    return [track(user, "Song Played", CLOCK - (1 + i) * HOUR, {"artist": "Nova"}, zone=zone) for i in range(5)]


def statuses(app) -> dict[str, list[str]]:
    with app.app_context(), database.connection_context():
        found: dict[str, list[str]] = {}
        for row in Delivery.select().order_by(Delivery.created_at, Delivery.id):
            found.setdefault(row.user_id, []).append(row.status)
        return found


def test_one_notification_per_trigger_per_day_then_the_next_day_again(app, live_server, setup):
    tenant, receiver = setup
    clock = [CLOCK]
    app.config["TRIGGER_CLOCK"] = lambda: clock[0]
    send(live_server, tenant.write_key, fan("ana"))
    assert put_trigger(live_server, tenant.secret_key, "new-release", release_trigger(receiver.url)).status == 201
    send(live_server, tenant.secret_key, [release("Nova", message_id="album-1")])
    wait_until(lambda: len(receiver.received) == 1, 60, "the first release's webhook")
    clock[0] += 60_000
    send(live_server, tenant.secret_key, [release("Nova", message_id="album-2")])
    settle(app)
    assert statuses(app) == {"ana": ["delivered", "capped"]} and len(receiver.received) == 1
    clock[0] += DAY
    send(live_server, tenant.secret_key, [release("Nova", message_id="album-3")])
    wait_until(lambda: len(receiver.received) == 2, 60, "the next day's webhook")
    settle(app)  # a delivery is marked delivered once the receiver has answered it
    assert statuses(app) == {"ana": ["delivered", "capped", "delivered"]}


def test_the_daily_cap_over_all_triggers(app, live_server, setup):
    tenant, receiver = setup
    app.config["TRIGGERS_PER_USER_PER_DAY"] = 2
    send(live_server, tenant.write_key, fan("ana"))
    for name in ("first", "second", "third"):
        assert put_trigger(live_server, tenant.secret_key, name, release_trigger(receiver.url)).status == 201
    send(live_server, tenant.secret_key, [release("Nova")])
    settle(app)
    assert sorted(statuses(app)["ana"]) == ["capped", "delivered", "delivered"]
    assert len(receiver.received) == 2


def test_quiet_hours_in_the_users_zone_defer_to_their_end(app, live_server, setup):
    tenant, receiver = setup
    clock = [CLOCK]  # 02:00 UTC: 03:00 in Berlin (winter) or 04:00 (summer), 02:00 in London
    app.config["TRIGGER_CLOCK"] = lambda: clock[0]
    send(live_server, tenant.write_key, fan("berlin", "Europe/Berlin") + fan("tokyo", "Asia/Tokyo"))
    hook = release_trigger(receiver.url, limits={"per_user_per_day": 1, "quiet_hours": ["22:00", "09:00"]})
    assert put_trigger(live_server, tenant.secret_key, "new-release", hook).status == 201
    send(live_server, tenant.secret_key, [release("Nova")])
    wait_until(lambda: len(receiver.received) == 1, 60, "the webhook of the user outside quiet hours")
    settle(app)
    assert [p["user_id"] for p in receiver.payloads()] == ["tokyo"]  # 11:00 in Tokyo
    with app.app_context(), database.connection_context():
        waiting = Delivery.get(Delivery.user_id == "berlin")
        offset = respect.local_day_start(CLOCK, 0) - respect.local_day_start(CLOCK, 60)  # Berlin's, in ms
        assert offset in (HOUR, 2 * HOUR)
        assert (waiting.status, waiting.due_at) == ("pending", respect.local_day_start(CLOCK, 0) + 9 * HOUR - offset)
        scheduled = [task for task in queue_of(app).huey.scheduled() if task.args == (waiting.id,)]
        assert len(scheduled) == 1  # on the queue for then
        # At 09:00 in Berlin the scheduled job runs (run here at once, the clock moved there).
        clock[0] = waiting.due_at
        queue_of(app).enqueue("trigger_delivery", waiting.id, task_id=f"{waiting.id}.0")
    wait_until(lambda: len(receiver.received) == 2, 60, "the deferred webhook")
    assert receiver.payloads()[1]["user_id"] == "berlin"


def test_quiet_hours_are_local_time(app):
    at = CLOCK  # 02:00 UTC
    assert respect.quiet_until(at, 0, ["22:00", "09:00"]) == at + 7 * HOUR
    assert respect.quiet_until(at, 60, ["22:00", "09:00"]) == at + 6 * HOUR
    assert respect.quiet_until(at, 9 * 60, ["22:00", "09:00"]) is None  # 11:00 in Tokyo
    assert respect.quiet_until(at, -5 * 60, ["22:00", "09:00"]) is None  # 21:00 in New York: not yet
    assert respect.quiet_until(at, -3 * 60 - 30, ["22:00", "09:00"]) == at + 10 * HOUR + 30 * 60_000  # 22:30
    assert respect.quiet_until(at, 0, ["01:00", "03:00"]) == at + HOUR
    assert respect.quiet_until(at, 0, ["03:00", "05:00"]) is None
    assert respect.quiet_until(at, 0, None) is None


def test_opted_out_and_erased_users_get_nothing(app, live_server, setup):
    tenant, receiver = setup
    send(live_server, tenant.write_key, fan("ana") + fan("ben") + fan("cy") + fan("dee")
         + [identify("ben", {"recap_opt_out": True}, CLOCK - HOUR), identify("cy", {"recap_opt_out": "false"}, CLOCK)])
    assert post_json(live_server, "/v1/users/erase", {"user_id": "dee"}, basic(tenant.secret_key)).status == 200
    assert put_trigger(live_server, tenant.secret_key, "new-release", release_trigger(receiver.url)).status == 201
    send(live_server, tenant.secret_key, [release("Nova")])
    wait_until(lambda: len(receiver.received) == 2, 60, "the webhooks")
    settle(app)
    assert sorted(p["user_id"] for p in receiver.payloads()) == ["ana", "cy"]
    assert set(statuses(app)) == {"ana", "cy"}  # nothing even made for the others


def test_a_user_who_opts_out_before_a_deferred_delivery_goes_is_dropped(app, live_server, setup):
    tenant, receiver = setup
    clock = [CLOCK]
    app.config["TRIGGER_CLOCK"] = lambda: clock[0]
    send(live_server, tenant.write_key, fan("ana"))
    hook = release_trigger(receiver.url, limits={"quiet_hours": ["00:00", "09:00"]})
    assert put_trigger(live_server, tenant.secret_key, "new-release", hook).status == 201
    send(live_server, tenant.secret_key, [release("Nova")])
    settle(app)
    assert statuses(app) == {"ana": ["pending"]}
    send(live_server, tenant.write_key, [identify("ana", {"recap_opt_out": True}, CLOCK)])
    with app.app_context(), database.connection_context():
        row = Delivery.get()
        clock[0] = row.due_at
        queue_of(app).enqueue("trigger_delivery", row.id, task_id=f"{row.id}.0")
    settle(app)
    assert statuses(app) == {"ana": ["dropped"]} and receiver.received == []
