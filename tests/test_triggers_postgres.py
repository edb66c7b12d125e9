"""Triggers on PostgreSQL (issue 21): the same release reaches exactly the same fans, once, with
the event's `where` matched by the engine's SQL on PostgreSQL and deliveries unique there too."""
from __future__ import annotations

from helpers.postgres import new_database
from helpers.server import LiveServer
from helpers.story import send
from helpers.triggers import delivering, fans_of, listeners, put_trigger, release, release_trigger, settle
from helpers.waiting import wait_until
from widget_server import create_app
from widget_server.jobs.queue import queue_of
from widget_server.store.db import database
from widget_server.store.models import Delivery, TriggerRun


def test_a_release_reaches_exactly_the_fans_once_on_postgresql(postgres, tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                      "DATABASE_URL": new_database(postgres, "triggers")})
    server = LiveServer(app).start()
    try:
        with delivering(app, server) as (tenant, receiver):
            events, counted = listeners(12)
            send(server, tenant.write_key, events)
            assert put_trigger(server, tenant.secret_key, "new-release", release_trigger(receiver.url)).status == 201
            expected = fans_of(counted, "Nova")
            send(server, tenant.secret_key, [release("Nova", "single", "single-1"), release("Nova")])
            wait_until(lambda: len(receiver.received) >= len(expected), 60, "every fan's webhook")
            with app.app_context(), database.connection_context():
                run = TriggerRun.get()
                queue_of(app).enqueue("trigger_chunk", run.id, 0, sorted(counted))  # run again: nobody twice
            settle(app)
            assert sorted(p["user_id"] for p in receiver.payloads()) == sorted(expected)
            with app.app_context(), database.connection_context():
                assert Delivery.select().where(Delivery.status == "delivered").count() == len(expected)
    finally:
        server.stop()
        database.close() if not database.is_closed() else None
