"""Story stats: viewers, completion, per-frame drop-off and shares, from stored engagement events."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from helpers.server import basic, http

TEMPLATE = "year-in-music"


def token_for(server, tenant, user: str) -> str:
    reply = http("POST", server.url + "/v1/viewer-tokens", json.dumps({"user_id": user}).encode(),
                 {"Content-Type": "application/json", **basic(tenant.secret_key)})
    return reply.json()["token"]


def send(server, token: str, events: list[tuple], template: str = TEMPLATE, days_ago: int = 0) -> None:
    """Engagement events as the player sends them: Bearer viewer token, properties.template."""
    at = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()
    batch = [{"type": "track", "event": name, "timestamp": at,
              "properties": {"template": template, **props}} for name, props in events]
    reply = http("POST", server.url + "/v1/batch", json.dumps({"batch": batch}).encode(),
                 {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    assert reply.status == 200, reply.body


def frame(fid: str, index: int, advance: str = "auto", dwell: int = 5000) -> tuple:
    return ("frame_viewed", {"frame_id": fid, "index": index, "dwell_ms": dwell, "advance": advance})


@pytest.fixture
def engaged(live_server, tenant):
    """Three viewers: one finishes and shares, one stops on the second frame, one on the first."""
    a, b, c, d = (token_for(live_server, tenant, u) for u in ("a", "b", "c", "d"))
    send(live_server, a, [("story_viewed", {}), frame("intro", 0), frame("minutes", 1, dwell=3000),
                          ("story_completed", {}), ("button_clicked", {"frame_id": "card", "action": "share"}),
                          ("story_shared", {"channel": "clipboard"}), frame("card", 2, "manual"),
                          ("story_closed", {"progress": 1})])
    send(live_server, b, [("story_viewed", {}), frame("intro", 0), frame("minutes", 1, "manual", 1000),
                          ("story_closed", {"progress": 0.6})])
    send(live_server, c, [("story_viewed", {}), frame("intro", 0, "manual", 2000),
                          ("story_closed", {"progress": 0.2})])
    send(live_server, a, [("story_viewed", {}), ("story_shared", {"channel": "web_share_file"})])  # again
    send(live_server, d, [("story_viewed", {}), frame("intro", 0)], template="learning-recap")  # other story
    send(live_server, d, [("story_viewed", {}), frame("intro", 0)], days_ago=40)  # outside the window
    return tenant


def get_stats(server, key: str, query: str = "", template: str = TEMPLATE):
    return http("GET", f"{server.url}/v1/stats/stories/{template}{query}", headers=basic(key))


def test_stats_count_viewers_completion_shares_and_drop_off(live_server, engaged):
    reply = get_stats(live_server, engaged.secret_key)
    assert reply.status == 200, reply.body
    stats = reply.json()
    assert (stats["viewers"], stats["completions"], stats["completion_rate"]) == (3, 1, 0.3333)
    assert (stats["shares"], stats["sharers"]) == (2, 1)
    assert stats["shares_by_channel"] == {"clipboard": 1, "web_share_file": 1}
    assert stats["avg_progress_at_close"] == 0.6
    assert stats["frames"] == [
        {"frame_id": "intro", "index": 0, "viewers": 3, "reach": 1.0, "drop_off": 1,
         "drop_off_rate": 0.3333, "avg_dwell_ms": 4000, "auto_advanced": 2},
        {"frame_id": "minutes", "index": 1, "viewers": 2, "reach": 0.6667, "drop_off": 1,
         "drop_off_rate": 0.5, "avg_dwell_ms": 2000, "auto_advanced": 1},
        {"frame_id": "card", "index": 2, "viewers": 1, "reach": 0.3333, "drop_off": 0,
         "drop_off_rate": 0.0, "avg_dwell_ms": 5000, "auto_advanced": 0},
    ]
    today = stats["daily"][-1]
    assert today == {"date": stats["window"]["until"], "viewers": 3, "completions": 1, "shares": 2}
    assert len(stats["daily"]) == 30 and sum(d["viewers"] for d in stats["daily"]) == 3


def test_stats_window_reaches_back_with_days(live_server, engaged):
    stats = get_stats(live_server, engaged.secret_key, "?days=60").json()
    assert stats["viewers"] == 4 and len(stats["daily"]) == 60


def test_stats_for_a_story_nobody_opened_are_zero(live_server, engaged):
    stats = get_stats(live_server, engaged.secret_key, template="nobody-opened").json()
    assert (stats["viewers"], stats["completion_rate"], stats["frames"]) == (0, 0.0, [])


def test_stats_only_see_their_own_app(live_server, engaged):
    from helpers.server import make_tenant

    other = make_tenant("Other")
    assert get_stats(live_server, other.secret_key).json()["viewers"] == 0


@pytest.mark.parametrize("query, field", [("?days=0", "days"), ("?days=367", "days"),
                                          ("?days=abc", "days"), ("?days=", "days")])
def test_bad_stats_queries_name_the_field(live_server, engaged, query, field):
    reply = get_stats(live_server, engaged.secret_key, query)
    assert reply.status == 422 and field in reply.json()["error"]["details"]


@pytest.mark.parametrize("credential", ["write", "viewer", "none", "unknown"])
def test_stats_need_the_secret_key(live_server, engaged, credential):
    headers = {"write": basic(engaged.write_key), "none": {}, "unknown": basic("rcp_s_nope"),
               "viewer": {"Authorization": "Bearer " + token_for(live_server, engaged, "a")}}[credential]
    reply = http("GET", f"{live_server.url}/v1/stats/stories/{TEMPLATE}", headers=headers)
    assert reply.status == 401 and reply.json()["error"]["code"] == "unauthorized"


def test_malformed_template_id_is_not_found(live_server, engaged):
    assert get_stats(live_server, engaged.secret_key, template="Bad_Id").status == 404


def test_stats_count_over_many_events(live_server, tenant):
    tokens = [token_for(live_server, tenant, f"user-{i}") for i in range(40)]
    for i, token in enumerate(tokens):
        send(live_server, token, [("story_viewed", {})] + [frame(f"f{j}", j) for j in range(i % 10)] * 5)
    stats = get_stats(live_server, tenant.secret_key).json()
    assert stats["viewers"] == 40 and [f["viewers"] for f in stats["frames"]][:3] == [36, 32, 28]


def test_values_no_player_sends_are_left_out_of_the_numbers(live_server, engaged):
    """Anyone with the public write key can send engagement events: huge, negative or textual
    dwell, index and progress values (1.7e308 twice overflowed AVG: 500 until they left the
    window) count for nothing, and the numbers stay those of the real viewers."""
    events = [{"type": "track", "event": name, "userId": "mallory", "properties": {"template": TEMPLATE, **props}}
              for name, props in [("story_viewed", {}),
                                  ("frame_viewed", {"frame_id": "intro", "index": 0, "dwell_ms": 1.7e308}),
                                  ("frame_viewed", {"frame_id": "intro", "index": 0, "dwell_ms": 1.7e308}),
                                  ("frame_viewed", {"frame_id": "intro", "index": "zero", "dwell_ms": "long"}),
                                  ("frame_viewed", {"frame_id": "intro", "index": 1e300, "dwell_ms": -5e307}),
                                  ("story_closed", {"progress": 1e308}), ("story_closed", {"progress": "all"})]]
    reply = http("POST", live_server.url + "/v1/batch", json.dumps({"batch": events}).encode(),
                 {"Content-Type": "application/json", **basic(engaged.write_key)})
    assert reply.status == 200 and reply.json()["stored"] == len(events), reply.body
    reply = get_stats(live_server, engaged.secret_key)
    assert reply.status == 200, reply.body
    stats = reply.json()
    intro = next(f for f in stats["frames"] if f["frame_id"] == "intro")
    assert intro["index"] == 0 and intro["avg_dwell_ms"] == 4000     # a's 5000, b's 5000, c's 2000
    assert stats["avg_progress_at_close"] == 0.6                     # (1 + 0.6 + 0.2) / 3
    assert http("GET", f"{live_server.url}/dashboard/stories/{TEMPLATE}",
                headers=basic(engaged.secret_key)).status == 200


def test_dashboard_asks_browsers_for_the_key(live_server, engaged):
    reply = http("GET", f"{live_server.url}/dashboard/stories/{TEMPLATE}")
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_dashboard_draws_the_funnel_and_daily_volume(live_server, engaged):
    token = token_for(live_server, engaged, "e")
    send(live_server, token, [("story_viewed", {}), frame("<b onmouseover=x>hi</b>", 5)])
    reply = http("GET", f"{live_server.url}/dashboard/stories/{TEMPLATE}", headers=basic(engaged.secret_key))
    assert reply.status == 200
    page = reply.body.decode()
    assert "Funnel" in page and "Daily volume" in page
    assert page.count('class="bar"') == 4 and page.count('<rect class="viewed"') == 30
    assert "&lt;b onmouseover=x&gt;hi&lt;/b&gt;" in page and "<b onmouseover" not in page
    assert "script-src" not in reply.headers["Content-Security-Policy"]   # no scripts at all
