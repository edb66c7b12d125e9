"""Event triggers end to end (issue 21): a release ingested, fanned out on the job queue over the
app's users, reaches exactly the fans (computed here independently) through a real webhook
receiver on 127.0.0.1, signed; retries until a 2xx; never twice for one cause."""
from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from demo_app.serving import free_port
from helpers.production import Gunicorn
from helpers.server import basic, http
from helpers.share import post_json
from helpers.story import identify, send
from helpers.triggers import (
    CLOCK,
    DAY,
    Receiver,
    cli,
    delivering,
    fans_of,
    listeners,
    put_trigger,
    release,
    release_trigger,
    settle,
    verifies,
    webhook_tenant,
)
from helpers.video import consuming
from helpers.waiting import wait_until
from widget_server.jobs.queue import queue_of
from widget_server.store.db import database
from widget_server.store.models import Delivery, DeliveryAttempt, TriggerRun
from widget_server.triggers import deliveries, fan_out
from widget_server.triggers.events import handoff


@pytest.fixture
def setup(app, live_server):
    with delivering(app, live_server) as both:
        yield both


def test_a_release_reaches_exactly_the_fans_signed_and_never_twice(app, live_server, setup):
    tenant, receiver = setup
    events, counted = listeners(24)
    events.append(identify("user-0", {"recap_opt_out": True}, CLOCK - 50 * DAY))  # a fan who opted out
    send(live_server, tenant.write_key, events)
    hook = release_trigger(receiver.url, story="year-in-music")
    assert put_trigger(live_server, tenant.secret_key, "new-release", hook).status == 201
    expected = fans_of(counted, "Nova", opted_out={"user-0"})
    assert 8 <= len(expected) < 24  # the data holds fans and others

    send(live_server, tenant.secret_key, [release("Nova", "single", "single-1"), release("Nova")])
    wait_until(lambda: len(receiver.received) >= len(expected), 60, "every fan's webhook")
    settle(app)
    payloads = receiver.payloads()
    assert sorted(p["user_id"] for p in payloads) == sorted(expected)  # each fan once; the single, nobody

    first = receiver.received[0]
    assert verifies(tenant.webhook_secret, first.headers, first.body)
    tampered = first.body.replace(b"Nova", b"Nive")
    assert tampered != first.body and not verifies(tenant.webhook_secret, first.headers, tampered)
    assert not verifies("whsec_another", first.headers, first.body)
    one = payloads[0]
    assert set(one) == {"id", "trigger", "user_id", "message", "story_url", "cause", "created_at"}
    assert one["trigger"] == "new-release" and one["message"] == {"title": "New from Nova", "body": "Listen now."}
    assert one["cause"] == {"kind": "event", "event": "Release Published", "message_id": "release-1"}
    link = urlsplit(one["story_url"])
    query = parse_qs(link.query)
    assert link.path == "/embed/year-in-music" and query["delivery"] == [one["id"]]
    assert one["user_id"] not in one["story_url"] and "Listener" not in one["story_url"]
    # The token in the link is the user's own, fresh: it reads their story and nobody else's.
    story = http("GET", f"{live_server.url}/v1/stories/year-in-music", None,
                 {"Authorization": "Bearer " + query["token"][0]})
    assert story.status in (200, 404) and story.json().get("error", {}).get("code") != "unauthorized"
    other = next(user for user in counted if user != one["user_id"])
    assert http("GET", f"{live_server.url}/v1/stories/year-in-music?user_id={other}", None,
                {"Authorization": "Bearer " + query["token"][0]}).status == 403

    # The same release again (the same messageId, stored once), and its job run again by hand:
    # nobody is told twice.
    send(live_server, tenant.secret_key, [release("Nova")])
    with app.app_context(), database.connection_context():
        run = TriggerRun.get(TriggerRun.trigger_id == "new-release")
        queue_of(app).enqueue("trigger_event", tenant.app_id, "new-release", 1, run.cause)
        queue_of(app).enqueue("trigger_chunk", run.id, 0, sorted(counted))
    settle(app)
    time.sleep(0.3)
    assert len(receiver.received) == len(expected)
    with app.app_context(), database.connection_context():
        assert TriggerRun.select().count() == 1
        assert Delivery.select().where(Delivery.status == "delivered").count() == len(expected)


def test_a_receiver_answering_500_then_200_gets_one_delivery_and_both_attempts_are_kept(app, live_server, setup):
    tenant, receiver = setup
    receiver.answers = [500]
    events, _ = listeners(4)
    send(live_server, tenant.write_key, events)
    hook = release_trigger(receiver.url, audience="user.id == 'user-1'")
    assert put_trigger(live_server, tenant.secret_key, "new-release", hook).status == 201
    send(live_server, tenant.secret_key, [release("Nova")])
    wait_until(lambda: len(receiver.received) >= 2, 60, "the retry")
    settle(app)
    first, second = receiver.payloads()
    assert first == second and first["user_id"] == "user-1"  # the same delivery, the same id
    listed = http("GET", f"{live_server.url}/v1/triggers/new-release/deliveries", None,
                  basic(tenant.secret_key)).json()["deliveries"]
    assert [(d["user_id"], d["status"], [a["status_code"] for a in d["attempts"]]) for d in listed] == [
        ("user-1", "delivered", [500, 200])]
    printed = cli(app, "triggers", "deliveries", "new-release", "--app", str(tenant.app_id)).output
    assert f"{first['id']}\tuser-1\tdelivered\t2: 500 200" in printed


def test_a_receiver_that_never_answers_2xx_is_retried_with_backoff_until_the_window_ends(app, live_server, setup):
    tenant, receiver = setup
    app.config.update(TRIGGER_RETRY_HOURS=0.4 / 3600)  # the window: 0.4 s past the delivery's making
    clock = [CLOCK]
    app.config["TRIGGER_CLOCK"] = lambda: clock[0]
    receiver.answers = [503] * 50
    events, _ = listeners(2)
    send(live_server, tenant.write_key, events)
    assert put_trigger(live_server, tenant.secret_key, "new-release",
                       release_trigger(receiver.url, audience="user.id == 'user-1'")).status == 201
    send(live_server, tenant.secret_key, [release("Nova")])
    wait_until(lambda: len(receiver.received) >= 2, 60, "a second attempt")
    clock[0] += 1000  # past the window: the next refusal is the last
    with app.app_context(), database.connection_context():
        wait_until(lambda: Delivery.get().status == "failed", 60, "the delivery to fail for good")
        attempts = [a.status_code for a in DeliveryAttempt.select().order_by(DeliveryAttempt.number)]
        assert attempts and set(attempts) == {503} and Delivery.get().attempts == len(attempts)
        assert "503" in Delivery.get().last_error


def test_a_webhook_on_a_refused_address_is_never_posted_and_says_why(app, live_server, setup):
    tenant, receiver = setup
    events, _ = listeners(2)
    send(live_server, tenant.write_key, events)
    assert put_trigger(live_server, tenant.secret_key, "new-release",
                       release_trigger(receiver.url, audience="user.id == 'user-1'")).status == 201
    app.config["WEBHOOK_ALLOW_LOCAL"] = False  # the setting taken away after the trigger was saved
    send(live_server, tenant.secret_key, [release("Nova")])
    with app.app_context(), database.connection_context():
        wait_until(lambda: DeliveryAttempt.select().exists(), 60, "an attempt")
        attempt = DeliveryAttempt.get()
    assert attempt.status_code is None and "RECAP_WEBHOOK_ALLOW_LOCAL" in attempt.error
    assert receiver.received == []


def test_a_trigger_saved_through_one_process_acts_on_the_next_event_any_process_stores(app, live_server, setup):
    """gunicorn's workers over the same store have just read the app's triggers (none yet) while
    storing plays; the trigger is saved through this process, and the release sent to gunicorn
    right after it reaches every fan. (Before, a worker kept what it had read for 5 s and stored
    the release without telling anyone, as the demo's announcement did now and then.)"""
    tenant, receiver = setup
    events, counted = listeners(12)
    database.close()
    server = Gunicorn(Path(app.instance_path), free_port()).start()
    other = SimpleNamespace(url=f"http://127.0.0.1:{server.bind}")
    try:
        for at in range(0, len(events), 40):  # requests enough for every worker to take some
            send(other, tenant.write_key, events[at:at + 40])
        assert put_trigger(live_server, tenant.secret_key, "new-release", release_trigger(receiver.url)).status == 201
        send(other, tenant.secret_key, [release("Nova")])
        expected = fans_of(counted, "Nova")
        wait_until(lambda: len(receiver.received) >= len(expected), 30, "every fan's webhook")
        settle(app)
        assert sorted(p["user_id"] for p in receiver.payloads()) == sorted(expected)
    finally:
        server.stop()


def test_ingest_answers_before_the_fan_out_runs(app, live_server):
    """The release's own request only hands its job on: with no consumer, nothing is evaluated or sent."""
    app.config.update(WEBHOOK_ALLOW_LOCAL=True)
    tenant = webhook_tenant(app, "Quiet")
    events, _ = listeners(3)
    send(live_server, tenant.write_key, events)
    assert put_trigger(live_server, tenant.secret_key, "new-release",
                       release_trigger("http://127.0.0.1:9/hook")).status == 201
    send(live_server, tenant.secret_key, [release("Nova")])
    assert handoff.flush()  # the request handed the job to a thread of the server's process
    with app.app_context(), database.connection_context():
        assert queue_of(app).depth() == 1 and not TriggerRun.select().exists()


def test_a_dry_run_counts_the_fans_and_shows_five_messages_sending_nothing(app, live_server, setup):
    tenant, receiver = setup
    events, counted = listeners(24)
    events.append(identify("user-0", {"recap_opt_out": True}, CLOCK - 50 * DAY))
    send(live_server, tenant.write_key, events)
    assert put_trigger(live_server, tenant.secret_key, "new-release", release_trigger(receiver.url)).status == 201
    expected = fans_of(counted, "Nova", opted_out={"user-0"})

    def dry_run(body: dict | None) -> dict:
        reply = post_json(live_server, "/v1/triggers/new-release/dry-run", body, basic(tenant.secret_key))
        assert reply.status == 200, reply.body
        return reply.json()
    found = dry_run({"event": {"properties": {"artist": "Nova", "kind": "album"}}})
    assert (found["would_notify"], found["users"], found["matches"]) == (len(expected), 24, True)
    assert len(found["sample"]) == 5 and {s["user_id"] for s in found["sample"]} <= expected
    assert {s["message"]["title"] for s in found["sample"]} == {"New from Nova"}
    assert dry_run({"event": {"properties": {"artist": "Nova", "kind": "single"}}})["matches"] is False
    assert dry_run({"event": {"properties": {"artist": "Nobody", "kind": "album"}}})["would_notify"] == 0
    bad = post_json(live_server, "/v1/triggers/new-release/dry-run", {"event": {"type": "nope"}},
                    basic(tenant.secret_key))
    assert bad.status == 422 and "type" in bad.json()["error"]["details"]["event"]
    printed = cli(app, "triggers", "dry-run", "new-release", "--app", str(tenant.app_id),
                  "--properties", '{"artist": "Nova", "kind": "album"}').output
    assert printed.startswith(f"would notify {len(expected)} of 24 users\n") and printed.count("New from Nova") == 5
    settle(app)
    assert receiver.received == []
    with app.app_context(), database.connection_context():
        assert not Delivery.select().exists() and not TriggerRun.select().exists()


def test_a_delivery_whose_job_was_lost_is_resumed_and_sent_once(app, live_server):
    app.config.update(WEBHOOK_ALLOW_LOCAL=True)
    clock = [CLOCK]
    app.config["TRIGGER_CLOCK"] = lambda: clock[0]
    tenant = webhook_tenant(app)
    events, _ = listeners(2)
    with Receiver() as receiver:
        send(live_server, tenant.write_key, events)
        assert put_trigger(live_server, tenant.secret_key, "new-release",
                           release_trigger(receiver.url, audience="user.id == 'user-1'")).status == 201
        send(live_server, tenant.secret_key, [release("Nova")])
        assert handoff.flush()
        queue = queue_of(app)
        with app.app_context(), database.connection_context():
            # The fan-out's jobs run here, one by one; the delivery's own job is then lost.
            fan_out.start(*queue.huey.dequeue().args)
            fan_out.run_chunk(*queue.huey.dequeue().args)
            lost = queue.huey.dequeue()
            assert lost.args == ([Delivery.get().id],) and queue.depth() == 0  # a chunk's new deliveries
            assert deliveries.resume_stalled() == 0  # not overdue yet
            clock[0] += app.config["TRIGGER_STALL_SECONDS"] * 1000 + 1
            assert deliveries.resume_stalled() == 1
            queue.enqueue("trigger_deliveries", *lost.args, task_id=lost.id)  # and the lost one was not lost after all
        with consuming(app):
            wait_until(lambda: receiver.received, 60, "the resumed delivery")
            settle(app)
        assert len(receiver.received) == 1
        with app.app_context(), database.connection_context():
            assert (Delivery.get().status, Delivery.get().attempts) == ("delivered", 1)


def test_a_release_in_an_app_without_users_finishes_its_run_at_once(app, live_server, setup):
    tenant, receiver = setup
    assert put_trigger(live_server, tenant.secret_key, "new-release", release_trigger(receiver.url)).status == 201
    send(live_server, tenant.secret_key, [release("Nova")])
    with app.app_context(), database.connection_context():
        wait_until(lambda: TriggerRun.select().where(TriggerRun.finished_at.is_null(False)).exists(), 60,
                   "the run to finish")
        assert (TriggerRun.get().chunks, TriggerRun.get().users) == (0, 0)
    assert receiver.received == []
