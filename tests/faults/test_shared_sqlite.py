"""Two servers and a story build on one SQLite file, all writing at once.

Two gunicorn servers (separate processes, as two hosts sharing a disk would be, or a server
restarted beside the old one) take ingest, viewer tokens, stories, shares, share cards and
erasures, while `recap stories build` precomputes every story beside them. Nothing answers 500
(a store that stays locked may answer 429/503 with Retry-After, and the client retries, as the
SDK does), and every event any server acknowledged is stored, exactly once.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

from demo_app.server import WidgetServer
from helpers.server import basic, http, make_tenant
from helpers.share import plays
from widget_server import create_app
from widget_server.store.db import database
from widget_server.store.sqlite_files import sqlite3

SECONDS = 10  # of mixed traffic; the whole test stays well under a minute
LISTENERS = [f"listener-{i}" for i in range(12)]
TRANSIENT = (429, 503)


class Traffic:
    """Requests to either server, retried on a transient answer; every other answer counted."""

    def __init__(self, servers: list[WidgetServer], deadline: float) -> None:
        self.servers = servers
        self.deadline = deadline
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.failures: list[tuple[str, int, bytes]] = []
        self.acknowledged: list[str] = []
        self._lock = threading.Lock()

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def acknowledge(self, message_ids) -> None:
        with self._lock:
            self.acknowledged.extend(message_ids)

    def call(self, turn: int, what: str, method: str, path: str, body: dict | None, headers: dict):
        for attempt in range(20):
            server = self.servers[(turn + attempt) % len(self.servers)]
            reply = http(method, server.url + path, None if body is None else json.dumps(body).encode(),
                         {"Content-Type": "application/json", **headers}, timeout=30)
            with self._lock:
                self.statuses[(what, reply.status)] += 1
            if reply.status not in TRANSIENT:
                break
            assert reply.headers.get("Retry-After"), reply.body
            time.sleep(0.05)
        if reply.status >= 400 and reply.status not in TRANSIENT:
            with self._lock:
                self.failures.append((what, reply.status, reply.body[:300]))
        return reply


def ingest(traffic: Traffic, key: str, turn: int) -> None:
    while traffic.running():
        events = [{"type": "track", "event": "Song Played", "userId": LISTENERS[(turn + i) % len(LISTENERS)],
                   "messageId": uuid.uuid4().hex, "properties": {"artist": "Björk", "ms_played": 180_000}}
                  for i in range(100)]
        reply = traffic.call(turn, "ingest", "POST", "/v1/batch", {"batch": events}, basic(key))
        turn += 1
        if reply.status == 200:
            traffic.acknowledge(e["messageId"] for e in events)


def viewers(traffic: Traffic, tenant, turn: int) -> None:
    """A viewer's session: a token, the story, a share, its card; now and then an erasure."""
    while traffic.running():
        user = LISTENERS[turn % len(LISTENERS)]
        token = traffic.call(turn, "token", "POST", "/v1/viewer-tokens", {"user_id": user}, basic(tenant.secret_key))
        if token.status != 201:
            continue
        bearer = {"Authorization": f"Bearer {token.json()['token']}"}
        traffic.call(turn, "story", "GET", "/v1/stories/year-in-music", None, bearer)
        made = traffic.call(turn + 1, "share", "POST", "/v1/shares", {"template": "year-in-music"}, bearer)
        if made.status == 201:
            traffic.call(turn, "card", "GET", urlsplit(made.json()["images"]["og"]).path, None, {})
        turn += 2


def minter(traffic: Traffic, tenant, turn: int) -> None:
    while traffic.running():
        traffic.call(turn, "token", "POST", "/v1/viewer-tokens", {"user_id": "someone"}, basic(tenant.secret_key))
        turn += 1


def eraser(traffic: Traffic, tenant, turn: int) -> None:
    """Users who leave: their events go in, then the user is erased (reads, then writes)."""
    while traffic.running():
        gone = f"passer-by-{turn}"
        traffic.call(turn, "ingest", "POST", "/v1/batch",
                     {"batch": [{"type": "track", "event": "Song Played", "userId": gone,
                                 "messageId": uuid.uuid4().hex} for _ in range(300)]}, basic(tenant.write_key))
        traffic.call(turn + 1, "erase", "POST", "/v1/users/erase", {"user_id": gone}, basic(tenant.secret_key))
        turn += 1


def build(instance, deadline: float) -> list[subprocess.CompletedProcess]:
    """`recap stories build`, again and again until the traffic stops."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECAP_")}
    env["RECAP_INSTANCE_PATH"] = str(instance)
    runs = []
    while time.monotonic() < deadline or not runs:
        runs.append(subprocess.run([sys.executable, "-c", "from widget_server.cli import main; main()",
                                    "stories", "build", "--inline", "year-in-music", "--app", "Soundwave"],
                                   env=env, capture_output=True, text=True, timeout=60))
    return runs


def test_two_servers_and_a_build_share_one_sqlite_file_without_a_500(tmp_path):
    instance = tmp_path / "instance"
    create_app({"INSTANCE_PATH": str(instance)})
    tenant = make_tenant("Soundwave", deep_link_scheme="soundwave", share_base_url="https://soundwave.app")
    database.close()
    servers = [WidgetServer(instance, workers=1, threads=4).start() for _ in range(2)]
    try:
        seeded = [dict(e, messageId=uuid.uuid4().hex) for user in LISTENERS for e in plays(user, 30)]
        for start in range(0, len(seeded), 500):
            body = json.dumps({"batch": seeded[start:start + 500]}).encode()
            reply = http("POST", servers[0].url + "/v1/batch", body,
                         {"Content-Type": "application/json", **basic(tenant.write_key)})
            assert reply.status == 200, reply.body

        deadline = time.monotonic() + SECONDS
        traffic = Traffic(servers, deadline)
        runs: list[subprocess.CompletedProcess] = []
        threads = [threading.Thread(target=ingest, args=(traffic, tenant.write_key, n)) for n in range(2)]
        threads += [threading.Thread(target=viewers, args=(traffic, tenant, 0)),
                    threading.Thread(target=minter, args=(traffic, tenant, 1)),
                    threading.Thread(target=eraser, args=(traffic, tenant, 0))]
        threads.append(threading.Thread(target=lambda: runs.extend(build(instance, deadline))))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=SECONDS + 60)
    finally:
        for server in servers:
            server.stop()

    logs = "".join((instance / "server.log").read_text(errors="replace").splitlines(keepends=True)[-40:])
    assert traffic.failures == [], (traffic.failures, logs)
    assert not [s for s in traffic.statuses if s[1] >= 500 and s[1] not in TRANSIENT], traffic.statuses
    assert runs and all(run.returncode == 0 for run in runs), [(r.returncode, r.stderr[-2000:]) for r in runs]
    for what in ("ingest", "token", "story", "share", "card", "erase"):
        assert any(w == what and status < 300 for w, status in traffic.statuses), (what, traffic.statuses)
    with sqlite3.connect(str(instance / "recap.sqlite3")) as con:
        stored = Counter(m for (m,) in con.execute("SELECT message_id FROM event"))
    acknowledged = traffic.acknowledged + [e["messageId"] for e in seeded]
    assert not [m for m in acknowledged if stored[m] != 1]
