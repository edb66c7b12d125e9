"""The msgspec fast path and the marshmallow schema accept and refuse the same events."""
from __future__ import annotations

import json
import random

import msgspec
import pytest

from widget_server.ingest.schema import MAX_ID, EventIn, EventSchema, decode_event, event_errors, semantic_errors

_fast_decode = msgspec.json.Decoder(EventIn).decode
ACCEPT = None


def fast_verdict(raw: bytes) -> set[str]:
    """The fields the msgspec path refuses (empty: accepted). msgspec names its first bad field."""
    try:
        event = _fast_decode(raw)
    except msgspec.ValidationError as exc:
        path = str(exc).partition(" - at `$.")[2]
        return {path.rstrip("`").split("[")[0].split(".")[0] or "_event"}
    except msgspec.DecodeError:
        return {"_event"}
    return set(semantic_errors(event))


def slow_verdict(raw: bytes) -> set[str]:
    """The fields the marshmallow schema refuses (empty: accepted)."""
    return set(event_errors(raw))


def base(**fields) -> dict:
    event = {"type": "track", "event": "Song Played", "userId": "u1"}
    event.update(fields)
    return {k: v for k, v in event.items() if v is not _DROP}


_DROP = object()

# (case id, event, the one field refused or ACCEPT)
TABLE = [
    ("minimal track", base(), ACCEPT),
    ("anonymous only", base(userId=_DROP, anonymousId="a1"), ACCEPT),
    ("numeric user id", base(userId=42), ACCEPT),
    ("negative numeric id", base(userId=-5), ACCEPT),
    ("huge numeric id", base(userId=2 ** 70), ACCEPT),
    ("every field", base(messageId="m1", timestamp="2026-01-01T12:00:00.123+01:00", name=None,
                         properties={"a": [1, {"b": None}]}, traits={"t": 1}, context={"ip": "1.2.3.4"},
                         groupId="g", previousId="p"), ACCEPT),
    ("unknown fields ignored", base(integrations={"All": True}, channel="server", version=2), ACCEPT),
    ("nulls everywhere optional", base(properties=None, context=None, traits=None, timestamp=None), ACCEPT),
    ("empty message id (server makes one)", base(messageId=""), ACCEPT),
    ("naive timestamp (UTC)", base(timestamp="2026-01-01T00:00:00"), ACCEPT),
    ("date-only timestamp", base(timestamp="2026-01-01"), ACCEPT),
    ("Z timestamp", base(timestamp="2026-01-01T00:00:00Z"), ACCEPT),
    ("identify", {"type": "identify", "userId": "u", "traits": {"plan": "pro"}}, ACCEPT),
    ("page with name", {"type": "page", "anonymousId": "a", "name": "Home"}, ACCEPT),
    ("screen without name", {"type": "screen", "userId": "u"}, ACCEPT),
    ("alias", {"type": "alias", "userId": "u", "previousId": "a"}, ACCEPT),
    ("group", {"type": "group", "userId": "u", "groupId": 7, "traits": {}}, ACCEPT),
    ("id at the length limit", base(userId="x" * MAX_ID), ACCEPT),
    # refused: types
    ("type not a string", base(type=5), "type"),
    ("boolean user id", base(userId=True), "userId"),
    ("float user id", base(userId=1.5), "userId"),
    ("list user id", base(userId=["u"]), "userId"),
    ("object anonymous id", base(userId=_DROP, anonymousId={"a": 1}), "anonymousId"),
    ("numeric event name", base(event=3), "event"),
    ("numeric message id", base(messageId=5), "messageId"),
    ("numeric timestamp", base(timestamp=1700000000), "timestamp"),
    ("properties a list", base(properties=[1, 2]), "properties"),
    ("traits a string", base(traits="x"), "traits"),
    ("context a list", base(context=[]), "context"),
    ("name an object", {"type": "page", "userId": "u", "name": {}}, "name"),
    ("previousId a bool", {"type": "alias", "userId": "u", "previousId": False}, "previousId"),
    ("groupId a float", {"type": "group", "userId": "u", "groupId": 0.5}, "groupId"),
    # refused: rules
    ("unknown type", base(type="purchase"), "type"),
    ("type in capitals", base(type="TRACK"), "type"),
    ("missing type", base(type=_DROP), "type"),
    ("null type", base(type=None), "type"),
    ("no user at all", base(userId=_DROP), "userId"),
    ("both ids null", base(userId=None, anonymousId=None), "userId"),
    ("empty user id", base(userId=""), "userId"),
    ("empty anonymous id", base(userId=_DROP, anonymousId=""), "anonymousId"),
    ("user id too long", base(userId="x" * (MAX_ID + 1)), "userId"),
    ("track without event", base(event=_DROP), "event"),
    ("track with empty event", base(event=""), "event"),
    ("event name too long", base(event="e" * (MAX_ID + 1)), "event"),
    ("message id too long", base(messageId="m" * (MAX_ID + 1)), "messageId"),
    ("page name too long", {"type": "page", "userId": "u", "name": "n" * (MAX_ID + 1)}, "name"),
    ("alias without previousId", {"type": "alias", "userId": "u"}, "previousId"),
    ("alias with empty previousId", {"type": "alias", "userId": "u", "previousId": ""}, "previousId"),
    ("alias without userId", {"type": "alias", "anonymousId": "a", "previousId": "p"}, "userId"),
    ("group without groupId", {"type": "group", "userId": "u"}, "groupId"),
    ("words for a timestamp", base(timestamp="yesterday"), "timestamp"),
    ("empty timestamp", base(timestamp=""), "timestamp"),
    ("month 13", base(timestamp="2026-13-01T00:00:00Z"), "timestamp"),
    ("offset past a day", base(timestamp="2026-01-01T00:00:00+25:00"), "timestamp"),
    ("year 9999", base(timestamp="9999-12-31T23:00:00-14:00"), "timestamp"),
    ("year 1", base(timestamp="0001-01-01T00:00:00+14:00"), "timestamp"),
    ("before 1970", base(timestamp="1969-12-31T23:59:59Z"), "timestamp"),
    ("2100", base(timestamp="2100-01-01T00:00:00Z"), "timestamp"),
    ("first moment of 1970", base(timestamp="1970-01-01T00:00:00Z"), ACCEPT),
    ("last moment of 2099", base(timestamp="2099-12-31T23:59:59.999Z"), ACCEPT),
]

RAW_TABLE = [
    ("event a number", b"5", "_event"),
    ("event a list", b'[{"type": "track"}]', "_event"),
    ("event null", b"null", "_event"),
    ("event a string", b'"track"', "_event"),
    ("float past range in properties", b'{"type":"track","event":"E","userId":"u","properties":{"d":1e400}}',
     "properties.d"),
    ("float past range in a list", b'{"type":"track","event":"E","userId":"u","properties":{"d":[0,-1.5E+309]}}',
     "properties.d[1]"),
    ("integer past int64 in traits", b'{"type":"identify","userId":"u","traits":{"n":9223372036854775808}}',
     "traits.n"),
    ("float past range in context", b'{"type":"track","event":"E","userId":"u","context":{"timezone":1e400}}',
     "context.timezone"),
]


@pytest.mark.parametrize("event, refused", [pytest.param(e, f, id=i) for i, e, f in TABLE])
def test_both_validators_agree_on_the_table(event, refused):
    raw = json.dumps(event).encode()
    expected = set() if refused is ACCEPT else {refused}
    assert fast_verdict(raw) == expected
    assert slow_verdict(raw) == expected


@pytest.mark.parametrize("raw, refused", [pytest.param(r, f, id=i) for i, r, f in RAW_TABLE])
def test_both_validators_refuse_the_same_raw_events(raw, refused):
    assert fast_verdict(raw) == slow_verdict(raw) == {refused}


@pytest.mark.parametrize("event, refused", [pytest.param(e, f, id=i) for i, e, f in TABLE])
def test_decode_event_answers_with_the_schemas_words(event, refused):
    """What the server answers: the decoded event, or marshmallow's message for the bad field."""
    raw = json.dumps(event).encode()
    result = decode_event(raw)
    if refused is ACCEPT:
        assert isinstance(result, EventIn)
    else:
        assert result == event_errors(raw)
        assert all(isinstance(m, str) and m for m in result[refused])


@pytest.mark.parametrize("route_type, event, refused", [
    ("track", {"userId": "u", "event": "E", "type": "identify"}, ACCEPT),  # the route decides
    ("track", {"userId": "u"}, "event"),
    ("alias", {"userId": "u"}, "previousId"),
    ("group", {"userId": "u", "groupId": None}, "groupId"),
    ("identify", {"anonymousId": "a"}, ACCEPT),
])
def test_single_event_routes_force_the_type_in_both_validators(route_type, event, refused):
    raw = json.dumps(event).encode()
    result = decode_event(raw, forced_type=route_type)
    errors = event_errors(raw, forced_type=route_type)
    if refused is ACCEPT:
        assert isinstance(result, EventIn) and result.type == route_type and errors == {}
    else:
        assert set(result) == set(errors) == {refused}


# A sweep over combinations of field values, good and bad, seeded so a failure reproduces.
VALUES = {
    "type": [_DROP, None, "track", "identify", "page", "alias", "group", "TRACK", 1],
    "event": [_DROP, None, "", "E", 7, "e" * (MAX_ID + 1)],
    "userId": [_DROP, None, "", "u", 12, True, 1.5, ["u"], "x" * (MAX_ID + 1)],
    "anonymousId": [_DROP, None, "", "a", 3],
    "previousId": [_DROP, None, "p", ""],
    "groupId": [_DROP, None, "g", 4, {}],
    "timestamp": [_DROP, None, "2026-01-01T00:00:00Z", "nope", 5],
    "properties": [_DROP, None, {}, {"k": [1]}, [1], "p"],
    "context": [_DROP, None, {"timezone": "Europe/Berlin"}, []],
}


VALID = {
    "track": {"type": "track", "event": "E", "userId": "u"},
    "identify": {"type": "identify", "anonymousId": "a", "traits": {"k": 1}},
    "page": {"type": "page", "userId": 9, "name": "Home"},
    "screen": {"type": "screen", "anonymousId": "a"},
    "alias": {"type": "alias", "userId": "u", "previousId": "p"},
    "group": {"type": "group", "userId": "u", "groupId": "g"},
}


def test_both_validators_agree_on_a_thousand_mutated_events():
    rng = random.Random(20260101)
    names = list(VALUES)
    disagreements, accepted = [], 0
    for _ in range(1_000):
        event = dict(VALID[rng.choice(list(VALID))])
        for name in rng.sample(names, rng.choice([0, 1, 1, 2, 3])):
            event[name] = rng.choice(VALUES[name])
        event = {k: v for k, v in event.items() if v is not _DROP}
        raw = json.dumps(event).encode()
        fast, slow = fast_verdict(raw), slow_verdict(raw)
        accepted += not fast
        # msgspec stops at its first type error where marshmallow lists them all, so the fast
        # path's refused field must be one of the schema's.
        if bool(fast) != bool(slow) or not fast <= slow:
            disagreements.append((event, fast, slow))
    assert disagreements == []
    assert 200 < accepted < 800  # the sweep exercises both answers


def test_schema_declares_every_struct_field():
    """The schema documents the contract: it may not silently miss a field the fast path reads."""
    assert set(EventSchema().fields) == set(EventIn.__struct_fields__)

