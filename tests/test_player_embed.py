"""Real stories in the player: /embed with viewer tokens, the host bridge, sharing, stored engagement.

Each test's app has two test templates (player_helpers.TEMPLATE, with slow and with quick frames)
and a listener, ana, whose plays went in through /v1/batch.
"""
from __future__ import annotations

import urllib.parse

import pytest

from helpers.player import (
    ENGAGEMENT_SQL,
    IOS_HANDLER,
    XSS,
    HostSite,
    fill,
    host_page,
    index,
    player_page,
    preview_story,
    state,
    viewer_token,
    wait_index,
    wait_js,
    wait_rows,
)
from helpers.server import http

pytestmark = pytest.mark.browser


def test_embed_auto_advances_to_the_end_and_stores_engagement(phone, live_server, music, query):
    token = viewer_token(live_server, music, "ana")
    phone.goto(f"{live_server.url}/embed/player-quick?token={token}")
    phone.wait_for_selector(".recap-player[data-index='0']")
    assert "token" not in phone.url                      # moved out of the visible URL
    phone.wait_for_selector(".recap-player[data-state='ended']", timeout=15_000)
    assert index(phone) == 3 and fill(phone, 3) == 1
    phone.keyboard.press("Escape")
    rows = wait_rows(query, ENGAGEMENT_SQL, music.app_id, count=7)
    names = [r[0] for r in rows]
    assert names[0] == "story_viewed" and names[-1] == "story_closed"
    assert {r[1] for r in rows} == {"ana"}
    frames = [(r[2], r[3], r[4]) for r in rows if r[0] == "frame_viewed"]
    assert frames == [("intro", "auto", 0), ("plays", "auto", 1), ("top-artists", "auto", 2),
                      ("card", "manual", 3)]
    assert "story_completed" in names
    progress = query("SELECT json_extract(properties, '$.progress'), json_extract(properties, '$.template') "
                     "FROM event WHERE name = 'story_closed'")
    assert progress == [(1, "player-quick")]


def test_engagement_events_name_frames_pauses_and_buttons(phone, live_server, music, query):
    token = viewer_token(live_server, music, "ana")
    phone.goto(f"{live_server.url}/embed/player-test?token={token}")
    phone.wait_for_selector(".recap-player[data-index='0']")
    phone.touchscreen.tap(300, 420)
    wait_index(phone, 1)
    phone.mouse.move(300, 420)
    phone.mouse.down()
    phone.wait_for_selector(".recap-player[data-state='paused']")
    phone.mouse.up()
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 2)
    assert phone.locator(".recap-item-label", has_text=XSS).count() == 1   # an event property, as text
    phone.click("button[data-button-id='play-top']")
    phone.keyboard.press("ArrowLeft")
    wait_index(phone, 1)
    phone.evaluate("RecapPlayer.flush()")
    rows = wait_rows(query, ENGAGEMENT_SQL, music.app_id, count=6)
    got = [(r[0], r[2]) for r in rows]
    assert got[:5] == [("story_viewed", None), ("frame_viewed", "intro"), ("story_paused", "plays"),
                       ("frame_viewed", "plays"), ("button_clicked", "top-artists")]
    assert ("frame_viewed", "top-artists") in got
    assert query("SELECT json_extract(properties, '$.action'), json_extract(properties, '$.button_id') "
                 "FROM event WHERE name = 'button_clicked'") == [("deep_link", "play-top")]
    assert {r[1] for r in rows} == {"ana"}


def test_deep_link_button_posts_to_the_host_page(phone, live_server, music, site):
    token = viewer_token(live_server, music, "ana")
    phone.goto(site.page("/app", host_page(f"{live_server.url}/embed/player-test?token={token}")))
    frame = phone.frame_locator("iframe")
    frame.locator(".recap-player[data-index='0']").wait_for()
    frame.locator(".recap-next").click()
    frame.locator(".recap-player[data-index='1']").wait_for()
    frame.locator(".recap-next").click()
    frame.locator("button[data-button-id='play-top']").click()
    phone.wait_for_function("window.messages.some(m => m.type === 'deep_link')")
    messages = phone.evaluate("window.messages")
    assert messages[0] == {"source": "recap", "type": "ready", "template": "player-test"}
    assert {"source": "recap", "type": "deep_link", "href": "soundwave://artist/Bj%C3%B6rk"} in messages
    frame.locator(".recap-close").click()
    phone.wait_for_function("window.messages.some(m => m.type === 'close')")


def test_closing_a_bare_embed_page_says_so_and_offers_the_story_again(phone, live_server, music):
    # Opened as a page of its own (no app, no frame around it), closing went back in history or
    # left the page black.
    token = viewer_token(live_server, music, "ana")
    phone.goto(f"{live_server.url}/embed/player-test?token={token}")
    phone.wait_for_selector(".recap-player[data-index='0']")
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    url = phone.url
    phone.get_by_role("button", name="Close story").click()
    panel = phone.locator(".recap-closed[role='status']")
    panel.wait_for()
    assert panel.locator("h2").text_content() == "Story closed"
    assert phone.evaluate("document.activeElement.textContent") == "Watch again"
    assert phone.url == url and phone.locator(".recap-player").is_hidden()
    phone.keyboard.press("Enter")
    wait_index(phone, 0)
    assert state(phone) == "playing" and panel.count() == 0
    phone.keyboard.press("Escape")                       # and it closes again the same way
    panel.wait_for()


def test_closing_a_bare_embed_pages_error_says_so_and_watch_again_asks_again(phone, live_server, music):
    token = viewer_token(live_server, music, "ana")
    phone.goto(f"{live_server.url}/embed/player-test?token={token[:-4]}AAAA")
    phone.get_by_role("button", name="Close").click()
    phone.locator(".recap-closed").wait_for()
    assert phone.locator("[role='alert']").is_hidden()
    with phone.expect_response(lambda r: "/v1/stories/player-test" in r.url):
        phone.get_by_role("button", name="Watch again").click()
    phone.locator("[role='alert'][data-error='invalid']").wait_for()   # the token is still a bad one


def test_embed_refuses_hosts_outside_frame_ancestors(phone, live_server, music):
    token = viewer_token(live_server, music, "ana")
    other = HostSite()  # same page, but an origin the app did not list
    try:
        phone.goto(other.page("/app", host_page(f"{live_server.url}/embed/player-test?token={token}")))
        phone.wait_for_timeout(1500)
        assert phone.evaluate("window.messages") == []
    finally:
        other.stop()


@pytest.mark.parametrize("kind, heading", [("invalid", "This story link doesn’t work"),
                                           ("expired", "This story link has expired")])
def test_bad_token_shows_a_message_with_retry(phone, live_server, music, query, kind, heading):
    token = viewer_token(live_server, music, "ana")
    if kind == "invalid":
        token = token[:-4] + "AAAA"
    else:
        query("UPDATE viewer_grant SET expires_at = 0")
    phone.goto(f"{live_server.url}/embed/player-test?token={token}")
    alert = phone.locator("[role='alert']")
    alert.wait_for()
    assert alert.locator("h2").text_content() == heading
    assert phone.evaluate("document.activeElement.textContent") == "Try again"


def test_the_embed_page_plays_the_story_it_came_with_asking_for_nothing_but_its_font(phone, live_server, music):
    asked = []
    phone.on("request", lambda r: asked.append(r.url.split("?")[0]) if not r.url.startswith("data:") else None)
    phone.goto(f"{live_server.url}/embed/player-test?token={viewer_token(live_server, music, 'ana')}")
    phone.wait_for_selector(".recap-player[data-index='0'][data-state='playing']")
    assert phone.text_content(".recap-in .recap-title") == "Your month in music"
    before_frame = [u.rsplit("/", 1)[-1].split(".")[0] for u in asked if "/v1/batch" not in u and "favicon" not in u]
    assert before_frame == ["player-test", "manrope-latin"], asked


def test_network_error_then_retry_loads_the_story(phone, live_server, site, music):
    # A host page's player asks for the story itself (the embed page brings it in the page).
    token = viewer_token(live_server, music, "ana")
    failures = []

    def flaky(route):
        if not failures:
            failures.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    phone.route("**/v1/stories/**", flaky)
    phone.goto(site.page("/", player_page(live_server)))
    phone.evaluate("([token, host]) => { Recap.story('#mount', {token, host, template: 'player-test'}); }",
                   [token, live_server.url])
    phone.locator("[role='alert'][data-error='network']").wait_for()
    phone.get_by_role("button", name="Try again").click()
    phone.wait_for_selector(".recap-player[data-index='0']")
    assert phone.text_content(".recap-title") == "Your month in music"


def test_leaving_the_page_sends_engagement_by_beacon(phone, live_server, music, query):
    token = viewer_token(live_server, music, "ana")
    phone.goto(f"{live_server.url}/embed/player-test?token={token}")
    phone.wait_for_selector(".recap-player[data-index='0']")
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    phone.goto("about:blank")   # pagehide: only sendBeacon (token in the body) gets out
    rows = wait_rows(query, "SELECT user_id, json_extract(properties, '$.how'), json_extract(properties, '$.progress') "
                     "FROM event WHERE name = 'story_closed'", count=1)
    assert len(rows) == 1 and rows[0][:2] == ("ana", "page_hidden") and 0.25 <= rows[0][2] < 0.5


def open_card(phone, live_server, music, user: str = "ana") -> None:
    token = viewer_token(live_server, music, user)
    phone.goto(f"{live_server.url}/embed/player-test?token={token}")
    phone.wait_for_selector(".recap-player[data-index='0']")
    phone.keyboard.press("End")
    wait_index(phone, 3)


def test_native_webview_shares_to_instagram_stories_and_the_phone_through_the_host(phone, live_server, music, query):
    # The one thing that cannot run here is iOS itself: its message handler is stood in for.
    phone.add_init_script(IOS_HANDLER)
    open_card(phone, live_server, music)
    phone.click(".recap-frame:last-child .recap-btn")          # the card's default share button
    sheet = phone.locator(".recap-dialog")
    sheet.get_by_role("button", name="Instagram Stories").click()
    wait_js(phone, "window.sent.some(m => m.type === 'share')")
    share = next(m for m in phone.evaluate("window.sent") if m["type"] == "share")
    assert share["channel"] == "instagram_stories" and "/s/" in share["url"]
    assert share["image"].endswith("/story.png") and share["sticker"].endswith("/sticker.png")
    assert share["background_top"].startswith("#") and share["background_bottom"].startswith("#")
    assert share["title"] == "Your month in music" and share["text"].startswith("My ")
    for image in ("image", "sticker"):
        assert http("GET", share[image]).status == 200          # the files the host will hand on
    phone.click(".recap-frame:last-child .recap-btn")
    sheet.get_by_role("button", name="More…").click()
    wait_js(phone, "window.sent.filter(m => m.type === 'share').length === 2")
    again = [m for m in phone.evaluate("window.sent") if m["type"] == "share"][1]
    assert again["channel"] == "system" and again["url"] == share["url"]
    phone.keyboard.press("Escape")
    wait_js(phone, "window.sent.some(m => m.type === 'close')")
    rows = wait_rows(query, "SELECT json_extract(properties, '$.channel') FROM event WHERE name = 'story_shared' "
                     "ORDER BY id", count=2)
    assert rows == [("instagram_stories",), ("more",)]


def test_browser_without_web_share_offers_the_places_people_share_to(phone, live_server, music, query):
    phone.add_init_script("delete Navigator.prototype.share; window.opened = [];"
                          "window.open = (url) => { window.opened.push(url); return null; };")
    open_card(phone, live_server, music)
    phone.click(".recap-frame:last-child .recap-btn")
    sheet = phone.locator(".recap-dialog")
    sheet.wait_for(timeout=15_000)
    assert state(phone) == "paused"
    url = sheet.locator("input").input_value()
    assert "/s/" in url
    channels = sheet.locator(".recap-target").evaluate_all("els => els.map(e => e.dataset.channel)")
    # No app: no Instagram. The video is being drawn (no worker runs here): its button says so when tapped.
    assert channels == ["whatsapp", "x", "facebook", "telegram", "download", "download_video", "copy_link"]
    for name in ("WhatsApp", "X", "Facebook", "Telegram"):
        sheet.get_by_role("button", name=name, exact=True).click()
    opened = phone.evaluate("window.opened")
    quoted, text = urllib.parse.quote(url, safe=""), urllib.parse.quote("My ", safe="")
    assert opened[0].startswith(f"https://wa.me/?text={text}") and opened[0].endswith(quoted)
    assert opened[1].startswith(f"https://x.com/intent/post?text={text}") and opened[1].endswith(f"&url={quoted}")
    assert opened[2] == f"https://www.facebook.com/sharer/sharer.php?u={quoted}"
    assert opened[3].startswith(f"https://t.me/share/url?url={quoted}&text={text}")
    download = sheet.get_by_role("link", name="Download image")
    assert download.get_attribute("download") == "story.png" and download.get_attribute("href").endswith("/story.png")
    sheet.get_by_role("button", name="Download video").click()
    sheet.get_by_role("button", name="Video on its way… try again soon").wait_for()
    sheet.get_by_role("button", name="Copy link").click()
    expect_text = sheet.locator("[data-channel='copy_link']")
    phone.wait_for_function("el => el.textContent !== 'Copy link'", arg=expect_text.element_handle())
    sheet.get_by_role("button", name="Done").click()
    assert phone.locator(".recap-overlay").is_hidden()
    phone.evaluate("RecapPlayer.flush()")
    rows = wait_rows(query, "SELECT json_extract(properties, '$.channel') FROM event WHERE name = 'story_shared' "
                     "ORDER BY id", count=5)
    assert rows == [("whatsapp",), ("x",), ("facebook",), ("telegram",), ("copy_link",)]


WEB_SHARE = """
window.shares = [];
// navigator.share called while the tap is still being dispatched: the strictest reading of "in
// the user's gesture" (iOS Safari's), which a round trip after the tap breaks.
addEventListener('click', () => { window.inTap = true; }, true);
addEventListener('click', () => { window.inTap = false; });
navigator.canShare = () => true;
navigator.share = (data) => {
  window.shares.push({inTap: window.inTap === true, url: data.url, text: data.text,
                      files: (data.files || []).map(f => [f.name, f.type, f.size])});
  return Promise.resolve();
};
"""


def test_web_share_gets_the_card_file_inside_the_tap_and_two_taps_are_one_share(phone, live_server, music):
    phone.add_init_script(WEB_SHARE)
    posts: list[str] = []
    phone.on("request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/v1/shares") else None)
    with phone.expect_response(lambda r: r.url.endswith("/story.png")):  # fetched when the card is drawn
        open_card(phone, live_server, music)
    button = phone.locator(".recap-frame:last-child .recap-btn")
    button.click()
    button.click()
    wait_js(phone, "window.shares.length === 2")
    shares = phone.evaluate("window.shares")
    assert [s["inTap"] for s in shares] == [True, True]
    assert shares[0]["files"][0][:2] == ["story.png", "image/png"] and shares[0]["files"][0][2] > 10_000
    assert shares[0]["url"] == shares[1]["url"] and "/s/" in shares[0]["url"]
    assert shares[0]["text"].startswith("My ")
    assert len(posts) == 1                                      # made once, when the card was drawn


def test_player_mounted_on_another_site_loads_the_users_story(phone, live_server, music, site, query):
    token = viewer_token(live_server, music, "ana")
    phone.goto(site.page("/", player_page(live_server)))
    phone.evaluate("([token, host]) => { window.player = Recap.story('#mount', "
                   "{token, template: 'player-test', host, onClose: p => window.closedWith = p}); }",
                   [token, live_server.url])
    phone.wait_for_selector(".recap-player[data-index='0']")
    assert phone.text_content(".recap-title") == "Your month in music"
    phone.keyboard.press("Escape")
    phone.wait_for_function("window.closedWith && window.closedWith.progress >= 0")
    rows = wait_rows(query, "SELECT name, user_id FROM event WHERE name IN ('story_viewed', 'story_closed') "
                     "ORDER BY id", count=2)
    assert rows == [("story_viewed", "ana"), ("story_closed", "ana")]


def test_engagement_past_64_kib_leaves_in_batches_and_one_oversized_event_alone_is_dropped(
        phone, live_server, music, site, query):
    """The player sends through recap.js's queue (js/shared/batch_queue.js). Its old client put
    everything in one keepalive fetch, which Chromium refuses past 64 KiB, then retried the same
    body every 6 s, so nothing arrived; and one event over the server's 32 KiB limit rode along."""

    story = preview_story()
    big = "x" * 20_000
    story["frames"][0]["buttons"] = [
        {"id": "big", "label": "Big", "action": "event", "href": None, "event": "big_event",
         "properties": {"blob": big}},
        {"id": "huge", "label": "Huge", "action": "event", "href": None, "event": "huge_event",
         "properties": {"blob": big * 2}}]
    token = viewer_token(live_server, music, "ana")
    phone.goto(site.page("/", player_page(live_server)))
    phone.evaluate("([token, host, story]) => { window.player = Recap.story('#mount', {token, host, story,"
                   " template: 'player-test'}); }", [token, live_server.url, story])
    phone.wait_for_selector(".recap-player[data-index='0']")
    for _ in range(5):
        phone.click("[data-button-id='big']")
    phone.click("[data-button-id='huge']")
    phone.evaluate("player.flush()")
    rows = wait_rows(query, "SELECT user_id, length(json_extract(properties, '$.blob')) FROM event "
                     "WHERE app_id = ? AND name = 'big_event'", music.app_id, count=5)
    assert rows == [("ana", 20_000)] * 5
    assert query("SELECT count(*) FROM event WHERE name = 'huge_event'")[0][0] == 0


def test_what_a_failed_beacon_could_not_carry_is_sent_when_the_page_is_visible_again(
        phone, live_server, music, site, query):
    """The old client spliced the queue, and when the beacon was refused (its quota full) tried
    one fetch and forgot the events whatever came of it. Now they wait in the page's memory."""

    token = viewer_token(live_server, music, "ana")
    phone.goto(site.page("/", player_page(live_server)))
    phone.evaluate("""([token, host, story]) => {
      navigator.sendBeacon = () => false;            // the beacon quota is spent
      const fetch = window.fetch.bind(window);       // and no fetch gets out until the page is back
      window.offline = true;
      window.fetch = (...args) => window.offline ? Promise.reject(new TypeError('offline')) : fetch(...args);
      window.player = Recap.story('#mount', {token, host, story, template: 'player-test'});
    }""", [token, live_server.url, preview_story()])
    phone.wait_for_selector(".recap-player[data-index='0']")
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    for hidden in (True, False):
        phone.evaluate("h => { Object.defineProperty(document, 'hidden', {value: h, configurable: true});"
                       " window.offline = h; document.dispatchEvent(new Event('visibilitychange')); }", hidden)
    rows = wait_rows(query, "SELECT name, user_id FROM event WHERE app_id = ? AND name IN "
                     "('story_viewed', 'frame_viewed') ORDER BY id", music.app_id, count=2)
    assert rows == [("story_viewed", "ana"), ("frame_viewed", "ana")]
