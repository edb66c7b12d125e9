"""The SDK's public API against the real Recap server: what each call stores, and the
programmer errors it refuses at the call."""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

import pytest

import sdk


def make_client(live_server, tenant, errors: list | None = None, **options) -> sdk.Client:
    settings = dict(spool=False, flush_interval=0.05, write_interval=0.01,
                    on_error=errors.append if errors is not None else None)
    settings.update(options)
    return sdk.Client(tenant.write_key, host=live_server.url, **settings)


def test_every_call_is_stored_with_its_fields(live_server, tenant, query):
    when = datetime(2026, 3, 1, 22, 30, tzinfo=timezone(timedelta(hours=1)))
    with make_client(live_server, tenant) as client:
        client.identify(user_id="u1", traits={"name": "Ada"}, anonymous_id="a1")
        client.track(user_id="u1", event="Song Played", properties={"artist": "Björk", "ms": 1200},
                     context={"timezone": "Europe/Paris"}, timestamp=when)
        client.page(anonymous_id="a2", name="Home", properties={"path": "/"})
        client.screen(user_id=7, name="Player")
        client.alias(previous_id="a2", user_id="u1")
        client.group(user_id="u1", group_id="team-1", traits={"plan": "pro"})
        assert client.flush(timeout=5)
    rows = query("SELECT type, name, user_id, anonymous_id, properties, timestamp, utc_offset "
                 "FROM event ORDER BY id")
    by_type = {row[0]: row for row in rows}
    assert sorted(by_type) == ["alias", "group", "identify", "page", "screen", "track"]
    assert json.loads(by_type["identify"][4]) == {"name": "Ada"}
    track = by_type["track"]
    assert (track[1], track[2], json.loads(track[4])) == ("Song Played", "u1", {"artist": "Björk", "ms": 1200})
    assert abs(track[5] - int(when.timestamp() * 1000)) < 2000 and track[6] == 60
    assert by_type["page"][1:4] == ("Home", None, "a2")
    assert by_type["screen"][2] == "7"
    assert by_type["group"][1] == "team-1"
    assert query("SELECT user_id FROM identity WHERE actor = 'a:a2'") == [("u1",)]


def test_the_callers_dict_may_change_after_the_call(live_server, tenant, query):
    properties = {"n": 1}
    with make_client(live_server, tenant) as client:
        client.track(user_id="u1", event="E", properties=properties)
        properties["n"] = 2
        properties["extra"] = True
    assert [json.loads(p) for (p,) in query("SELECT properties FROM event")] == [{"n": 1}]


def test_module_level_default_client(live_server, tenant, query):
    client = sdk.init(tenant.write_key, host=live_server.url, spool=False, flush_interval=0.05)
    try:
        sdk.track(user_id="u1", event="Default")
        sdk.identify(user_id="u1", traits={"a": 1})
        assert sdk.flush(timeout=5)
        assert sdk.default_client() is client
    finally:
        sdk.shutdown(timeout=1)
    assert query("SELECT type FROM event ORDER BY id") == [("track",), ("identify",)]


def test_sync_mode_has_stored_the_event_when_the_call_returns(live_server, tenant, query):
    client = make_client(live_server, tenant, sync_mode=True)
    client.track(user_id="u1", event="Now")
    assert query("SELECT name FROM event") == [("Now",)]
    client.shutdown(timeout=1)


@pytest.mark.parametrize("options", [{"disabled": True}, {"sample_rate": 0.0}])
def test_disabled_and_sampled_out_clients_send_nothing(live_server, tenant, query, options):
    with make_client(live_server, tenant, **options) as client:
        for _ in range(20):
            client.track(user_id="u1", event="E")
        assert client.flush(timeout=2)
    assert query("SELECT COUNT(*) FROM event") == [(0,)]


def test_the_environment_can_turn_every_client_off(live_server, tenant, query, monkeypatch):
    monkeypatch.setenv("RECAP_SDK_DISABLED", "1")
    with make_client(live_server, tenant) as client:
        client.track(user_id="u1", event="E")
        assert client.disabled and client.flush(timeout=2)
    assert query("SELECT COUNT(*) FROM event") == [(0,)]


def test_opting_out_at_run_time(live_server, tenant, query):
    with make_client(live_server, tenant) as client:
        client.track(user_id="u1", event="Before")
        client.disabled = True
        client.track(user_id="u1", event="While")
        client.disabled = False
        client.track(user_id="u1", event="After")
    assert query("SELECT name FROM event ORDER BY id") == [("Before",), ("After",)]


def test_sample_rate_keeps_about_that_share(live_server, tenant):
    client = make_client(live_server, tenant, sample_rate=0.25, spool=False)
    for _ in range(4000):
        client.track(user_id="u1", event="E")
    client.shutdown(timeout=0)
    assert 2700 < client.stats()["sampled_out"] < 3300  # 3000 expected; 5+ standard deviations of room


def test_unencodable_and_oversize_events_are_dropped_and_reported(live_server, tenant, query):
    errors: list = []
    with make_client(live_server, tenant, errors) as client:
        client.track(user_id="u1", event="Bad", properties={"x": object()})
        client.track(user_id="u1", event="NaN", properties={"x": float("nan")})
        client.track(user_id="u1", event="Huge", properties={"x": "y" * 40_000})
        client.track(user_id="u1", event="Good", properties={"when": datetime(2026, 1, 1), "tags": {"a"}})
    assert query("SELECT name FROM event") == [("Good",)]
    assert [type(e) for e in errors] == [sdk.EventTooLarge] * 3
    assert client.stats()["dropped_invalid"] == 3


class Vanishing(Mapping):
    """A mapping whose key is gone by the time it is read (a live view over a changing cache)."""

    def __iter__(self):
        return iter(["sku"])

    def __len__(self) -> int:
        return 1

    def __getitem__(self, key):
        raise KeyError(key)


@pytest.mark.parametrize("odd", [
    {"timestamp": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))},  # astimezone overflows
    {"properties": {"cart": Vanishing()}},
], ids=["overflowing-timestamp", "failing-mapping"])
def test_an_event_that_cannot_be_encoded_costs_only_itself(live_server, tenant, query, odd):
    errors: list = []
    # A write interval longer than the test: the flush has every event encoded in one chunk.
    with make_client(live_server, tenant, errors, write_interval=60) as client:
        for seq in range(5):
            client.track(user_id="u1", event="Before", properties={"seq": seq})
        client.track(user_id="u1", event="Odd", **odd)
        for seq in range(5):
            client.track(user_id="u1", event="After", properties={"seq": seq})
        assert client.flush(timeout=5)
    assert query("SELECT name, COUNT(*) FROM event GROUP BY name ORDER BY name") == [("After", 5), ("Before", 5)]
    assert [(type(e), e.count) for e in errors] == [(sdk.EventTooLarge, 1)]
    assert client.stats()["dropped_invalid"] == 1


def test_a_wrong_write_key_is_reported_not_raised(live_server, tenant, query, caplog):
    errors: list = []
    client = sdk.Client("rcp_w_wrong", host=live_server.url, spool=False, flush_interval=0.05,
                        on_error=errors.append)
    with caplog.at_level(logging.WARNING, logger="sdk"):
        client.track(user_id="u1", event="E")
        assert client.flush(timeout=5)
        client.shutdown(timeout=1)
    assert [(type(e), e.status) for e in errors] == [(sdk.DeliveryFailed, 401)]
    assert "refused a batch of 1 events" in caplog.text


def test_a_failing_on_error_callback_is_logged_not_raised(live_server, tenant, caplog):
    def explode(error):
        raise RuntimeError("boom")

    client = sdk.Client("rcp_w_wrong", host=live_server.url, spool=False, flush_interval=0.05, on_error=explode)
    client.track(user_id="u1", event="E")
    assert client.flush(timeout=5)
    client.shutdown(timeout=1)
    assert "on_error callback failed" in caplog.text


@pytest.mark.parametrize("spool", [False, True])
def test_calls_after_shutdown_are_ignored(live_server, tenant, query, tmp_path, spool):
    client = make_client(live_server, tenant, spool=spool, spool_path=tmp_path / "s.sqlite3")
    client.shutdown(timeout=1)
    client.track(user_id="u1", event="Late")
    assert client.flush(timeout=1) and client.shutdown(timeout=1)
    assert client.stats()["queued"] == 0
    assert query("SELECT COUNT(*) FROM event") == [(0,)]


def test_track_before_init_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(sdk.client, "_default", None)
    with pytest.raises(RuntimeError, match="sdk.init"):
        sdk.track(user_id="u1", event="E")


class Text(str):
    """A str subclass, as ORMs and enums hand out (its own __len__ must not hide its length)."""

    def __len__(self) -> int:
        return 1


BAD_CALLS = [
    ("track", {"event": "E"}, ValueError, "user_id or an anonymous_id"),
    ("track", {"user_id": "u1"}, ValueError, "event is required"),
    ("track", {"user_id": "u1", "event": ""}, ValueError, "event must be 1 to 200"),
    ("track", {"user_id": "u1", "event": "x" * 201}, ValueError, "event must be 1 to 200"),
    ("track", {"user_id": "u1", "event": 5}, TypeError, "event must be a string"),
    ("track", {"user_id": 1.5, "event": "E"}, TypeError, "user_id must be a string or an int"),
    ("track", {"user_id": True, "event": "E"}, TypeError, "user_id must be a string or an int"),
    ("track", {"user_id": "", "event": "E"}, ValueError, "user_id must be 1 to 200"),
    ("track", {"user_id": Text("u" * 201), "event": "E"}, ValueError, "user_id must be 1 to 200"),
    ("track", {"user_id": type("Plain", (str,), {})("u" * 201), "event": "E"}, ValueError, "user_id must be 1"),
    ("track", {"user_id": Text(""), "event": "E"}, ValueError, "user_id must be 1 to 200"),
    ("track", {"user_id": 10 ** 200, "event": "E"}, ValueError, "user_id must be 1 to 200"),
    ("track", {"user_id": -10 ** 199, "event": "E"}, ValueError, "user_id must be 1 to 200"),
    ("track", {"user_id": "u1", "event": Text("x" * 201)}, ValueError, "event must be 1 to 200"),
    ("track", {"user_id": "u1", "event": "E", "message_id": Text("m" * 201)}, ValueError, "message_id must be"),
    ("alias", {"previous_id": Text("p" * 201), "user_id": "u1"}, ValueError, "previous_id must be 1"),
    ("group", {"user_id": "u1", "group_id": Text("g" * 201)}, ValueError, "group_id must be 1 to 200"),
    ("track", {"anonymous_id": ["a"], "event": "E"}, TypeError, "anonymous_id must be"),
    ("track", {"user_id": "u1", "event": "E", "properties": [1]}, TypeError, "properties must be a mapping"),
    ("track", {"user_id": "u1", "event": "E", "context": "tz"}, TypeError, "context must be a mapping"),
    ("track", {"user_id": "u1", "event": "E", "timestamp": "2026-01-01"}, TypeError, "timestamp must be a datetime"),
    ("track", {"user_id": "u1", "event": "E", "message_id": 12}, TypeError, "message_id must be a string"),
    ("page", {"user_id": "u1", "name": 3}, TypeError, "name must be a string"),
    ("identify", {"traits": {"a": 1}}, ValueError, "user_id or an anonymous_id"),
    ("identify", {"user_id": "u1", "traits": "a"}, TypeError, "traits must be a mapping"),
    ("alias", {"user_id": "u1"}, ValueError, "previous_id and user_id"),
    ("alias", {"previous_id": 2.0, "user_id": "u1"}, TypeError, "previous_id must be"),
    ("group", {"user_id": "u1"}, ValueError, "group_id"),
    ("group", {"user_id": "u1", "group_id": None, "traits": {}}, ValueError, "group_id"),
]


@pytest.mark.parametrize("method, kwargs, error, message", BAD_CALLS)
def test_programmer_errors_raise_at_the_call(method, kwargs, error, message):
    client = sdk.Client("rcp_w_x", host="http://127.0.0.1:9", spool=False)
    try:
        with pytest.raises(error, match=message):
            getattr(client, method)(**kwargs)
    finally:
        client.shutdown(timeout=0)


def test_ids_at_the_limit_are_what_the_server_accepts(live_server, tenant, query):
    from widget_server.ingest.schema import MAX_ID as SERVER_MAX_ID

    assert sdk.client.MAX_ID == SERVER_MAX_ID
    longest = ["u" * SERVER_MAX_ID, Text("s" * SERVER_MAX_ID), 10 ** SERVER_MAX_ID - 1, -10 ** (SERVER_MAX_ID - 1) + 1]
    errors: list = []
    with make_client(live_server, tenant, errors) as client:
        for user_id in longest:
            client.track(user_id=user_id, event=Text("e" * SERVER_MAX_ID))
        assert client.flush(timeout=5)
    assert errors == []
    assert sorted(len(u) for (u,) in query("SELECT user_id FROM event")) == [SERVER_MAX_ID] * 4


BAD_OPTIONS = [
    ({"write_key": ""}, TypeError, "write_key"),
    ({"write_key": None}, TypeError, "write_key"),
    ({"host": "ftp://x"}, ValueError, "http:// or https://"),
    ({"host": "127.0.0.1:8000"}, ValueError, "http:// or https://"),
    ({"host": None}, TypeError, "host must be a string"),
    ({"max_retries": -1}, ValueError, "max_retries"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": "10"}, TypeError, "batch_size"),
    ({"flush_interval": -1}, ValueError, "flush_interval"),
    ({"timeout": 0}, ValueError, "timeout"),
    ({"exit_timeout": -1}, ValueError, "exit_timeout"),
    ({"sample_rate": 1.5}, ValueError, "sample_rate"),
    ({"on_error": "log"}, TypeError, "on_error"),
    ({"context": ["x"]}, TypeError, "context"),
]


@pytest.mark.parametrize("options, error, message", BAD_OPTIONS)
def test_bad_options_raise_at_construction(options, error, message):
    arguments = {"write_key": "rcp_w_x", "host": "http://127.0.0.1:9", "spool": False, **options}
    with pytest.raises(error, match=message):
        sdk.Client(**arguments)


@pytest.mark.parametrize("timeout", [-1, "1", None])
def test_bad_flush_timeouts_raise(timeout):
    client = sdk.Client("rcp_w_x", host="http://127.0.0.1:9", spool=False)
    try:
        with pytest.raises((TypeError, ValueError)):
            client.flush(timeout)
    finally:
        client.shutdown(timeout=0)
