"""Ingest traffic for the fault tests: an instance with one app, batches with unique message
ids, senders that retry as the SDK does, and what the store holds afterwards."""
from __future__ import annotations

import base64
import http.client
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from helpers.server import Tenant, make_tenant
from widget_server import create_app
from widget_server.store.db import database
from widget_server.store.sqlite_files import sqlite3

RETRIED = {408, 429, 500, 502, 503, 504}  # the SDK retries these and network errors


def make_instance(instance: Path) -> Tenant:
    """A fresh instance folder holding one app, ready for a server to start on."""
    create_app({"INSTANCE_PATH": str(instance)})
    tenant = make_tenant()
    database.close()
    return tenant


def batch(size: int, prefix: str = "") -> list[dict]:
    return [{"type": "track", "event": "Song Played", "userId": f"user-{i % 7}",
             "messageId": f"{prefix}{uuid.uuid4().hex}", "properties": {"n": i}} for i in range(size)]


def stored_counts(instance: Path) -> dict[str, int]:
    """How many times each message id is stored."""
    with sqlite3.connect(str(instance / "recap.sqlite3")) as con:
        return dict(con.execute("SELECT message_id, COUNT(*) FROM event GROUP BY message_id").fetchall())


@dataclass
class Answer:
    status: int  # 0: no answer (refused, reset, timed out)
    latency: float  # seconds
    retry_after: str | None = None
    body: bytes = b""


@dataclass
class Sender:
    """POSTs batches to ``/v1/batch`` over a kept-alive connection, as the SDK's transport does."""

    url: str
    tenant: Tenant
    timeout: float = 10
    answers: list[Answer] = field(default_factory=list)
    _conn: http.client.HTTPConnection | None = None

    def post(self, events: list[dict]) -> Answer:
        body = msgspec.json.encode({"batch": events})
        auth = "Basic " + base64.b64encode(f"{self.tenant.write_key}:".encode()).decode()
        started = time.perf_counter()
        try:
            if self._conn is None:
                target = urllib.parse.urlsplit(self.url)
                self._conn = http.client.HTTPConnection(target.hostname, target.port, timeout=self.timeout)
            self._conn.request("POST", "/v1/batch", body, {"Content-Type": "application/json",
                                                           "Authorization": auth})
            reply = self._conn.getresponse()
            answer = Answer(reply.status, time.perf_counter() - started, reply.getheader("Retry-After"),
                            reply.read())
            if reply.getheader("Connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException):
            self.close()
            answer = Answer(0, time.perf_counter() - started)
        self.answers.append(answer)
        return answer

    def deliver(self, events: list[dict], deadline: float) -> bool:
        """Send until acknowledged (200) or ``deadline`` (monotonic) passes, retrying the same
        body on 429, 5xx and network errors after Retry-After (else a short back-off)."""
        pause = 0.05
        while time.monotonic() < deadline:
            answer = self.post(events)
            if answer.status == 200:
                return True
            if answer.status and answer.status not in RETRIED:
                raise AssertionError(f"{answer.status} {answer.body[:300]!r}")
            wait = float(answer.retry_after) if answer.retry_after else pause
            time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 1.0)
        return False

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def flood(url: str, tenant: Tenant, senders: int, seconds: float, per_batch: int) -> dict:
    """``senders`` post ``per_batch``-event batches at once for ``seconds``, each waiting out
    Retry-After (or 1 s) after a refusal as the SDK does; what they saw: latencies of the
    accepted requests, acknowledged message ids, the 429s and anything else."""
    lock = threading.Lock()
    seen = {"latencies": [], "acknowledged": [], "shed": [], "other": []}
    start = threading.Barrier(senders + 1)

    def send() -> None:
        sender = Sender(url, tenant, timeout=30)
        start.wait()
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                events = batch(per_batch)
                answer = sender.post(events)
                with lock:
                    if answer.status == 200:
                        seen["latencies"].append(answer.latency)
                        seen["acknowledged"].extend(e["messageId"] for e in events)
                    elif answer.status == 429:
                        seen["shed"].append(answer)
                    else:
                        seen["other"].append((answer.status, answer.body[:200]))
                if answer.status != 200:
                    time.sleep(float(answer.retry_after or 1))
        finally:
            sender.close()

    threads = [threading.Thread(target=send) for _ in range(senders)]
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    return seen
