"""One end user cannot make unlimited shares: a rate per user, a cap per user and template."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from conftest import http
from share_helpers import USER, bearer, post_json, soundwave, viewer_token  # noqa: F401  (soundwave is a fixture)
from widget_server.db import database
from widget_server.models import Share, now_ms


def _shares(server, token: str, count: int, *, parallel: int = 1) -> list:
    """``count`` shares, each with its own caption (so none could be answered from another)."""
    def one(i: int):
        return post_json(server, "/v1/shares", {"template": "year-in-music", "caption": f"take {i}"}, bearer(token))
    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(one, range(count)))


def _stored(user: str = USER) -> int:
    with database.connection_context():
        return Share.select().where(Share.user_id == user).count()


def test_fast_taps_are_held_to_the_rate_with_retry_after(app, soundwave, live_server):
    limit = app.config["SHARE_RATE_LIMIT"]
    token = viewer_token(live_server, soundwave.secret_key, USER)
    replies = _shares(live_server, token, limit + 5, parallel=6)  # the old code made every one
    assert sorted(r.status for r in replies) == [201] * limit + [429] * 5
    refused = next(r for r in replies if r.status == 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= app.config["SHARE_RATE_WINDOW"]
    error = refused.json()["error"]
    assert error["code"] == "too_many_requests" and "shares" in error["details"]
    assert error["details"]["limit"] == limit
    assert _stored() == limit

    other = viewer_token(live_server, soundwave.secret_key, "ben")
    assert _shares(live_server, other, 1)[0].status == 201  # one user's taps don't stop another

    later = now_ms() + app.config["SHARE_RATE_WINDOW"] * 1000 + 1000
    app.config["SHARE_CLOCK"] = lambda: later
    assert _shares(live_server, token, 1)[0].status == 201  # the window has passed


def test_live_shares_per_user_and_template_are_capped_until_one_is_revoked(app, soundwave, live_server):
    app.config.update(SHARE_RATE_LIMIT=1000, SHARE_MAX_LIVE=3)
    token = viewer_token(live_server, soundwave.secret_key, USER)
    made = _shares(live_server, token, 3)
    assert [r.status for r in made] == [201] * 3
    refused = _shares(live_server, token, 1)[0]
    assert refused.status == 429, refused.body
    assert "template" in refused.json()["error"]["details"]
    retry = int(refused.headers["Retry-After"])
    assert app.config["SHARE_TTL"] - 60 <= retry <= app.config["SHARE_TTL"]  # when the oldest expires

    gone = http("DELETE", f"{live_server.url}/v1/shares/{made[0].json()['id']}", None, bearer(token))
    assert gone.status == 200
    assert _shares(live_server, token, 1)[0].status == 201
    assert _stored() == 4  # three live, one revoked
