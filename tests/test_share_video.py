"""A share's video: made on the job queue, answered 202 until then, an H.264 MP4 of the share's
frozen story after (decoded with PyAV, its first scene read back with tesseract and its last
frame's QR code with zxing), served in ranges, and gone with the share."""
from __future__ import annotations

import pytest
import zxingcpp

from helpers.server import basic, http
from helpers.share import USER, bearer, jpeg_bytes, post_json, share, viewer_token
from helpers.story import app_template
from helpers.video import consuming, decode, read_text, share_status, shipped_with, wait_for_video, wav_bytes
from widget_server.jobs.queue import queue_of
from widget_server.share import images
from widget_server.store.db import database
from widget_server.store.models import JobRecord, Share
from widget_server.video import files, scenes


def words(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() else " " for c in text).lower().split() if len(w) > 2]


@pytest.fixture
def shared(soundwave, live_server):
    """Ana's share, its viewer token's headers."""
    headers = bearer(viewer_token(live_server, soundwave.secret_key, USER))
    return share(live_server, soundwave), headers


def intro_only(app, soundwave, extra: str = "") -> None:
    """The app's year-in-music with its intro alone before the card: a video of two scenes."""
    app_template(app.instance_path, soundwave.app_id, "year-in-music", shipped_with(extra, frames=("intro",)))


@pytest.fixture
def short_shared(app, soundwave, live_server):
    """Ana's share of the intro-only story, its viewer token's headers."""
    intro_only(app, soundwave)
    headers = bearer(viewer_token(live_server, soundwave.secret_key, USER))
    return share(live_server, soundwave), headers


def test_a_new_share_answers_pending_and_its_video_202_with_retry_after_until_a_worker_draws_it(
        app, shared, live_server):
    body, headers = shared
    assert body["video"] == {"url": body["url"] + "/story.mp4", "status": "pending",
                             "poster": body["images"]["story"]}
    assert USER not in body["video"]["url"]  # a token names the share, never its user
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
    first = plan[0]
    info, frames = decode(reply.body, keep=(first.count - 1, -1))
    assert (info["codec"], info["width"], info["height"], info["pix_fmt"]) == ("h264", 1080, 1920, "yuv420p")
    assert info["rate"] == 30 and info["audio"] == []
    assert info["frames"] == scenes.total_frames(plan)
    assert abs(info["duration"] - info["frames"] / 30) < 0.1 and info["duration"] < 30

    assert first.frame is not None and first.frame["id"] == "intro"
    seen = words(read_text(frames[first.count - 1].convert("L")))
    expected = words(first.frame["title"])
    assert "ana" in expected and len([w for w in expected if w in seen]) >= len(expected) - 1, (seen, expected)

    found = zxingcpp.read_barcodes(frames[-1].convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    assert [code.text for code in found] == [body["url"]]


def test_the_share_page_shows_the_video_once_ready_and_a_range_request_gets_206_with_those_bytes(
        app, short_shared, live_server, consumer):
    body, headers = short_shared
    path = "/s/" + body["url"].rsplit("/", 1)[1]
    before = http("GET", body["url"], timeout=60).body.decode()  # (the first page builds its fonts)
    assert "<video" not in before and f'<img src="{path}/story.png"' in before
    wait_for_video(live_server, body["id"], headers)
    page = http("GET", body["url"], timeout=30)
    assert f'<video src="{path}/story.mp4" poster="{path}/story.png"' in page.body.decode()
    assert "media-src 'self'" in page.headers["Content-Security-Policy"]

    whole = http("GET", body["video"]["url"], timeout=30).body
    part = http("GET", body["video"]["url"], headers={"Range": "bytes=1000-1999"})
    assert part.status == 206
    assert part.body == whole[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(whole)}"
    tail = http("GET", body["video"]["url"], headers={"Range": "bytes=-500"})
    assert tail.status == 206 and tail.body == whole[-500:]


def test_a_revoked_shares_video_is_410_and_its_file_is_gone(app, short_shared, live_server, consumer):
    body, headers = short_shared
    wait_for_video(live_server, body["id"], headers)
    with app.app_context():
        path = files.video_path(body["id"])
        assert path.exists() and path.parent == images.cache_path(body["id"], "story").parent
    assert http("DELETE", f"{live_server.url}/v1/shares/{body['id']}", headers=headers).status == 200
    reply = http("GET", body["video"]["url"])
    assert reply.status == 410 and reply.json()["error"]["details"]["reason"] == "revoked"
    assert not path.exists()
    assert http("GET", f"{live_server.url}/v1/shares/{body['id']}", headers=headers).status == 410


def test_an_expired_shares_video_is_410_and_its_file_is_gone(app, short_shared, live_server, consumer):
    body, headers = short_shared
    wait_for_video(live_server, body["id"], headers)
    with app.app_context():
        path = files.video_path(body["id"])
    assert path.exists()
    with database.connection_context():
        expires_at = Share.get_by_id(body["id"]).expires_at
    app.config["SHARE_CLOCK"] = lambda: expires_at  # the moment it expires; no sleeping
    reply = http("GET", body["video"]["url"])
    assert reply.status == 410 and reply.json()["error"]["details"]["reason"] == "expired"
    assert not path.exists()


def test_a_video_that_fails_after_its_retries_is_failed_and_its_url_says_so(app, soundwave, live_server):
    app.config.update(JOB_RETRIES=0)  # (read when the queue opens, with the first share below)
    body, headers = share(live_server, soundwave), bearer(viewer_token(live_server, soundwave.secret_key, USER))
    with database.connection_context():  # a frozen story the renderer cannot read: the job raises
        row = Share.get_by_id(body["id"])
        Share.update(card={**row.card, "frames": 5}).where(Share.id == row.id).execute()
    with consuming(app):
        assert wait_for_video(live_server, body["id"], headers, timeout=60)["video"]["status"] == "failed"
    reply = http("GET", body["video"]["url"])
    assert reply.status == 404 and reply.json()["error"]["details"] == {"video": "failed"}
    with database.connection_context():
        assert JobRecord.get(JobRecord.name == "render_video").status == "failed"  # `recap jobs` says why


def test_a_share_from_before_videos_gets_its_video_queued_by_the_first_request_for_it(app, shared, live_server):
    body, _ = shared
    queue = queue_of(app)
    with database.connection_context():
        Share.update(video_status=None).where(Share.id == body["id"]).execute()
    waiting = queue.depth()
    reply = http("GET", body["video"]["url"])
    assert reply.status == 202 and reply.json()["video"]["status"] == "pending"
    assert queue.depth() == waiting + 1
    with database.connection_context():
        assert Share.get_by_id(body["id"]).video_status == "pending"
    assert http("GET", body["video"]["url"]).status == 202 and queue.depth() == waiting + 1  # queued once


def test_a_share_is_read_by_its_owner_or_the_secret_key_only(soundwave, shared, live_server):
    body, headers = shared
    assert share_status(live_server, body["id"], basic(soundwave.secret_key))["id"] == body["id"]
    ben = bearer(viewer_token(live_server, soundwave.secret_key, "ben"))
    assert http("GET", f"{live_server.url}/v1/shares/{body['id']}", headers=ben).status == 404
    assert http("GET", f"{live_server.url}/v1/shares/{body['id']}").status == 401


def test_the_campaign_draws_every_eligible_users_video_once_and_their_tap_finds_it(app, soundwave, live_server,
                                                                                  consumer):
    intro_only(app, soundwave)
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


def upload_soundtrack(server, tenant, data: bytes, content_type: str = "audio/wav"):
    return http("POST", server.url + "/v1/soundtracks", data, {"Content-Type": content_type,
                                                                **basic(tenant.secret_key)})


def test_a_templates_soundtrack_is_the_videos_aac_audio(app, soundwave, live_server, consumer):
    uploaded = upload_soundtrack(live_server, soundwave, wav_bytes(40.0))
    assert uploaded.status == 201, uploaded.body
    assert 30_000 <= uploaded.json()["duration_ms"] < 30_200  # the first 30 s are kept (to the decoded frame)
    intro_only(app, soundwave, f'[video]\nsoundtrack = "{uploaded.json()["id"]}"')
    body, headers = share(live_server, soundwave), bearer(viewer_token(live_server, soundwave.secret_key, USER))
    assert wait_for_video(live_server, body["id"], headers)["video"]["status"] == "ready"
    info, _ = decode(http("GET", body["video"]["url"], timeout=30).body)
    assert info["audio"] == ["aac"] and info["codec"] == "h264"
    assert abs(info["duration"] - info["frames"] / 30) < 0.2


@pytest.mark.parametrize("data, reason", [
    (b"ID3" + b"\x00" * 200, "not an audio file"),
    (wav_bytes(3.0)[:44], "damaged"),  # the header of 3 s of audio, and none of it
    (b"this is not audio at all, just some words in a file" * 20, "not an audio file"),
    (jpeg_bytes(), "not an audio file"),
])
def test_a_broken_soundtrack_upload_is_a_clear_415_naming_the_file(soundwave, live_server, data, reason):
    reply = upload_soundtrack(live_server, soundwave, data)
    assert reply.status == 415, reply.body
    error = reply.json()["error"]
    assert reason in error["message"] and "file" in error["details"]


def test_soundtracks_are_the_apps_and_never_served_or_put_on_cards(soundwave, live_server):
    token = viewer_token(live_server, soundwave.secret_key, USER)
    refused = http("POST", live_server.url + "/v1/soundtracks", wav_bytes(1.0),
                   {"Content-Type": "audio/wav", **bearer(token)})
    assert refused.status == 403, refused.body
    uploaded = upload_soundtrack(live_server, soundwave, wav_bytes(1.0)).json()
    assert http("GET", f"{live_server.url}/u/{uploaded['id']}.m4a").status == 404
    card = post_json(live_server, "/v1/shares", {"template": "year-in-music", "upload_id": uploaded["id"]},
                     bearer(token))
    assert card.status == 422 and "upload_id" in card.json()["error"]["details"]


def test_a_template_with_video_off_makes_shares_without_one(app, soundwave, live_server):
    app_template(app.instance_path, soundwave.app_id, "year-in-music", shipped_with("[video]\nenabled = false"))
    body = share(live_server, soundwave)
    assert body["video"]["status"] == "off"
    reply = http("GET", body["video"]["url"])
    assert reply.status == 404 and reply.json()["error"]["details"] == {"video": "off"}
    assert queue_of(app).depth() == 1  # the images' job only
