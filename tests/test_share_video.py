"""A share's video: made on the job queue, answered 202 until then, an H.264 MP4 of the share's
frozen story after (decoded with PyAV, its first scene read back with tesseract and its last
frame's QR code with zxing), served in ranges, and gone with the share."""
from __future__ import annotations

import pytest
import zxingcpp

from helpers.server import basic, http
from helpers.share import USER, bearer, share, viewer_token
from helpers.video import decode, read_text, share_status, wait_for_video
from widget_server.share import images
from widget_server.store.db import database
from widget_server.store.models import Share
from widget_server.video import files, scenes


def words(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() else " " for c in text).lower().split() if len(w) > 2]


@pytest.fixture
def shared(soundwave, live_server):
    """Ana's share, its viewer token's headers."""
    headers = bearer(viewer_token(live_server, soundwave.secret_key, USER))
    return share(live_server, soundwave), headers


def test_a_new_share_answers_pending_and_its_video_202_with_retry_after_until_a_worker_draws_it(
        app, shared, live_server):
    body, headers = shared
    assert body["video"] == {"url": body["url"] + "/story.mp4", "status": "pending",
                             "poster": body["images"]["story"]}
    reply = http("GET", body["video"]["url"])
    assert reply.status == 202, reply.body
    assert int(reply.headers["Retry-After"]) > 0
    assert reply.json()["video"]["status"] == "pending"
    assert share_status(live_server, body["id"], headers)["video"]["status"] == "pending"  # no worker runs


def test_the_video_is_the_shares_story_in_h264_ending_on_its_qr_code(app, shared, live_server, consumer):
    body, headers = shared
    now = wait_for_video(live_server, body["id"], headers)
    assert now["video"]["status"] == "ready" and now["url"] == body["url"]
    reply = http("GET", body["video"]["url"], timeout=30)
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"] == "video/mp4" and reply.headers["Accept-Ranges"] == "bytes"
    assert "public" in reply.headers["Cache-Control"] and not reply.headers["ETag"].startswith("W/")
    assert reply.body.index(b"moov") < reply.body.index(b"mdat")  # +faststart: playable as it arrives

    with database.connection_context():
        frozen = Share.get_by_id(body["id"]).card
    plan = scenes.plan(frozen)
    assert [scene.kind for scene in plan][-1] == "card" and len(plan) > 3
    info, frames = decode(reply.body)
    assert (info["codec"], info["width"], info["height"], info["pix_fmt"]) == ("h264", 1080, 1920, "yuv420p")
    assert info["rate"] == 30 and info["audio"] == []
    assert len(frames) == scenes.total_frames(plan)
    assert abs(info["duration"] - len(frames) / 30) < 0.1 and info["duration"] < 30

    first = plan[0]
    assert first.frame is not None and first.frame["id"] == "intro"
    seen = words(read_text(frames[first.count - 1].convert("L")))
    expected = words(first.frame["title"])
    assert "ana" in expected and len([w for w in expected if w in seen]) >= len(expected) - 1, (seen, expected)

    found = zxingcpp.read_barcodes(frames[-1].convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    assert [code.text for code in found] == [body["url"]]


def test_a_range_request_gets_206_with_exactly_those_bytes(app, shared, live_server, consumer):
    body, headers = shared
    wait_for_video(live_server, body["id"], headers)
    whole = http("GET", body["video"]["url"], timeout=30).body
    part = http("GET", body["video"]["url"], headers={"Range": "bytes=1000-1999"})
    assert part.status == 206
    assert part.body == whole[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(whole)}"
    tail = http("GET", body["video"]["url"], headers={"Range": "bytes=-500"})
    assert tail.status == 206 and tail.body == whole[-500:]


def test_a_revoked_shares_video_is_410_and_its_file_is_gone(app, shared, live_server, consumer):
    body, headers = shared
    wait_for_video(live_server, body["id"], headers)
    with app.app_context():
        path = files.video_path(body["id"])
        assert path.exists() and path.parent == images.cache_path(body["id"], "story").parent
    assert http("DELETE", f"{live_server.url}/v1/shares/{body['id']}", headers=headers).status == 200
    reply = http("GET", body["video"]["url"])
    assert reply.status == 410 and reply.json()["error"]["details"]["reason"] == "revoked"
    assert not path.exists()
    assert http("GET", f"{live_server.url}/v1/shares/{body['id']}", headers=headers).status == 410


def test_a_share_is_read_by_its_owner_or_the_secret_key_only(soundwave, shared, live_server):
    body, headers = shared
    assert share_status(live_server, body["id"], basic(soundwave.secret_key))["id"] == body["id"]
    ben = bearer(viewer_token(live_server, soundwave.secret_key, "ben"))
    assert http("GET", f"{live_server.url}/v1/shares/{body['id']}", headers=ben).status == 404
    assert http("GET", f"{live_server.url}/v1/shares/{body['id']}").status == 401


def test_the_campaign_draws_every_eligible_users_video_once_and_their_tap_finds_it(app, soundwave, live_server,
                                                                                  consumer):
    runner = app.test_cli_runner()
    app.config["PUBLIC_BASE_URL"] = live_server.url  # the address users' taps make their links with
    first = runner.invoke(args=["videos", "render", "--app", "Soundwave", "--template", "year-in-music"])
    assert first.exit_code == 0, first.output
    assert "2 videos to draw, 0 already drawn, 1 users not eligible" in first.output  # Ana and Ben; not Cy
    assert "2 videos drawn" in first.output
    with database.connection_context():
        made = {row.user_id: row for row in Share.select()}
    assert set(made) == {USER, "ben"} and {row.video_status for row in made.values()} == {"ready"}

    token = viewer_token(live_server, soundwave.secret_key, USER)
    tapped = http("POST", live_server.url + "/v1/shares", b'{"template": "year-in-music"}',
                  {"Content-Type": "application/json", **bearer(token)})
    assert tapped.status == 200, tapped.body  # the campaign's share, not a new one
    assert tapped.json()["id"] == made[USER].id and tapped.json()["video"]["status"] == "ready"
    assert http("GET", tapped.json()["video"]["url"], timeout=30).status == 200

    again = runner.invoke(args=["videos", "render", "--app", "Soundwave", "--template", "year-in-music"])
    assert again.exit_code == 0, again.output
    assert "0 videos to draw, 2 already drawn" in again.output
