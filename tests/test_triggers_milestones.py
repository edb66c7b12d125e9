"""Milestones (issue 21): a user's own metric reaching a number, evaluated for that user alone
when their event arrives, fires once."""
from __future__ import annotations

import pytest

from helpers.story import send, track
from helpers.triggers import CLOCK, delivering, put_trigger, settle
from helpers.waiting import wait_until
from widget_server.jobs.queue import queue_of
from widget_server.store.db import database
from widget_server.store.models import Delivery, JobRecord

MINUTE = 60_000


@pytest.fixture
def setup(app, live_server):
    with delivering(app, live_server) as both:
        yield both


def milestone(hook: str) -> dict:
    return {"on": {"metric": "lessons", "reaches": 100},
            "period": {"kind": "last_days", "days": 366},
            "metrics": {"lessons": {"kind": "count", "event": "Lesson Completed"}},
            "message": {"title": "{{ lessons }} lessons!", "body": "You finished your {{ lessons }}th lesson."},
            "webhook": hook, "story": "learning-recap"}


def lessons(user: str, first: int, count: int) -> list[dict]:
    return [track(user, "Lesson Completed", CLOCK - (500 - first - i) * MINUTE, {"lesson": first + i})
            for i in range(count)]


def test_the_milestone_fires_once_when_the_100th_lesson_arrives(app, live_server, setup):
    tenant, receiver = setup
    assert put_trigger(live_server, tenant.secret_key, "hundred-lessons", milestone(receiver.url)).status == 201
    send(live_server, tenant.write_key, lessons("ana", 0, 99) + lessons("ben", 0, 60)
         + [track("ana", "Song Played", CLOCK - MINUTE, {})])
    settle(app)
    assert receiver.received == []  # 99 lessons: not yet
    send(live_server, tenant.write_key, lessons("ana", 99, 1))
    wait_until(lambda: receiver.received, 60, "the milestone's webhook")
    for at in (100, 101):  # later lessons, one request each: no second notification
        send(live_server, tenant.write_key, lessons("ana", at, 1))
    settle(app)
    (only,) = receiver.payloads()
    assert (only["user_id"], only["message"]["title"]) == ("ana", "100 lessons!")
    assert only["cause"] == {"kind": "metric", "metric": "lessons", "reaches": 100}
    assert "/embed/learning-recap?" in only["story_url"]
    with app.app_context(), database.connection_context():
        assert [row.user_id for row in Delivery.select()] == ["ana"]
        assert not JobRecord.select().where(JobRecord.status == "failed").exists()


def test_a_milestone_is_evaluated_for_that_user_alone(app, live_server, setup):
    tenant, receiver = setup
    send(live_server, tenant.write_key, lessons("ana", 0, 120) + lessons("ben", 0, 120))
    assert put_trigger(live_server, tenant.secret_key, "hundred-lessons", milestone(receiver.url)).status == 201
    send(live_server, tenant.write_key, lessons("ben", 120, 1))  # ben's lesson: ben's milestone
    wait_until(lambda: receiver.received, 60, "ben's webhook")
    settle(app)
    assert [p["user_id"] for p in receiver.payloads()] == ["ben"]
    with app.app_context(), database.connection_context():
        assert queue_of(app).depth() == 0


def test_each_user_is_written_to_in_their_own_language(app, live_server, setup):
    # Messages were written in the app's default language for everyone, numbers too.
    tenant, receiver = setup
    spec = milestone(receiver.url)
    spec["on"]["reaches"] = 1000
    spec["message"] = {"title": {"en": "{{ lessons | number }} lessons!", "de": "{{ lessons | number }} Lektionen!"},
                       "body": "{{ lessons | number }}"}
    assert put_trigger(live_server, tenant.secret_key, "thousand-lessons", spec).status == 201
    german = lessons("ana", 0, 1000)
    for event in german:
        event["context"] = {"locale": "de-AT"}
    send(live_server, tenant.write_key, german[:-1] + lessons("ben", 0, 999))
    settle(app)
    send(live_server, tenant.write_key, german[-1:] + lessons("ben", 999, 1))
    wait_until(lambda: len(receiver.received) >= 2, 60, "both webhooks")
    settle(app)
    by_user = {p["user_id"]: p["message"] for p in receiver.payloads()}
    assert by_user == {"ana": {"title": "1.000 Lektionen!", "body": "1.000"},     # de-AT → de
                       "ben": {"title": "1,000 lessons!", "body": "1,000"}}       # the app's default, en-GB
