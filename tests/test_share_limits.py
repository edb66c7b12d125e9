"""One end user cannot make unlimited shares: a rate per user, a cap per user and template."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from helpers.server import http
from helpers.share import USER, bearer, post_json, viewer_token
from widget_server.store.db import database
from widget_server.store.models import Share, now_ms


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
    later_share = post_json(live_server, "/v1/shares", {"template": "year-in-music", "caption": "later"}, bearer(token))
    assert later_share.status == 201  # the window has passed


def test_live_shares_per_user_and_template_are_capped_until_one_is_revoked(app, soundwave, live_server):
    app.config.update(SHARE_RATE_LIMIT=1000, SHARE_MAX_LIVE=3)
    token = viewer_token(live_server, soundwave.secret_key, USER)
    made = _shares(live_server, token, 3)
    assert [r.status for r in made] == [201] * 3
    refused = post_json(live_server, "/v1/shares", {"template": "year-in-music", "caption": "a 4th"}, bearer(token))
    assert refused.status == 429, refused.body
    assert "template" in refused.json()["error"]["details"]
    retry = int(refused.headers["Retry-After"])
    assert app.config["SHARE_TTL"] - 60 <= retry <= app.config["SHARE_TTL"]  # when the oldest expires

    assert post_json(live_server, "/v1/shares", {"template": "year-in-music", "caption": "take 1"},
                     bearer(token)).status == 200  # the same card again is still answered, at the cap
    gone = http("DELETE", f"{live_server.url}/v1/shares/{made[0].json()['id']}", None, bearer(token))
    assert gone.status == 200
    assert _shares(live_server, token, 1)[0].status == 201  # "take 0" again: its share was revoked
    assert _stored() == 4  # three live, one revoked


def test_asking_again_for_the_same_card_answers_the_same_share(app, soundwave, live_server):
    token = viewer_token(live_server, soundwave.secret_key, USER)
    again = [post_json(live_server, "/v1/shares", {"template": "year-in-music"}, bearer(token))
             for _ in range(app.config["SHARE_RATE_LIMIT"] + 2)]  # the player's Share button, tapped on and on
    assert [r.status for r in again] == [201] + [200] * (len(again) - 1)
    assert len({r.json()["url"] for r in again}) == 1 and _stored() == 1  # the old code stored 12
    captioned = post_json(live_server, "/v1/shares", {"template": "year-in-music", "caption": "mine"}, bearer(token))
    assert captioned.status == 201 and captioned.json()["id"] != again[0].json()["id"]  # another card

    revoked = again[0].json()["id"]
    assert http("DELETE", f"{live_server.url}/v1/shares/{revoked}", None, bearer(token)).status == 200
    fresh = post_json(live_server, "/v1/shares", {"template": "year-in-music"}, bearer(token))
    assert fresh.status == 201 and fresh.json()["id"] != revoked  # a revoked share is never handed out again


def test_ended_shares_and_their_images_are_deleted_after_a_grace(app, soundwave, live_server):
    from widget_server.share import images

    token = viewer_token(live_server, soundwave.secret_key, USER)
    old, revoked = (post_json(live_server, "/v1/shares", {"template": "year-in-music", "caption": caption},
                              bearer(token)).json() for caption in ("old", "unshared"))
    for body in (old, revoked):
        assert http("GET", body["images"]["story"]).status == 200  # rendered into the cache
    assert http("DELETE", f"{live_server.url}/v1/shares/{revoked['id']}", None, bearer(token)).status == 200
    with app.app_context():
        cached = images.cache_path(old["id"], "story")
    assert cached.exists()

    with database.connection_context():
        expires_at = Share.get_by_id(old["id"]).expires_at
    keep = app.config["SHARE_KEEP_ENDED"] * 1000
    app.config["SHARE_CLOCK"] = lambda: expires_at + 1000
    assert http("GET", old["url"]).status == 410  # within the grace an ended link says so
    app.extensions.setdefault("recap.share_sweep", {})["next"] = 0.0  # as if the sweep interval had passed
    fresh = post_json(live_server, "/v1/shares", {"template": "year-in-music"}, bearer(token))
    assert fresh.status == 201
    with database.connection_context():
        left = {s.id for s in Share.select(Share.id)}
    # The share unshared 180 days ago goes (the old code kept every row); the one that expired a
    # second ago stays, answering 410, until SHARE_KEEP_ENDED has passed.
    assert revoked["id"] not in left and old["id"] in left and cached.exists()

    app.config["SHARE_CLOCK"] = lambda: expires_at + keep + 1000
    app.extensions.setdefault("recap.share_sweep", {})["next"] = 0.0
    ben = viewer_token(live_server, soundwave.secret_key, "ben")
    assert post_json(live_server, "/v1/shares", {"template": "year-in-music"}, bearer(ben)).status == 201
    with database.connection_context():
        left = {s.id for s in Share.select(Share.id)}
    assert old["id"] not in left and fresh.json()["id"] in left and not cached.exists()
    assert http("GET", old["url"]).status == 404
