"""Operations: the probes, the metrics and the request logs, against real servers on 127.0.0.1:
werkzeug in a thread, a real PostgreSQL that is stopped and frozen, and gunicorn with README's
production command (two workers) for what must hold across workers."""
from __future__ import annotations

import gzip
import json
import os
import re
import signal
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from demo_app.serving import free_port
from helpers.ingest_load import make_instance
from helpers.postgres import Cluster, new_database
from helpers.production import Gunicorn
from helpers.server import LiveServer, basic, http, make_tenant
from helpers.share import png, share
from helpers.waiting import wait_until
from widget_server import create_app, ops
from widget_server.store.db import database

TOKEN = "metrics-" + uuid.uuid4().hex


def get(server, path: str, headers: dict | None = None, timeout: float = 10):
    return http("GET", server.url + path, headers=headers, timeout=timeout)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def events(count: int, prefix: str = "e") -> list[dict]:
    return [{"type": "track", "event": "Song Played", "userId": f"user-{i % 3}",
             "messageId": f"{prefix}-{uuid.uuid4().hex}"} for i in range(count)]


def post_batch(url: str, write_key: str, batch: list, gzipped: bool = False):
    body = json.dumps({"batch": batch}).encode()
    headers = {**basic(write_key), "Content-Type": "application/json"}
    if gzipped:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    return http("POST", url + "/v1/batch", body, headers)


# --- probes ----------------------------------------------------------------------------------

def test_healthz_answers_ok_without_a_key(live_server):
    reply = get(live_server, "/healthz")
    assert reply.status == 200
    assert reply.json() == {"status": "ok"}
    assert reply.headers["X-Request-Id"]


def test_readyz_answers_each_check_without_a_key(live_server):
    reply = get(live_server, "/readyz")
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["status"] == "ok"
    assert list(body["checks"]) == ["database", "signing_keys", "index_lag", "queue"]
    assert body["checks"]["queue"]["backend"] == "sqlite"  # the embedded queue in the instance folder
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["index_lag"]["events"] == 0


def test_readyz_is_503_naming_the_database_while_the_sqlite_store_is_gone(app, live_server):
    path = app.config["DATABASE_URL"][len("sqlite:///"):]
    os.rename(path, path + ".moved")  # a volume unmounted, a file deleted by hand
    try:
        reply = get(live_server, "/readyz")
        assert reply.status == 503
        error = reply.json()["error"]
        assert error["code"] == "not_ready"
        assert error["details"]["failing"] == ["database", "index_lag"]  # the lag cannot be read either
        assert error["details"]["checks"]["database"]["reason"] == "unreachable"
        assert not os.path.exists(path)  # and no check made a new, empty store in its place
        assert error["request_id"] == reply.headers["X-Request-Id"]
        assert os.path.dirname(path) not in reply.body.decode()  # it says nothing of where
        assert get(live_server, "/healthz").status == 200  # the process still serves
    finally:
        os.rename(path + ".moved", path)
    assert get(live_server, "/readyz").status == 200


def test_readyz_follows_postgresql_down_frozen_and_back(tmp_path):
    cluster = Cluster().start()
    server = None
    try:
        app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                          "DATABASE_URL": new_database(cluster.url, "ops_ready"), "READY_TIMEOUT_SECONDS": 1})
        server = LiveServer(app).start()
        assert get(server, "/readyz").status == 200

        cluster.stop()  # connections refused
        reply = get(server, "/readyz")
        assert reply.status == 503
        assert reply.json()["error"]["details"]["failing"] == ["database"]
        assert str(cluster.port) not in reply.body.decode()
        assert get(server, "/healthz").status == 200

        cluster.start()
        wait_until(lambda: get(server, "/readyz").status == 200, 30, "/readyz to recover")

        # Frozen: connections are accepted by the kernel but never answered. The check gives up
        # after its timeout instead of holding the probe (the client here waits 15 s at most).
        postmaster = int(Path(cluster.data, "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGSTOP)
        try:
            reply = get(server, "/readyz", timeout=15)
            assert reply.status == 503
            assert reply.json()["error"]["details"]["failing"] == ["database"]
        finally:
            os.kill(postmaster, signal.SIGCONT)
        wait_until(lambda: get(server, "/readyz").status == 200, 30, "/readyz to recover")
    finally:
        if server is not None:
            server.stop()
        if not database.is_closed():
            database.close()
        cluster.remove()


def test_readyz_is_503_while_the_event_index_lags_past_its_bound(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                      "READY_MAX_INDEX_LAG_SECONDS": 1})
    tenant = make_tenant()
    server = LiveServer(app).start()
    try:
        assert post_batch(server.url, tenant.write_key, events(10)).status == 200
        # The indexer passes a short tail once its oldest event is 5 s old: until then it lags.
        wait_until(lambda: get(server, "/readyz").status == 503, 10, "/readyz to see the lag")
        reply = get(server, "/readyz")
        details = reply.json()["error"]["details"]
        assert details["failing"] == ["index_lag"]
        assert details["checks"]["index_lag"]["events"] == 10
        assert details["checks"]["index_lag"]["bound_seconds"] == 1
        wait_until(lambda: get(server, "/readyz").status == 200, 30, "the tail to be passed")
        assert samples(get(server, "/metrics").body.decode())[("recap_index_lag_events", ())] == 0
    finally:
        server.stop()
        database.close()


def test_a_check_a_feature_registers_is_run_and_named(app, live_server):
    def queue() -> None:
        raise ops.NotReady("the queue is unreachable")

    ops.register_check(app, "queue", queue)
    reply = get(live_server, "/readyz")
    assert reply.status == 503
    details = reply.json()["error"]["details"]
    assert details["failing"] == ["queue"]
    assert details["checks"]["queue"]["reason"] == "the queue is unreachable"
    assert details["checks"]["database"]["ok"]


# --- metrics in one process ------------------------------------------------------------------

def test_metrics_label_requests_by_route_never_by_path(app, live_server):
    ops.register_gauge(app, "recap_queue_depth", "Jobs waiting.", lambda: 7)
    secret = "tok" + uuid.uuid4().hex
    assert get(live_server, f"/s/{secret}").status == 404
    reply = get(live_server, "/metrics")
    assert reply.status == 200  # no METRICS_TOKEN: open
    assert reply.headers["Content-Type"].startswith("text/plain")
    text = reply.body.decode()
    assert secret not in text
    found = samples(text)
    assert found[("recap_http_requests_total", (("method", "GET"), ("route", "/s/<token>"), ("status", "404")))] >= 1
    assert found[("recap_queue_depth", ())] == 7
    assert ("recap_index_lag_events", ()) in found


def test_story_assembly_and_card_renders_are_timed(soundwave, live_server):
    def count(name: str, label: tuple) -> float:
        return samples(get(live_server, "/metrics").body.decode()).get((f"{name}_count", (label,)), 0)

    stories, cards = count("recap_story_assembly_seconds", ("source", "on_demand")), \
        count("recap_card_render_seconds", ("kind", "story"))
    body = share(live_server, soundwave)  # assembles the user's story for its card
    assert count("recap_story_assembly_seconds", ("source", "on_demand")) > stories
    for _ in range(2):  # drawn once, then served from the cache
        assert png(http("GET", body["images"]["story"])).size == (1080, 1920)
    assert count("recap_card_render_seconds", ("kind", "story")) == cards + 1


# --- across gunicorn workers -----------------------------------------------------------------

@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    """README's production command (two workers) with JSON logs and a metrics token."""
    folder = tmp_path_factory.mktemp("ops")
    tenant = make_instance(folder / "instance")
    server = Gunicorn(folder / "instance", free_port(),
                      env={"RECAP_LOG_FORMAT": "json", "RECAP_METRICS_TOKEN": TOKEN})
    server.url = f"http://127.0.0.1:{server.bind}"
    server.start()
    try:
        yield server, tenant
    finally:
        server.stop()


def scrape(server) -> dict:
    reply = get(server, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert reply.status == 200, reply.body
    return samples(reply.body.decode())


def counted_by(pid: int) -> bool:
    """Whether worker ``pid`` has its own counter file mapped (it counted something)."""
    return bool(re.search(rf"/counter_{pid}\.db$", Path(f"/proc/{pid}/maps").read_text(), re.M))


def test_metrics_count_what_was_sent_across_two_workers(gunicorn):
    server, tenant = gunicorn
    workers = server.workers()
    assert len(workers) == 2
    sent = [events(40, f"b{n}") for n in range(12)]
    # Several batches at once, so both workers (one thread each) take some.
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda b: post_batch(server.url, tenant.write_key, b), sent))
    assert [r.status for r in replies] == [200] * 12
    assert post_batch(server.url, tenant.write_key, sent[0]).json()["duplicates"] == 40  # a retry
    mixed = events(3, "m") + [{"type": "track", "userId": "u"},  # no event name: invalid
                              {"type": "track", "event": "x" * 40_000, "userId": "u"}]  # too large
    assert post_batch(server.url, tenant.write_key, mixed, gzipped=True).json()["accepted"] == 3
    wait_until(lambda: all(counted_by(pid) for pid in workers), 10, "every worker to count")

    found = scrape(server)
    ingest = {outcome: found[("recap_ingest_events_total", (("outcome", outcome),))]
              for outcome in ("accepted", "stored", "duplicate")}
    assert ingest == {"accepted": 12 * 40 + 40 + 3, "stored": 12 * 40 + 3, "duplicate": 40}
    assert found[("recap_ingest_events_rejected_total", (("reason", "invalid"),))] == 1
    assert found[("recap_ingest_events_rejected_total", (("reason", "too_large"),))] == 1
    route = (("method", "POST"), ("route", "/v1/batch"))
    assert found[("recap_http_request_duration_seconds_count", route)] == 14
    assert found[("recap_http_requests_total", (*route, ("status", "200")))] == 14

    # A worker that dies keeps what it counted in the totals; its replacement counts on.
    os.kill(workers[0], signal.SIGKILL)
    wait_until(lambda: len(set(server.workers()) - set(workers)) == 1, 30, "gunicorn to replace the worker")
    assert post_batch(server.url, tenant.write_key, events(5, "after")).status == 200
    assert scrape(server)[("recap_ingest_events_total", (("outcome", "stored"),))] == 12 * 40 + 3 + 5


def test_metrics_need_the_token_when_one_is_set(gunicorn):
    server, _ = gunicorn
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN}x"}):
        reply = get(server, "/metrics", headers)
        assert reply.status == 401, headers
        error = reply.json()["error"]
        assert error["code"] == "unauthorized"
        assert error["request_id"] == reply.headers["X-Request-Id"]
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert get(server, "/metrics", {"Authorization": f"Bearer {TOKEN}"}).status == 200
    assert get(server, "/healthz").status == 200  # the probes never ask for it
    assert get(server, "/readyz").status == 200


def test_a_json_log_line_carries_the_request_id_of_an_error_answer(gunicorn):
    server, tenant = gunicorn
    reply = http("POST", server.url + "/v1/batch", b"{not json",
                 {**basic(tenant.write_key), "Content-Type": "application/json"})
    assert reply.status == 400
    request_id = reply.json()["error"]["request_id"]
    secret = "tok" + uuid.uuid4().hex
    assert get(server, f"/s/{secret}").status == 404

    def logged() -> list[dict]:
        return [json.loads(line) for line in server.stderr.read_text().splitlines() if line.startswith("{")]

    wait_until(lambda: any(line.get("request_id") == request_id for line in logged()), 10, "the log line")
    line = next(line for line in logged() if line.get("request_id") == request_id)
    assert line["logger"] == "widget_server.requests"
    assert line["level"] == "INFO"
    assert (line["method"], line["route"], line["status"]) == ("POST", "/v1/batch", 400)
    assert line["duration_ms"] >= 0
    assert set(line) >= {"time", "message"}
    assert secret not in server.stderr.read_text()  # paths are never logged, only routes
    assert any(line.get("route") == "/s/<token>" for line in logged())
