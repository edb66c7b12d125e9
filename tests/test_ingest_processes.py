"""Exactly once across server processes while index passes run beside them.

Two gunicorn workers take concurrent batches in which a quarter of the events repeat earlier
ones (sent to either worker), while this test keeps passing the keys into the keys file, as
the servers' own indexers do: every message id must end up stored once, and the answers'
``stored`` counts must add up to exactly that.
"""
from __future__ import annotations

import json
import random
import threading
import uuid

from demo_app.server import WidgetServer
from helpers.server import basic, http, make_tenant
from widget_server import create_app
from widget_server.store import event_keys
from widget_server.store.db import database
from widget_server.store.sqlite_files import sqlite3

BATCHES, PER_BATCH, REPEATS, SENDERS = 48, 200, 50, 4


def test_repeats_across_workers_are_stored_once_while_passes_run(tmp_path):
    instance = tmp_path / "instance"
    create_app({"INSTANCE_PATH": str(instance)})
    tenant = make_tenant()
    database.close()
    store = str(instance / "recap.sqlite3")

    rng = random.Random(7)
    sent: list[str] = []
    batches = []
    for _ in range(BATCHES):
        fresh = [uuid.uuid4().hex for _ in range(PER_BATCH - REPEATS)]
        again = rng.sample(sent, REPEATS) if len(sent) >= REPEATS else []
        sent.extend(fresh)
        ids = fresh + again
        rng.shuffle(ids)
        batches.append([{"type": "track", "event": "Song Played", "userId": f"u{rng.randrange(30)}",
                         "messageId": m} for m in ids])

    server = WidgetServer(instance, workers=2, threads=2).start()
    stored, failures, done = [], [], threading.Event()
    queue = iter(batches)
    lock = threading.Lock()

    def send() -> None:
        while True:
            with lock:
                batch = next(queue, None)
            if batch is None:
                return
            reply = http("POST", server.url + "/v1/batch", json.dumps({"batch": batch}).encode(),
                         {"Content-Type": "application/json", **basic(tenant.write_key)}, timeout=30)
            with lock:
                (stored.append(reply.json()["stored"]) if reply.status == 200 else failures.append(reply))

    def keep_passing() -> None:
        with event_keys.keys_writer(store) as (keys, lock):
            while not done.wait(0.02):
                with lock:
                    event_keys.catch_up(keys)

    passer = threading.Thread(target=keep_passing)
    senders = [threading.Thread(target=send) for _ in range(SENDERS)]
    passer.start()
    try:
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join(timeout=120)
    finally:
        done.set()
        passer.join(timeout=30)
        server.stop()

    assert failures == [] and len(stored) == BATCHES
    with sqlite3.connect(store) as con:
        rows, distinct = con.execute("SELECT COUNT(*), COUNT(DISTINCT message_id) FROM event").fetchone()
    assert rows == distinct == len(set(sent)) == sum(stored)
