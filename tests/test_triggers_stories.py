"""Story triggers (issue 21): a story becoming available (its period's cut-off passed) tells the
users eligible for it, once per period."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from helpers.story import identify, send, track
from helpers.triggers import DAY, delivering, put_trigger, settle
from helpers.waiting import wait_until
from widget_server.triggers.fan_out import stories_available

# After 2026's recap's cut-off (11-15), whenever the tests run.
AFTER_CUTOFF = int(datetime(2026, 12, 1, 2, 0, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def setup(app, live_server):
    with delivering(app, live_server) as both:
        app.config["TRIGGER_CLOCK"] = lambda: AFTER_CUTOFF
        yield both


def lessons(user: str, count: int) -> list[dict]:
    """Lessons in October 2026: inside 2026's recap."""
    return [track(user, "Lesson Completed", AFTER_CUTOFF - (45 + i) * DAY, {"course": "Spanish"})
            for i in range(count)]


def test_a_story_available_tells_its_eligible_users_once(app, live_server, setup):
    tenant, receiver = setup
    send(live_server, tenant.write_key, lessons("ana", 5) + lessons("ben", 1) + lessons("cy", 5)
         + [identify("cy", {"recap_opt_out": True}, AFTER_CUTOFF - DAY)])
    ready = {"on": {"story": "learning-recap"}, "message": {"title": "Your Year in Learning is ready"},
             "webhook": receiver.url}
    assert put_trigger(live_server, tenant.secret_key, "recap-ready", ready).status == 201
    with app.app_context():
        assert stories_available() == 1  # 2026's recap: its cut-off (11-15) has passed
        assert stories_available() == 0  # the same period: told of once
    wait_until(lambda: receiver.received, 60, "the webhook")
    settle(app)
    (only,) = receiver.payloads()  # ben has 1 lesson (the story needs 3); cy opted out
    assert only["user_id"] == "ana" and only["cause"] == {"kind": "story", "story": "learning-recap"}
    assert "/embed/learning-recap?" in only["story_url"]


def test_a_story_trigger_names_a_template_of_the_app(live_server, app, setup):
    tenant, receiver = setup
    reply = put_trigger(live_server, tenant.secret_key, "recap-ready",
                        {"on": {"story": "nope"}, "message": {"title": "t"}, "webhook": receiver.url})
    assert reply.status == 422 and reply.json()["error"]["details"]["errors"][0]["path"] == "on.story"
