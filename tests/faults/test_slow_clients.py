"""Slow clients against the recommended production setup (README.md, "Running the server").

Twenty connections each send a request line and then one header line every second (ten of
them), or their headers and then one byte of the body every second (the other ten), never
finishing, and open again whenever the server drops them; meanwhile normal ingest must keep
its p99 under 1 s and store every event. Under gunicorn alone (the old recommendation) a
worker thread reads its own request, so a few such clients held every worker and normal
requests timed out for as long as they trickled.
"""
from __future__ import annotations

import socket
import threading
import time
import urllib.parse

from helpers.ingest_load import Sender, batch, make_instance, percentile, stored_counts
from helpers.production import Production

SLOW_CLIENTS = 20
TRICKLE_EVERY = 1.0  # s between a slow client's header lines
REQUESTS, SENDERS, PER_BATCH = 300, 3, 10  # enough requests that p99 is not one stall of a busy machine
TIME_LIMIT = 30  # s for the normal traffic, so a server that hangs fails the test in bounded time


class SlowClients:
    """Connections that keep a request coming forever: its headers a line at a time, or with
    ``body=True`` its headers at once and then its (never complete) body a byte at a time."""

    def __init__(self, url: str, count: int, every: float, body: bool = False) -> None:
        target = urllib.parse.urlsplit(url)
        self.address = (target.hostname, target.port)
        self.count, self.every, self.body = count, every, body
        self.opened = 0
        self.held = threading.Event()  # every connection open and part-way through its headers
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-clients")

    def _open(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=2)
        sock.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: recap.example\r\nContent-Type: application/json\r\n")
        if self.body:
            sock.sendall(b"Content-Length: 100000\r\n\r\n{")
        self.opened += 1
        return sock

    def _run(self) -> None:
        socks: list[socket.socket | None] = [None] * self.count
        try:
            while not self._stop.is_set():
                for i, sock in enumerate(socks):
                    try:
                        if sock is None:
                            socks[i] = self._open()
                        else:
                            sock.sendall(b" " if self.body else b"X-Trickle: %d\r\n" % i)
                    except OSError:  # dropped by the server (or not accepted yet): open again
                        if sock is not None:
                            sock.close()
                        socks[i] = None
                if all(socks):
                    self.held.set()
                self._stop.wait(self.every)
        finally:
            for sock in socks:
                if sock is not None:
                    sock.close()

    def __enter__(self) -> SlowClients:
        self._thread.start()
        assert self.held.wait(10), "the slow clients could not connect"
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def ingest_beside_slow_clients(url: str, tenant) -> tuple[list[float], list[dict], list[int]]:
    """Normal ingest (SENDERS at once, REQUESTS in all) while SLOW_CLIENTS trickle: the
    latencies, the events sent and the statuses that were not 200."""
    sent, latencies, refused = [], [], []
    lock = threading.Lock()
    deadline = time.monotonic() + TIME_LIMIT
    remaining = iter(range(REQUESTS))

    def send() -> None:
        sender = Sender(url, tenant, timeout=5)
        try:
            while time.monotonic() < deadline:
                with lock:
                    if next(remaining, None) is None:
                        return
                events = batch(PER_BATCH)
                answer = sender.post(events)
                with lock:
                    latencies.append(answer.latency)
                    sent.extend(events) if answer.status == 200 else refused.append(answer.status)
        finally:
            sender.close()

    with SlowClients(url, SLOW_CLIENTS // 2, TRICKLE_EVERY), \
            SlowClients(url, SLOW_CLIENTS // 2, TRICKLE_EVERY, body=True):
        threads = [threading.Thread(target=send) for _ in range(SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return latencies, sent, refused


def test_twenty_slow_clients_leave_normal_ingest_fast(tmp_path):
    server = Production(tmp_path)
    tenant = make_instance(server.instance)
    with server:
        latencies, sent, refused = ingest_beside_slow_clients(server.url, tenant)

    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    assert refused == [] and len(latencies) == REQUESTS, (refused, len(latencies))
    assert p99 < 1.0, f"p50 {p50:.3f} s, p99 {p99:.3f} s"
    stored = stored_counts(server.instance)
    assert len(sent) == REQUESTS * PER_BATCH
    assert all(stored.get(e["messageId"]) == 1 for e in sent)
