"""An independent Segment client (segment-analytics-python) feeds the server unchanged."""
from __future__ import annotations

import time

import pytest

segment_analytics = pytest.importorskip("segment.analytics")

EVENTS = 1_000


@pytest.fixture(params=[False, True], ids=["plain", "gzip"])
def segment_client(request, live_server, tenant):
    """Segment's own Python client pointed at our server, failing loudly instead of retrying."""
    failures: list[str] = []
    client = segment_analytics.Client(
        write_key=tenant.write_key, host=live_server.url, max_retries=0, upload_size=100,
        gzip=request.param,
        on_error=lambda error, batch: failures.append(f"{error} ({len(batch)} events)"))
    client.failures = failures
    yield client
    client.shutdown()


def test_segment_python_client_delivers_every_track_event_once(segment_client, tenant, query):
    started = time.time() * 1000
    for i in range(EVENTS):
        ok, _ = segment_client.track(user_id=f"user-{i % 37}", event="Song Played",
                                     properties={"index": i, "artist": "Björk", "seconds": 30 + i % 200},
                                     context={"timezone": "Europe/Berlin"})
        assert ok
    segment_client.flush()
    finished = time.time() * 1000

    assert segment_client.failures == []
    rows = query("SELECT COUNT(*), COUNT(DISTINCT message_id), COUNT(DISTINCT json_extract(properties, '$.index')),"
                 " MIN(type), MAX(name) FROM event WHERE app_id = ?", tenant.app_id)
    assert rows == [(EVENTS, EVENTS, EVENTS, "track", "Song Played")]
    # Its timestamps and sentAt ("+00:00", microseconds) are read as the instants they are.
    first, last, offset = query("SELECT MIN(timestamp), MAX(timestamp), MAX(utc_offset) FROM event")[0]
    assert started - 1_000 <= first <= last <= finished + 1_000
    assert offset in (60, 120)  # Europe/Berlin
    # The client stamps its library in context; the stored row keeps it next to ours.
    library = query("SELECT DISTINCT json_extract(context, '$.library.name') FROM event")
    assert library == [("analytics-python",)]


def test_segment_python_client_identify_and_alias_join_anonymous_history(segment_client, tenant, query):
    for _ in range(3):
        segment_client.track(anonymous_id="device-7", event="Song Played", properties={"artist": "Sade"})
    segment_client.identify(user_id="carol", anonymous_id="device-7", traits={"plan": "family"})
    segment_client.track(anonymous_id="browser-2", event="Page Opened")
    segment_client.alias(previous_id="browser-2", user_id="carol")
    segment_client.flush()

    assert segment_client.failures == []
    carol = query("""SELECT COUNT(*) FROM event WHERE app_id = ? AND (actor = 'u:carol' OR actor IN
                     (SELECT actor FROM identity WHERE app_id = ? AND user_id = 'carol'))""",
                  tenant.app_id, tenant.app_id)
    assert carol == [(6,)]  # 3 + 1 anonymous tracks, the identify, the alias
    assert query("SELECT json_extract(traits, '$.plan') FROM profile WHERE user_id = 'carol'") == [("family",)]


def test_segment_python_client_resend_of_the_same_batch_is_stored_once(segment_client, tenant, query):
    # The client retries a batch whose answer it lost; the server must acknowledge, not duplicate.
    from segment.analytics.request import post

    batch = [{"type": "track", "event": "Tap", "userId": "dave", "messageId": f"m-{i}",
              "timestamp": "2026-01-01T12:00:00.000+00:00", "context": {}} for i in range(10)]
    first = post(tenant.write_key, segment_client.host, batch=[dict(m) for m in batch])
    again = post(tenant.write_key, segment_client.host, gzip=True, batch=[dict(m) for m in batch])
    assert (first.status_code, again.status_code) == (200, 200)
    assert (first.json()["stored"], again.json()["duplicates"]) == (10, 10)
    assert query("SELECT COUNT(*) FROM event WHERE user_id = 'dave'") == [(10,)]


def test_segment_python_client_sees_a_bad_key_as_a_non_retryable_error(live_server, query):
    failures: list[int] = []
    client = segment_analytics.Client(
        write_key="rcp_w_not-a-key", host=live_server.url, max_retries=3,
        on_error=lambda error, batch: failures.append(error.status))
    client.track(user_id="eve", event="Tap")
    client.flush()
    client.shutdown()
    assert failures == [401]
    assert query("SELECT COUNT(*) FROM event") == [(0,)]
