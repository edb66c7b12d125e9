"""The SDK's delivery rules against a recording HTTP server: batching, gzip, keep-alive,
413 splitting, retries (5xx, 3xx, 408, 429, Retry-After) and drops (other 4xx), all reported."""
from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import sdk
from demo_app.serving import ServedInThread
from sdk.transport import backoff, parse_retry_after

OK = (200, {}, {"success": True, "rejected": []})
Reply = tuple[int, dict, dict]


class Recorder(ServedInThread):
    """A real HTTP server that records each batch and answers what ``respond`` says."""

    def __init__(self, respond: Callable[[list[dict], int], Reply] = lambda batch, n: OK) -> None:
        self.respond = respond
        self.drop_connections = False
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                body = json.loads(raw)
                with recorder._lock:
                    number = len(recorder.requests)
                    recorder.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                              "peer": self.client_address, "at": time.monotonic()})
                status, headers, answer = recorder.respond(body["batch"], number)
                data = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                # A server that drops idle kept-alive connections without saying so.
                self.close_connection = recorder.drop_connections

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(ThreadingHTTPServer(("127.0.0.1", 0), Handler), "recorder")
        self.start()

    def delivered(self) -> list[int]:
        """The ``seq`` property of every event in a batch answered 2xx."""
        seqs = []
        for number, request in enumerate(self.requests):
            if self.answers[number] < 300:
                seqs += [event["properties"]["seq"] for event in request["body"]["batch"]]
        return sorted(seqs)


@pytest.fixture
def recorder():
    servers: list[Recorder] = []

    def start(respond=lambda batch, n: OK) -> Recorder:
        statuses: list[int] = []

        def noting(batch: list[dict], number: int) -> Reply:
            reply = respond(batch, number)
            statuses.append(reply[0])
            return reply

        server = Recorder(noting)
        server.answers = statuses
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def fast_client(url: str, errors: list | None = None, **options) -> sdk.Client:
    settings = dict(spool=False, flush_interval=0.05, write_interval=0.01, retry_base=0.01, retry_cap=0.05,
                    on_error=errors.append if errors is not None else None)
    settings.update(options)
    return sdk.Client("rcp_w_test", host=url, **settings)


def send(client: sdk.Client, count: int) -> None:
    for seq in range(count):
        client.track(user_id="u1", event="Song Played", properties={"seq": seq})


def test_batches_are_gzipped_authenticated_and_share_one_connection(recorder):
    server = recorder()
    client = fast_client(server.url, batch_size=10)
    send(client, 25)
    assert client.shutdown(timeout=5)
    assert server.delivered() == list(range(25))
    assert all(len(r["body"]["batch"]) <= 10 for r in server.requests)
    first = server.requests[0]
    assert first["path"] == "/v1/batch"
    assert first["headers"]["Content-Encoding"] == "gzip"
    assert first["headers"]["Authorization"] == "Basic cmNwX3dfdGVzdDo="  # "rcp_w_test:"
    assert "sentAt" in first["body"]
    event = first["body"]["batch"][0]
    assert event["type"] == "track" and event["userId"] == "u1" and event["event"] == "Song Played"
    assert len(event["messageId"]) == 32 and event["timestamp"].endswith("Z")
    assert event["context"]["library"]["name"] == "recap-python"
    assert len({r["peer"] for r in server.requests}) == 1  # keep-alive


def test_a_batch_prepared_while_another_is_in_flight_is_stamped_when_it_leaves(recorder):
    """The server dates events by the gap between sentAt and their timestamps: a batch stamped
    while the previous one waited on a slow server would be dated that much later."""
    gaps: list[float] = []

    def slow(batch: list[dict], number: int) -> Reply:
        sent_at = datetime.fromisoformat(server.requests[number]["body"]["sentAt"]).timestamp()
        gaps.append(time.time() - sent_at)
        time.sleep(0.5)
        return OK

    server = recorder(slow)
    client = fast_client(server.url, batch_size=100)
    send(client, 300)
    assert client.shutdown(timeout=10)
    assert server.delivered() == list(range(300)) and len(gaps) >= 2
    assert max(gaps) < 0.25, gaps  # the batches that waited were stamped 0.5 s before they left


def test_a_connection_the_server_dropped_is_reopened_without_an_outage(recorder):
    server = recorder()
    server.drop_connections = True
    errors: list = []
    client = fast_client(server.url, errors)
    for round_ in range(3):
        client.track(user_id="u1", event="E", properties={"seq": round_})
        assert client.flush(timeout=5)
    client.shutdown(timeout=1)
    assert server.delivered() == [0, 1, 2]
    assert client.stats()["retries"] == 0 and errors == []


def test_batches_stay_under_the_byte_limit(recorder):
    server = recorder()
    client = fast_client(server.url, batch_size=1000, max_batch_bytes=4000)
    for seq in range(40):
        client.track(user_id="u1", event="Big", properties={"seq": seq, "pad": "x" * 400})
    assert client.shutdown(timeout=5)
    assert server.delivered() == list(range(40))
    assert all(len(json.dumps(r["body"]["batch"])) <= 4000 for r in server.requests)


def test_413_splits_the_batch_until_every_half_fits(recorder):
    server = recorder(lambda batch, n: (413, {}, {"error": {"message": "too large"}}) if len(batch) > 3 else OK)
    errors: list = []
    client = fast_client(server.url, errors, batch_size=20)
    send(client, 20)
    assert client.shutdown(timeout=5)
    assert server.delivered() == list(range(20))
    assert errors == [] and client.stats()["dropped"] == 0


def test_413_for_a_single_event_drops_only_it_and_reports_it(recorder):
    server = recorder(lambda batch, n: (413, {}, {}) if any(e["properties"]["seq"] == 3 for e in batch) else OK)
    errors: list = []
    client = fast_client(server.url, errors, batch_size=10)
    send(client, 6)
    client.shutdown(timeout=5)
    assert server.delivered() == [0, 1, 2, 4, 5]
    assert [(type(e), e.count) for e in errors] == [(sdk.DeliveryFailed, 1)]
    assert client.stats()["dropped_refused"] == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
def test_server_errors_and_timeouts_are_retried(recorder, status):
    server = recorder(lambda batch, n: (status, {}, {}) if n < 2 else OK)
    client = fast_client(server.url)
    send(client, 5)
    assert client.flush(timeout=5)
    assert server.answers == [status, status, 200]
    assert server.delivered() == list(range(5))
    assert client.stats()["retries"] == 2 and client.stats()["dropped"] == 0
    client.shutdown(timeout=1)


def test_retry_after_is_honoured_even_when_flush_asks_for_an_attempt(recorder):
    server = recorder(lambda batch, n: (429, {"Retry-After": "1"}, {}) if n == 0 else OK)
    client = fast_client(server.url)
    send(client, 3)
    assert client.flush(timeout=5)
    client.shutdown(timeout=1)
    assert server.requests[1]["at"] - server.requests[0]["at"] >= 0.9
    assert server.delivered() == [0, 1, 2]


def test_flush_cuts_a_long_backoff_short(recorder):
    server = recorder(lambda batch, n: (500, {}, {}) if n == 0 else OK)
    client = fast_client(server.url, retry_base=60.0, retry_cap=60.0)
    send(client, 3)
    deadline = time.monotonic() + 5
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    assert client.flush(timeout=5)
    assert time.monotonic() - started < 4  # not the up-to-60 s backoff
    client.shutdown(timeout=1)
    assert server.delivered() == [0, 1, 2]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 415, 422])
def test_other_client_errors_are_dropped_at_once_and_reported(recorder, status):
    server = recorder(lambda batch, n: (status, {}, {"error": {"message": f"no ({status})"}}))
    errors: list = []
    client = fast_client(server.url, errors)
    send(client, 4)
    assert client.flush(timeout=5)
    client.shutdown(timeout=1)
    assert len(server.requests) == 1
    assert [(type(e), e.count, e.status) for e in errors] == [(sdk.DeliveryFailed, 4, status)]
    assert f"no ({status})" in errors[0].message
    assert client.stats()["dropped_refused"] == 4


@pytest.mark.parametrize("status", [500, 501, 503, 301, 308])
def test_a_failing_or_redirecting_server_loses_nothing_however_long_it_lasts(recorder, tmp_path, status):
    server = recorder(lambda batch, n: (status, {"Location": "http://elsewhere.invalid/v1/batch"}, {})
                      if n < 6 else OK)
    errors: list = []
    client = fast_client(server.url, errors, spool=True, spool_path=tmp_path / "s.sqlite3", max_retries=2)
    send(client, 5)
    assert client.flush(timeout=10)
    client.shutdown(timeout=1)
    assert server.answers == [status] * 6 + [200]  # well past max_retries, the same batch each time
    assert server.delivered() == list(range(5))
    assert [type(e) for e in errors] == [sdk.Unreachable] and client.stats()["dropped"] == 0


def test_a_redirect_is_not_followed_and_says_the_host_is_wrong(recorder, tmp_path, caplog):
    elsewhere = recorder()
    server = recorder(lambda batch, n: (308, {"Location": f"{elsewhere.url}/v1/batch"}, {}) if n < 2 else OK)
    client = fast_client(server.url, spool=True, spool_path=tmp_path / "s.sqlite3")
    send(client, 3)
    assert client.flush(timeout=5)
    client.shutdown(timeout=1)
    assert elsewhere.requests == []  # the write key never goes where a redirect points
    assert server.delivered() == [0, 1, 2]
    assert f"the server redirects to {elsewhere.url}/v1/batch" in caplog.text
    assert "check the configured host" in caplog.text


def test_a_timing_out_batch_is_given_up_on_after_max_retries(recorder):
    server = recorder(lambda batch, n: (408, {}, {}))
    errors: list = []
    client = fast_client(server.url, errors, max_retries=3)
    send(client, 2)
    assert client.flush(timeout=5)
    client.shutdown(timeout=1)
    assert len(server.requests) == 4
    assert [type(e) for e in errors] == [sdk.Unreachable, sdk.DeliveryFailed]


def test_events_the_server_rejects_one_by_one_are_reported(recorder):
    rejected = [{"index": 1, "field": "userId", "code": "invalid", "message": "Must be 1 to 200 characters."}]
    server = recorder(lambda batch, n: (200, {}, {"success": True, "rejected": rejected}))
    errors: list = []
    client = fast_client(server.url, errors)
    send(client, 3)
    assert client.flush(timeout=5)
    client.shutdown(timeout=1)
    assert [(type(e), e.field, e.code) for e in errors] == [(sdk.EventRejected, "userId", "invalid")]
    stats = client.stats()
    assert (stats["delivered"], stats["dropped_rejected"]) == (2, 1)


def test_backoff_is_full_jitter_capped_and_yields_to_retry_after():
    delays = [backoff(attempt, 0.5, 8.0) for attempt in range(1, 12) for _ in range(50)]
    assert min(delays) >= 0 and max(delays) <= 8.0
    assert len({round(d, 3) for d in delays}) > 100  # jittered, not a fixed ladder
    assert backoff(3, 0.5, 8.0, retry_after=12.0) == 12.0


@pytest.mark.parametrize("value, expected", [
    ("3", 3.0), ("0", 0.0), (None, None), ("", None), ("soon", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
])
def test_retry_after_header_forms(value, expected):
    assert parse_retry_after(value) == expected
