"""SIGKILL of the server during sustained ingest: nothing acknowledged is lost or doubled.

Several senders post batches through the recommended setup (nginx in front of gunicorn, as
README.md says) and retry each one as the SDK does (same body, same message ids) on 429, 5xx
and failed connections, while the test SIGKILLs a worker, then the other (gunicorn's master
starts new ones), then the master with its workers at once, and restarts gunicorn. A batch that was stored but whose
answer died with its worker is sent again, so the store must recognise its events after any
restart. At the end every acknowledged message id is stored exactly once and nothing else is
stored twice.
"""
from __future__ import annotations

import os
import signal
import threading
import time

from helpers.ingest_load import Sender, batch, make_instance, stored_counts
from helpers.production import Production
from helpers.waiting import wait_until

SENDERS, PER_BATCH = 4, 50
PAUSE = 2.0  # s of ingest between faults


def test_sigkill_of_workers_and_master_loses_and_doubles_nothing(tmp_path):
    server = Production(tmp_path)
    tenant = make_instance(server.instance)
    lock = threading.Lock()
    acknowledged: list[str] = []
    sent: set[str] = set()
    undelivered: list[list[dict]] = []
    stop = threading.Event()

    def send(number: int) -> None:
        sender = Sender(server.url, tenant, timeout=10)
        try:
            while not stop.is_set():
                events = batch(PER_BATCH, prefix=f"s{number}-")
                with lock:
                    sent.update(e["messageId"] for e in events)
                if sender.deliver(events, deadline=time.monotonic() + 30):
                    with lock:
                        acknowledged.extend(e["messageId"] for e in events)
                else:
                    with lock:
                        undelivered.append(events)
        finally:
            sender.close()

    def acknowledged_now() -> int:
        with lock:
            return len(acknowledged)

    def ingest_goes_on() -> None:
        """Wait out PAUSE, and until acknowledgements have grown since the last fault."""
        before = acknowledged_now()
        time.sleep(PAUSE)
        wait_until(lambda: acknowledged_now() > before, 30, "ingest to resume")

    faults = []
    with server:
        threads = [threading.Thread(target=send, args=(i,)) for i in range(SENDERS)]
        for thread in threads:
            thread.start()
        try:
            ingest_goes_on()
            for _ in range(2):  # each worker in turn; gunicorn's master starts a new one
                worker = server.gunicorn.workers()[0]
                os.kill(worker, signal.SIGKILL)
                faults.append(f"worker {worker}")
                ingest_goes_on()
            server.gunicorn.kill_all()  # the master and its workers at once, then a restart
            faults.append("master and workers")
            time.sleep(0.5)  # senders meet nginx's 503 meanwhile
            server.gunicorn.start()
            ingest_goes_on()
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)

    assert len(faults) == 3 and undelivered == []
    stored = stored_counts(server.instance)
    assert len(acknowledged) == len(set(acknowledged)) > 0
    doubled = {m: n for m, n in stored.items() if n != 1}
    assert doubled == {}
    assert [m for m in acknowledged if m not in stored] == []
    assert set(stored) <= sent
