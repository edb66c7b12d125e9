"""A fan-out's chunk lost with a killed worker (triggers/fan_out.py, jobs/leases.py): a real
``recap worker`` is SIGKILLed while it holds the chunk, its lease runs out, the chore enqueues it
again, another worker finishes the run, and every fan is told exactly once; and a chunk whose job
was lost before any worker claimed it is enqueued again once the queue is empty."""
from __future__ import annotations

import signal
import time
from pathlib import Path

from helpers.jobs import recap, recap_env, stop
from helpers.story import send
from helpers.triggers import Receiver, fans_of, listeners, put_trigger, release, release_trigger, settle, webhook_tenant
from helpers.video import consuming
from helpers.waiting import wait_until
from widget_server.jobs.queue import queue_of
from widget_server.store.db import database
from widget_server.store.models import Delivery, JobRecord, TriggerChunk, TriggerRun
from widget_server.triggers import fan_out
from widget_server.triggers.events import handoff

# Seconds of work per chunk in the trigger itself, so the test can kill the worker in the middle:
# the audience turns 100,000 numbers into text for each user before looking at their top 10.
SLOW_AUDIENCE = ("(range(99999) | map('string') | join | length) > 0"
                 " and event.properties.artist in (top_artists | map(attribute='label') | list)")


def test_a_chunk_lost_with_a_killed_worker_is_done_again_and_every_fan_is_told_once(app, live_server, tmp_path):
    app.config.update(WEBHOOK_ALLOW_LOCAL=True)
    instance = Path(app.instance_path)
    tenant = webhook_tenant(app)
    events, counted = listeners(24)
    expected = fans_of(counted, "Nova")
    queue = queue_of(app)
    first = second = None
    with Receiver() as receiver:
        send(live_server, tenant.write_key, events)
        assert put_trigger(live_server, tenant.secret_key, "new-release",
                           release_trigger(receiver.url, audience=SLOW_AUDIENCE)).status == 201
        try:
            first = recap("worker", "--no-periodic", env=recap_env(instance, TRIGGER_CHUNK_LEASE=2,
                                                                   WEBHOOK_ALLOW_LOCAL=1),
                          log=tmp_path / "first.log")
            send(live_server, tenant.secret_key, [release("Nova")])
            with app.app_context(), database.connection_context():
                held = wait_until(lambda: TriggerChunk.get_or_none(TriggerChunk.claimed_until.is_null(False)), 60,
                                  "the first worker to claim the chunk", every=0.02)
                stop(first, signal.SIGKILL)
                chunk = TriggerChunk.get_by_id(held.id)
                run = TriggerRun.get()
                assert (chunk.state, chunk.attempts, run.chunks, run.done_chunks) == ("queued", 1, 1, 0)
                assert not Delivery.select().exists(), "the worker was killed after the chunk's work"
                assert JobRecord.get(JobRecord.id == chunk.job_id).status == "running"
                assert fan_out.resume_chunks(queue) == 0  # its claim still runs: nobody takes it yet
                wait_until(lambda: fan_out.resume_chunks(queue) == 1, 30, "the chunk's lease to run out")
                assert not JobRecord.select().where(JobRecord.id == chunk.job_id).exists()  # not "running" for ever
                assert queue.depth() == 1

            second = recap("worker", "--no-periodic", env=recap_env(instance, WEBHOOK_ALLOW_LOCAL=1),
                           log=tmp_path / "second.log")
            wait_until(lambda: len(receiver.received) >= len(expected), 120, "every fan's webhook")
            with app.app_context(), database.connection_context():
                # The lost job after all, and the chore again: the done chunk is neither done nor counted twice.
                queue.enqueue("trigger_chunk", run.id, chunk.seq)
                assert fan_out.resume_chunks(queue) == 0
            settle(app)
        finally:
            for worker in (first, second):
                if worker is not None:
                    stop(worker)
        assert sorted(p["user_id"] for p in receiver.payloads()) == sorted(expected)
    with app.app_context(), database.connection_context():
        run = TriggerRun.get()
        chunk = TriggerChunk.get()
        assert (run.chunks, run.done_chunks, run.matched) == (1, 1, len(expected))
        assert run.finished_at is not None
        assert (chunk.state, chunk.attempts, chunk.users) == ("done", 2, [])  # a done chunk lists nobody
        assert Delivery.select().where(Delivery.status == "delivered").count() == len(expected)


def test_a_chunk_whose_job_was_lost_before_any_claim_is_enqueued_again_once_the_queue_is_empty(app, live_server):
    app.config.update(WEBHOOK_ALLOW_LOCAL=True, TRIGGER_CHUNK_LEASE=0.2)
    tenant = webhook_tenant(app)
    events, counted = listeners(8)
    with Receiver() as receiver:
        send(live_server, tenant.write_key, events)
        assert put_trigger(live_server, tenant.secret_key, "new-release", release_trigger(receiver.url)).status == 201
        send(live_server, tenant.secret_key, [release("Nova")])
        assert handoff.flush()
        queue = queue_of(app)
        with app.app_context(), database.connection_context():
            fan_out.start(*queue.huey.dequeue().args)
            lost = queue.huey.dequeue()  # taken off the queue by a worker killed before it claimed the chunk
            assert lost.args == (TriggerRun.get().id, 0) and queue.depth() == 0
            assert fan_out.resume_chunks(queue) == 0  # enqueued less than a lease ago: it may still be on its way
            time.sleep(0.3)
            assert fan_out.resume_chunks(queue) == 1
            assert fan_out.resume_chunks(queue) == 0  # enqueued again once, not on every call
        with consuming(app):
            wait_until(lambda: len(receiver.received) >= len(fans_of(counted, "Nova")), 60, "every fan's webhook")
            settle(app)
        assert sorted(p["user_id"] for p in receiver.payloads()) == sorted(fans_of(counted, "Nova"))
    with app.app_context(), database.connection_context():
        assert (TriggerRun.get().done_chunks, TriggerChunk.get().state) == (1, "done")


def test_a_chunk_job_enqueued_before_chunks_were_rows_makes_its_row_and_is_counted_once(app, live_server):
    app.config.update(WEBHOOK_ALLOW_LOCAL=True)
    tenant = webhook_tenant(app)
    events, counted = listeners(8)
    send(live_server, tenant.write_key, events)
    assert put_trigger(live_server, tenant.secret_key, "new-release",
                       release_trigger("http://127.0.0.1:9/hooks/recap")).status == 201
    send(live_server, tenant.secret_key, [release("Nova")])
    assert handoff.flush()
    queue = queue_of(app)
    with app.app_context(), database.connection_context():
        fan_out.start(*queue.huey.dequeue().args)
        run_id, seq = queue.huey.dequeue().args
        users = TriggerChunk.get().users
        TriggerChunk.delete().execute()  # as a run split by the code before schema step 17 left it
        assert fan_out.run_chunk(run_id, seq, users) == len(fans_of(counted, "Nova"))  # its job's arguments
        assert fan_out.run_chunk(run_id, seq, users) == 0
        assert (TriggerRun.get().done_chunks, TriggerChunk.get().state) == (1, "done")
        assert Delivery.select().count() == len(fans_of(counted, "Nova"))
