"""Hostile ingest bodies, made by hypothesis: whatever arrives, the server never answers 5xx, and
what it says it accepted is what the database holds.

Bodies are built as JSON text, not through ``json.dumps``, so they can hold what Python would
not write: numbers past float range (``1e400``), integers of any length, deep nesting, bytes
that are not UTF-8, broken gzip; sent with the write key, the secret key or a viewer token
(whose bounds answer 413 or 429, never 5xx). Bounded and deterministic (``derandomize``): the same 200
examples every run, well under a minute.
"""
from __future__ import annotations

import gzip
import json
from datetime import UTC

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.server import LiveServer, basic, http, make_tenant
from widget_server import create_app
from widget_server.store.db import database

TYPES = ["track", "identify", "page", "screen", "alias", "group"]


def text(value: str) -> str:
    return json.dumps(value)  # escapes lone surrogates as \ud800, which JSON allows


numbers = st.one_of(
    st.integers().map(str),  # unbounded: past int64 too
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e400", "-1E+400", "1e-400", "9" * 40, "-9223372036854775809", "9223372036854775807",
                     "1.7976931348623157e308", "5e-324", "0", "-0", "1E5"]),
)
strings = st.one_of(st.text(max_size=30), st.sampled_from(["", "x" * 250, "Europe/Berlin", "null", "1e400"]))
scalars = st.one_of(numbers, strings.map(text), st.sampled_from(["true", "false", "null"]))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ",".join(items) + "]"),
        st.dictionaries(strings, inner, max_size=4).map(
            lambda d: "{" + ",".join(f"{text(k)}:{v}" for k, v in d.items()) + "}")),
    max_leaves=12)
objects = st.dictionaries(strings, json_values, max_size=5).map(
    lambda d: "{" + ",".join(f"{text(k)}:{v}" for k, v in d.items()) + "}")
deep = st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n)
ids = st.one_of(strings.map(text), numbers, st.sampled_from(["null", "[]", "{}", "true"]))
timestamps = st.one_of(
    st.datetimes(timezones=st.sampled_from([None, UTC])).map(
        lambda d: text(d.isoformat())),
    strings.map(text), numbers, st.just("null"))

field_values = {
    "type": st.one_of(st.sampled_from(TYPES).map(text), strings.map(text), numbers, st.just("null")),
    "event": st.one_of(strings.map(text), numbers, st.just("null")),
    "name": st.one_of(strings.map(text), st.just("null")),
    "userId": ids, "anonymousId": ids, "previousId": ids, "groupId": ids,
    "messageId": st.one_of(st.uuids().map(lambda u: text(u.hex)), st.sampled_from(['"m1"', '"m2"']), ids),
    "timestamp": timestamps,
    "properties": st.one_of(objects, json_values, deep), "traits": st.one_of(objects, json_values),
    "context": st.one_of(objects, json_values, st.just('{"timezone":1e400}'), st.just('{"timezone":"Asia/Tokyo"}'),
                         st.one_of(strings, st.sampled_from(["../../etc/passwd", "\x00", "Etc/GMT+99"])).map(
                             lambda zone: '{"timezone":%s}' % text(zone))),
    "integrations": json_values,
}


@st.composite
def events(draw) -> str:
    """Mostly a plausible event of each type (so the store is exercised, not only the
    validators), with its object fields full of odd values and a few fields replaced."""
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return draw(json_values)  # not an object at all, sometimes
    kind = draw(st.sampled_from(TYPES))
    fields = {"type": text(kind), "userId": text(draw(st.sampled_from(["u1", "u2", "u3"]))),
              "event": '"Song Played"', "name": '"Home"', "previousId": draw(st.sampled_from(['"anon-1"', '"u2"'])),
              "groupId": '"g"', "messageId": draw(field_values["messageId"])}
    for name in ("properties", "traits", "context"):
        if draw(st.booleans()):
            fields[name] = draw(objects)
    for name in draw(st.lists(st.sampled_from(sorted(field_values)), unique=True, max_size=3)):
        fields[name] = draw(field_values[name])
    return "{" + ",".join(f"{text(k)}:{v}" for k, v in fields.items()) + "}"


@st.composite
def bodies(draw) -> tuple[str, bytes, dict]:
    """(path, body, headers)."""
    path = draw(st.sampled_from(["/v1/batch"] * 4 + [f"/v1/{kind}" for kind in TYPES]))
    if path == "/v1/batch":
        envelope = {"batch": "[" + ",".join(draw(st.lists(events(), max_size=12))) + "]"}
        if draw(st.booleans()):
            envelope["sentAt"] = draw(timestamps)
        if draw(st.booleans()):
            envelope["context"] = draw(st.one_of(objects, json_values))
        body = "{" + ",".join(f"{text(k)}:{v}" for k, v in envelope.items()) + "}"
    else:
        body = draw(events())
    raw = body.encode("utf-8", "surrogatepass")
    damage = draw(st.sampled_from(["none"] * 6 + ["cut", "byte", "gzip", "bad gzip", "type"]))
    headers = {"Content-Type": "application/json"}
    if damage == "cut":
        raw = raw[:draw(st.integers(min_value=0, max_value=len(raw)))]
    elif damage == "byte":
        at = draw(st.integers(min_value=0, max_value=len(raw)))
        raw = raw[:at] + bytes([draw(st.integers(min_value=0, max_value=255))]) + raw[at:]
    elif damage in ("gzip", "bad gzip"):
        raw = gzip.compress(raw)
        if damage == "bad gzip":
            raw = raw[:draw(st.integers(min_value=0, max_value=len(raw) - 1))]
        headers["Content-Encoding"] = "gzip"
    elif damage == "type":
        headers["Content-Type"] = draw(st.sampled_from(
            ["text/plain", "text/html", "application/x-www-form-urlencoded"]))
    return path, raw, headers


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = create_app({"INSTANCE_PATH": str(tmp_path_factory.mktemp("fuzz") / "instance"), "TESTING": True})
    tenant = make_tenant("Fuzz")
    live = LiveServer(app).start()
    token = http("POST", live.url + "/v1/viewer-tokens", b'{"user_id": "viewer"}',
                 {"Content-Type": "application/json", **basic(tenant.secret_key)}).json()["token"]
    credentials = {"write": basic(tenant.write_key), "secret": basic(tenant.secret_key),
                   "viewer": {"Authorization": f"Bearer {token}"}}
    yield live, credentials
    live.stop()
    if not database.is_closed():
        database.close()


def stored_events() -> int:
    with database.connection_context():
        return database.execute_sql("SELECT COUNT(*) FROM event").fetchone()[0]


@settings(max_examples=200, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(request=bodies(), credential=st.sampled_from(["write", "secret", "viewer"]))
def test_hostile_bodies_never_get_a_5xx_and_accepted_is_stored(server, request, credential):
    live, credentials = server
    path, raw, headers = request
    before = stored_events()
    reply = http("POST", live.url + path, raw, {**headers, **credentials[credential]})
    assert reply.status < 500, (reply.status, reply.body, raw[:300])
    answer = reply.json()  # every answer, error or not, is JSON
    now = stored_events()
    if reply.status == 200:
        assert answer["accepted"] == answer["stored"] + answer["duplicates"], answer
        assert now - before == answer["stored"], (answer, raw[:300])
    else:
        assert "error" in answer and now == before, (reply.status, answer)
