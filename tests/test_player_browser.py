"""The story player in Debian's Chromium at phone size: interactions, rendering, accessibility.

Previews (``Recap.story(el, {story})``) run on a host page served by a second local server (another
origin than the Recap server's, like a customer's site).
"""
from __future__ import annotations

import pytest

from helpers.player import (
    RECORD_VIDEO,
    TEMPLATE,
    XSS,
    fill,
    index,
    mount_preview,
    player_page,
    preview_story,
    state,
    viewer_token,
    wait_index,
)
from helpers.story import app_template

pytestmark = pytest.mark.browser


def test_tap_and_keys_move_forward_and_back(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story())
    assert phone.locator(".recap-seg").count() == 5
    phone.touchscreen.tap(300, 420)
    wait_index(phone, 1)
    phone.touchscreen.tap(300, 420)
    wait_index(phone, 2)
    phone.touchscreen.tap(60, 420)          # left third goes back
    wait_index(phone, 1)
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 2)
    phone.keyboard.press("ArrowLeft")
    wait_index(phone, 1)
    phone.keyboard.press("End")
    wait_index(phone, 4)
    phone.keyboard.press("Home")
    wait_index(phone, 0)
    assert fill(phone, 1) == 0 and fill(phone, 4) == 0


def test_swipe_moves_between_frames(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story())
    for start, end, expected in [(320, 80, 1), (320, 80, 2), (80, 320, 1)]:
        phone.mouse.move(start, 500)
        phone.mouse.down()
        phone.mouse.move((start + end) / 2, 505, steps=3)
        phone.mouse.move(end, 510, steps=3)
        phone.mouse.up()
        wait_index(phone, expected)


def test_a_hold_that_ends_in_a_swipe_still_swipes(phone, live_server, site):
    # A slow start (or a loaded machine between the press and the first move) makes a hold first.
    mount_preview(phone, live_server, site, preview_story())  # 60 s frames: only the swipe can move it
    phone.mouse.move(320, 500)
    phone.mouse.down()
    phone.wait_for_selector(".recap-player[data-state='paused']")
    phone.mouse.move(200, 505, steps=3)
    phone.mouse.move(80, 510, steps=3)
    phone.mouse.up()
    wait_index(phone, 1)
    assert state(phone) == "playing"


def test_hold_pauses_and_release_resumes_without_moving(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story(duration_ms=4_000))
    phone.mouse.move(300, 420)
    phone.mouse.down()
    phone.wait_for_selector(".recap-player[data-state='paused']")
    held_at = fill(phone, 0)
    phone.wait_for_timeout(700)
    assert fill(phone, 0) == pytest.approx(held_at, abs=0.01)   # the clock stands still
    phone.mouse.up()
    assert state(phone) == "playing" and index(phone) == 0      # release does not navigate
    phone.wait_for_timeout(500)
    assert fill(phone, 0) > held_at + 0.05


def test_space_pauses_and_hidden_page_pauses(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story())
    phone.keyboard.press(" ")
    assert state(phone) == "paused"
    assert phone.get_attribute(".recap-pause", "aria-label") == "Play story"
    phone.keyboard.press(" ")
    assert state(phone) == "playing"
    phone.evaluate("Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
                   "document.dispatchEvent(new Event('visibilitychange'))")
    assert state(phone) == "paused"
    phone.evaluate("Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
                   "document.dispatchEvent(new Event('visibilitychange'))")
    assert state(phone) == "playing"


def test_only_the_next_frames_media_is_preloaded(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story(media=site.url))
    phone.wait_for_timeout(300)
    media = lambda: sorted({u.rsplit("/", 1)[1] for u in site.requests if "/media/" in u})  # noqa: E731
    assert media() == ["1.png"]
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    assert state(phone) == "playing"                   # its photo came ahead: no wait for it
    phone.wait_for_timeout(300)
    assert media() == ["1.png", "2.png"]
    assert phone.get_attribute(".recap-img", "alt") == "photo 1"


def test_share_without_web_share_opens_the_share_sheet_and_pauses(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story())
    phone.keyboard.press("End")
    wait_index(phone, 4)
    phone.evaluate("delete Navigator.prototype.share")
    phone.click("button[data-button-id='share']")
    dialog = phone.locator(".recap-dialog")
    dialog.wait_for()
    assert state(phone) == "paused"
    assert dialog.locator("input").input_value().startswith(site.url)  # a preview shares its page
    assert phone.evaluate("document.activeElement.dataset.channel") == "whatsapp"  # the first target
    dialog.get_by_role("button", name="Done").click()
    assert phone.locator(".recap-overlay").is_hidden()


def test_markup_in_story_strings_renders_as_text(phone, live_server, site):
    story = preview_story()
    story["title"] = XSS
    story["frames"][0]["title"] = XSS
    story["frames"][2]["items"][0]["label"] = XSS
    story["frames"][3]["chart"]["labels"][1] = XSS
    story["frames"][4]["buttons"][0]["label"] = XSS
    story["card"]["list"]["items"][0] = XSS
    dialogs: list[str] = []
    phone.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    mount_preview(phone, live_server, site, story)
    assert phone.text_content(".recap-title") == XSS
    for _ in range(4):
        phone.keyboard.press("ArrowRight")
        phone.wait_for_timeout(150)
    wait_index(phone, 4)
    assert phone.text_content("button[data-button-id='share']") == XSS
    assert phone.locator(".recap-card-list li").first.text_content() == XSS
    assert phone.locator("img[src='x']").count() == 0
    assert phone.evaluate("window.__pwned") is None and dialogs == []


def test_screen_reader_labels_and_live_region(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story())
    player = phone.locator(".recap-player")
    assert player.get_attribute("role") == "region" and player.get_attribute("aria-roledescription") == "story"
    assert phone.get_by_role("button", name="Next frame").count() == 1
    assert phone.get_by_role("button", name="Close story").count() == 1
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    assert phone.text_content(".recap-live") == "Frame 2 of 5. You listened for"
    assert phone.get_attribute(".recap-frame:last-child", "aria-label") == "2 of 5: You listened for"
    phone.keyboard.press("ArrowRight")
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 3)
    assert "Tue: 9" in phone.get_attribute(".recap-frame:last-child svg", "aria-label")


def test_keyboard_focus_is_visible(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story())
    phone.keyboard.press("Tab")
    focused = phone.evaluate("(() => { const s = getComputedStyle(document.activeElement);"
                             " return [document.activeElement.getAttribute('aria-label'),"
                             " s.outlineStyle, s.outlineWidth]; })()")
    assert focused == ["Previous frame", "solid", "3px"]


def test_reduced_motion_shows_final_numbers_without_animation(phone, live_server, site):
    phone.emulate_media(reduced_motion="reduce")
    mount_preview(phone, live_server, site, preview_story())
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    assert phone.text_content(".recap-frame:last-child .recap-stat-value") == "12,345"   # no count-up
    duration = phone.evaluate("getComputedStyle(document.querySelector('.recap-frame')).transitionDuration")
    assert all(float(d.rstrip("s")) <= 0.001 for d in duration.split(","))


def test_video_frame_plays_muted_inline_and_advances_at_its_end(phone, live_server, site):
    phone.goto(site.page("/", player_page(live_server)))
    src = phone.evaluate(RECORD_VIDEO)             # a 2.5 s clip made in the page: no codec tools needed
    story = preview_story()
    story["frames"][1] = {**story["frames"][1], "id": "clip", "kind": "video", "duration_ms": None,
                          "stat": None, "title": "Your year in motion",
                          "media": {"src": src, "alt": "A colourful clip", "poster": None}}
    phone.evaluate("s => { window.player = Recap.story('#mount', {story: s}); }", story)
    phone.wait_for_selector(".recap-player[data-index='0']")
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    video = phone.locator(".recap-video")
    video.evaluate("v => v.addEventListener('ended', () => { window.videoEndedAt = performance.now(); })")
    phone.evaluate("""() => new MutationObserver(() => {
        if (!window.advancedAt && document.querySelector('.recap-player').dataset.index === '2')
          window.advancedAt = performance.now();
      }).observe(document.querySelector('.recap-player'), {attributes: true})""")
    assert video.evaluate("v => [v.muted, v.playsInline, v.getAttribute('aria-label')]") == \
        [True, True, "A colourful clip"]
    phone.wait_for_function("document.querySelector('.recap-video').currentTime > 0.2")
    phone.get_by_role("button", name="Tap for sound").click()
    assert video.evaluate("v => v.muted") is False
    assert phone.get_attribute(".recap-mute", "aria-label") == "Turn sound off"
    phone.keyboard.press(" ")
    assert video.evaluate("v => v.paused") is True     # pausing the story pauses the video
    phone.keyboard.press(" ")
    phone.wait_for_selector(".recap-player[data-index='2']", timeout=15_000)
    # At its own end, on the page's clock: as the clip ended (the player's handler runs before
    # ours), not when the 6 s default frame time would have run out, 3.5 s after this clip's end.
    ended_at, advanced_at = phone.evaluate("[window.videoEndedAt, window.advancedAt]")
    assert ended_at is not None and abs(advanced_at - ended_at) < 2_000, (ended_at, advanced_at)


def test_keys_in_the_share_dialog_do_not_move_the_story(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story())
    phone.keyboard.press("End")
    wait_index(phone, 4)
    phone.evaluate("delete Navigator.prototype.share")
    phone.click("button[data-button-id='share']")
    link = phone.locator(".recap-dialog input")
    link.focus()
    for key in ["End", "ArrowLeft", "Home", " "]:
        link.press(key)                                # moves the caret, not the story
    assert index(phone) == 4 and state(phone) == "paused" and phone.locator(".recap-dialog").is_visible()
    phone.keyboard.press("Escape")                     # closes the dialog, not the story
    assert phone.locator(".recap-overlay").is_hidden() and state(phone) == "playing"
    phone.keyboard.press("ArrowLeft")                  # the story has its keys back
    wait_index(phone, 3)


def test_a_hold_released_off_the_player_resumes(desktop, live_server, site):
    mount_preview(desktop, live_server, site, preview_story(duration_ms=4_000))
    box = desktop.locator(".recap-player").bounding_box()
    assert box["y"] > 10                               # a centred phone, with page above it
    x, y = box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2
    desktop.mouse.move(x, y)
    desktop.mouse.down()
    desktop.wait_for_selector(".recap-player[data-state='paused']")
    desktop.mouse.move(x, 5, steps=5)                  # up and out of the player, then let go
    desktop.mouse.up()
    assert state(desktop) == "playing" and index(desktop) == 0
    held_at = fill(desktop, 0)
    desktop.wait_for_timeout(500)
    assert fill(desktop, 0) > held_at + 0.05


def test_destroy_while_the_story_loads_leaves_nothing_behind(phone, live_server, site, music):
    token = viewer_token(live_server, music, "ana")
    phone.goto(site.page("/", player_page(live_server)))
    with phone.expect_response(lambda r: "/v1/stories/player-test" in r.url and r.status == 200):
        phone.evaluate("([token, host]) => { window.events = []; Recap.story('#mount', {token, host,"
                       " template: 'player-test', onAnalytics: e => events.push(e.event)}).destroy(); }",
                       [token, live_server.url])
    phone.wait_for_timeout(300)                        # the story has arrived, too late
    mount = phone.locator("#mount")
    assert mount.evaluate("m => [m.childElementCount, m.className]") == [0, ""]
    assert phone.evaluate("events") == []


def test_not_eligible_shows_the_templates_message_as_text_without_retry(phone, app, live_server, site, music):
    gated = TEMPLATE.format(id="player-gated", ms=60_000).replace('min = 1', 'min = 1000')
    app_template(app.instance_path, music.app_id, "player-gated",
                 gated.replace('"Play a song first."', f"'Play more. {XSS}'"))
    token = viewer_token(live_server, music, "ana")
    phone.goto(site.page("/", player_page(live_server)))
    phone.evaluate("([token, host]) => { Recap.story('#mount', {token, host, template: 'player-gated'}); }",
                   [token, live_server.url])
    error = phone.locator(".recap-error[data-error='not_eligible']")
    error.wait_for()
    assert error.locator("p").text_content().startswith(f"Play more. {XSS} This story covers ")  # + its days
    assert error.locator("button").count() == 0        # trying again would not make ana eligible
    assert phone.locator("img[src='x']").count() == 0 and phone.evaluate("window.__pwned") is None


def set_hidden(page, hidden: bool) -> float:
    """Hide or show the page; the page's clock (ms) after hiding, or before showing, so that
    the time between two calls is within the time the page was hidden."""
    return page.evaluate("h => { const before = performance.now();"
                         " Object.defineProperty(document, 'hidden', {value: h, configurable: true});"
                         " document.dispatchEvent(new Event('visibilitychange'));"
                         " return h ? performance.now() : before; }", hidden)


def test_dwell_counts_only_the_time_the_page_was_visible(phone, live_server, site):
    phone.goto(site.page("/", player_page(live_server)))
    phone.evaluate("s => { window.events = []; window.mountedAt = performance.now(); window.player = "
                   "Recap.story('#mount', {story: s, onAnalytics: e => events.push(e)}); }", preview_story())
    wait_index(phone, 0)
    hidden_at = set_hidden(phone, True)
    phone.wait_for_timeout(1_500)                      # in the background: not being watched
    shown_at = set_hidden(phone, False)
    phone.wait_for_timeout(400)
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    dwell = phone.evaluate("events.filter(e => e.event === 'frame_viewed').map(e => e.properties.dwell_ms)")
    # Measured on the page's clock, so a slow machine moves both sides alike: the frame was on
    # screen at most from the mount to now, less the time the page was certainly hidden.
    visible_at_most = phone.evaluate("performance.now() - mountedAt") - (shown_at - hidden_at)
    assert len(dwell) == 1 and 400 <= dwell[0] <= visible_at_most + 1, (dwell, visible_at_most)


# The shipped year-in-music card: three stats and five names, some of them long and unbroken.
FULL_CARD = {"title": "Maximilianus_Wolfeschlegelsteinhausenbergerdorff's 2026", "subtitle": "The Night Owl",
             "stats": [{"label": "Minutes listened", "value": "48,210"}, {"label": "Top genre", "value": "Indie pop"},
                       {"label": "Listener rank", "value": "Top 2%"}],
             "list": {"title": "Top artists", "items": ["Phoebe Bridgers", "Mitski", "Björk", "Radiohead",
                                                        "Wolfeschlegelsteinhausenbergerdorff_Orchestra"]},
             "image": None, "theme": {}, "footer": "soundwave.app"}

CLIPPED = """() => {
  const frame = document.querySelector('.recap-frame:last-child');
  const card = frame.querySelector('.recap-card'), edge = card.getBoundingClientRect();
  const player = document.querySelector('.recap-player').getBoundingClientRect();
  const inside = (r, box) => r.top >= box.top - .5 && r.bottom <= box.bottom + .5
    && r.left >= box.left - .5 && r.right <= box.right + .5;
  return [...card.querySelectorAll('h2, p, dt, dd, li')].filter(n => !inside(n.getBoundingClientRect(), edge)
      || n.scrollWidth > n.clientWidth + 1)
    .concat([...frame.querySelectorAll('.recap-card, .recap-actions button')]
      .filter(n => !inside(n.getBoundingClientRect(), player)))
    .map(n => n.textContent);
}"""


@pytest.mark.parametrize("width, height", [(360, 640), (390, 844), (1440, 900)])
def test_the_full_card_fits_without_clipping(phone, live_server, site, width, height):
    phone.set_viewport_size({"width": width, "height": height})
    phone.emulate_media(reduced_motion="reduce")       # final layout at once, the card upright
    story = preview_story()
    story["card"] = FULL_CARD
    mount_preview(phone, live_server, site, story)
    phone.keyboard.press("End")
    wait_index(phone, 4)
    phone.evaluate("document.fonts.ready.then(() => true)")   # measured in the player's own font
    assert phone.evaluate(CLIPPED) == []


def test_the_story_waits_unseen_and_still_for_its_stylesheet(phone, live_server, site):
    # A customer's page adds the player's stylesheet when the story mounts; on a slow network the
    # story showed as unstyled text while its first frame's clock ran out unseen.
    held = []
    phone.route("**/widget/player.css", lambda route: held.append(route))
    phone.goto(site.page("/", player_page(live_server)))
    phone.evaluate("s => { window.player = Recap.story('#mount', {story: s}); }", preview_story())
    phone.wait_for_selector(".recap-player[data-index='0']", state="attached")
    phone.wait_for_timeout(600)  # longer than nothing, far shorter than a frame
    assert phone.evaluate("getComputedStyle(document.querySelector('#mount')).opacity") == "0"
    assert state(phone) == "loading"   # still, but not a pause the pause button would show
    assert held, "the page asked for the stylesheet"
    held[0].continue_()
    phone.wait_for_selector(".recap-player[data-index='0'][data-state='playing']")
    assert phone.evaluate("getComputedStyle(document.querySelector('#mount')).opacity") == "1"
    assert fill(phone, 0) < 0.5
