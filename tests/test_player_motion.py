"""The story player's motion and input in Chromium at phone size: frames coming and going under
fast input, the count-up, a frame's clock waiting for its media, the swipe down that follows the
finger, the hold that clears the screen, and replay at the end.

Previews (``Recap.story(el, {story})``) run on a host page of another origin, as in
test_player_browser.py; a finger that stays down comes from ``helpers.player.Finger``.
"""
from __future__ import annotations

import pytest

from helpers.player import Finger, fill, frames_on_stage, index, mount_preview, preview_story, state, wait_index

pytestmark = pytest.mark.browser

# Which frames preview_story() has, in order.
IDS = ["intro", "minutes", "top-artists", "clock", "card"]


@pytest.mark.parametrize("gap_ms", [0, 150])
def test_fast_taps_leave_exactly_one_frame_the_right_one(phone, live_server, site, gap_ms):
    # Frames leave in 320 ms; a tap within it once left the frame before it on the stage for good.
    mount_preview(phone, live_server, site, preview_story())
    expected = 0
    for x in (300, 300, 300, 300, 300, 60, 60, 300):   # on to the end and past it, back twice, on
        phone.touchscreen.tap(x, 300)
        expected = min(4, expected + 1) if x > 130 else expected - 1
        phone.wait_for_timeout(gap_ms)
        assert [f for f in frames_on_stage(phone) if f[1] == "shown"] == [[IDS[expected], "shown"]]
    wait_index(phone, 3)
    phone.wait_for_timeout(600)                        # every exit has run its course
    assert frames_on_stage(phone) == [["clock", "shown"]]


def on_share_button(page) -> str:
    """What is on top at the middle of the Share button: the button, or what covers it."""
    share = page.locator("button[data-button-id='share']").bounding_box()
    return page.evaluate("([x, y]) => { const e = document.elementFromPoint(x, y);"
                         " return e.dataset.buttonId || e.outerHTML.slice(0, 300); }",
                         [share["x"] + share["width"] / 2, share["y"] + share["height"] / 2])


def test_keys_pressed_at_once_leave_exactly_one_frame(desktop, live_server, site):
    mount_preview(desktop, live_server, site, preview_story())
    for key in ("ArrowRight", "ArrowRight", "ArrowRight", "End"):
        desktop.keyboard.press(key)
    wait_index(desktop, 4)
    # Pressable as it arrives: a frame moving in was once under the tap zones ("Previous frame").
    assert on_share_button(desktop) == "share"
    desktop.wait_for_timeout(600)
    assert frames_on_stage(desktop) == [["card", "shown"]]
    assert on_share_button(desktop) == "share"         # nothing left over it


# Every text the frame's big number shows, in order, from the moment the frame is added.
WATCH_NUMBER = """() => {
  window.numbers = [];
  new MutationObserver(() => {
    const value = document.querySelector('.recap-frame:last-child .recap-stat-value');
    if (value && numbers[numbers.length - 1] !== value.textContent) numbers.push(value.textContent);
  }).observe(document.querySelector('.recap-stage'), {subtree: true, childList: true, characterData: true});
}"""


def test_the_big_number_counts_up_to_its_value(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story())
    phone.evaluate(WATCH_NUMBER)
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    phone.wait_for_function("numbers[numbers.length - 1] === '12,345'")   # the count-up takes 1.6 s
    seen = phone.evaluate("numbers")
    values = [int(s.replace(",", "")) for s in seen]
    assert seen[-1] == "12,345" and values[0] < 12_345 / 2, seen
    assert len(values) >= 6 and values == sorted(values), seen   # rising, through many steps


@pytest.mark.parametrize(("locale", "final"), [("ar-EG", "١٢٬٣٤٥"), ("fr", "12\u202f345"), ("es", "12.345")])
def test_the_count_up_writes_each_step_as_the_story_writes_its_number(phone, live_server, site, locale, final):
    # It once counted in the browser's own locale, and not at all for digits other than 0-9: an
    # Egyptian story's "٢٬٩٦٣" showed no count-up, a German phone counted "2.963" up to "2,963".
    story = preview_story()
    story["locale"], story["direction"] = locale, "rtl" if locale.startswith("ar") else "ltr"
    story["frames"][1]["stat"]["value"] = final
    mount_preview(phone, live_server, site, story)
    phone.evaluate(WATCH_NUMBER)
    phone.keyboard.press("ArrowLeft" if story["direction"] == "rtl" else "ArrowRight")   # (forward)
    wait_index(phone, 1)
    phone.wait_for_function(f"numbers[numbers.length - 1] === {final!r}")
    seen = phone.evaluate("numbers")
    digits = {c for step in seen for c in step if c.isdigit()}
    assert digits <= {c for c in "0123456789" if locale != "ar-EG"} | ({*"٠١٢٣٤٥٦٧٨٩"} if locale == "ar-EG" else set())
    steps = [int("".join(str(int(c)) for c in step if c.isdigit())) for step in seen]
    assert len(steps) >= 6 and steps == sorted(steps) and steps[0] < 12_345 / 2, seen
    # every step of 5 digits is grouped as the final one is, with its separator
    separator = "".join(c for c in final if not c.isdigit())
    assert all(separator in step for step, n in zip(seen, steps, strict=True) if n >= 10_000), seen


def test_with_reduced_motion_the_number_is_final_at_once(phone, live_server, site):
    phone.emulate_media(reduced_motion="reduce")
    mount_preview(phone, live_server, site, preview_story())
    phone.evaluate(WATCH_NUMBER)
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    phone.wait_for_timeout(600)
    assert phone.evaluate("numbers") == ["12,345"]


def test_a_frames_clock_waits_for_its_picture(phone, live_server, site):
    # On a slow network a photo frame ran its time out blank: its clock started before the photo.
    held = []
    phone.route("**/media/1.png", lambda route: held.append(route))
    story = preview_story(duration_ms=3_000, media=site.url)
    story["frames"][0]["duration_ms"] = 60_000        # only the key moves on from the first
    mount_preview(phone, live_server, site, story)
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    phone.wait_for_timeout(900)
    assert held, "the photo was asked for"
    assert phone.evaluate("document.querySelector('.recap-frame:last-child .recap-img').complete") is False
    assert fill(phone, 1) == 0 and state(phone) == "loading"
    assert phone.get_attribute(".recap-pause", "aria-label") == "Pause story"   # a wait, not a pause
    for route in held:
        route.continue_()
    phone.wait_for_function("document.querySelector('.recap-frame:last-child .recap-img').naturalWidth > 0")
    phone.wait_for_selector(".recap-player[data-state='playing']")
    phone.wait_for_timeout(600)
    assert 0.05 < fill(phone, 1) < 0.6 and index(phone) == 1


def player_top(page) -> float:
    return page.evaluate("document.querySelector('.recap-player').getBoundingClientRect().top")


def chrome_opacity(page) -> list[str]:
    return page.evaluate("['.recap-progress', '.recap-top']"
                         ".map(s => getComputedStyle(document.querySelector(s)).opacity)")


def test_swipe_down_follows_the_finger_and_closes_only_past_the_threshold(phone, live_server, site):
    phone.add_init_script("window.closes = []")
    mount_preview(phone, live_server, site, preview_story(), "onClose: p => closes.push(p)")
    finger = Finger(phone)
    finger.down(200, 300)
    finger.move(200, 420)                              # 120 px down: not far enough to close
    assert player_top(phone) > 90 and state(phone) == "paused"   # the story went with the finger
    finger.up()
    phone.wait_for_function("Math.abs(document.querySelector('.recap-player').getBoundingClientRect().top) < 1")
    assert phone.evaluate("closes") == [] and state(phone) == "playing" and index(phone) == 0
    finger.down(200, 300)
    finger.move(200, 560)                              # 260 px: past it
    finger.up()
    phone.wait_for_function("closes.length === 1")
    assert player_top(phone) > 260                     # and on its way out, not back


def test_holding_hides_the_chrome_and_letting_go_brings_it_back(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story())
    assert chrome_opacity(phone) == ["1", "1"]
    finger = Finger(phone)
    finger.down(250, 500)
    phone.wait_for_selector(".recap-player[data-state='paused']")
    phone.wait_for_function("['.recap-progress', '.recap-top']"
                            ".every(s => getComputedStyle(document.querySelector(s)).opacity === '0')")
    finger.up()
    phone.wait_for_function("['.recap-progress', '.recap-top']"
                            ".every(s => getComputedStyle(document.querySelector(s)).opacity === '1')")
    assert state(phone) == "playing" and index(phone) == 0


def test_replay_at_the_end_starts_again_from_the_first_frame(phone, live_server, site):
    story = preview_story()
    story["frames"][4]["duration_ms"] = 500            # the card's time runs out soon
    mount_preview(phone, live_server, site, story)
    replay = phone.get_by_role("button", name="Replay story")
    phone.keyboard.press("End")
    wait_index(phone, 4)
    assert replay.is_hidden()                          # only once the story is over
    phone.wait_for_selector(".recap-player[data-state='ended']")
    replay.focus()                                     # a keyboard's press, and the focus stays in the top bar
    phone.keyboard.press("Enter")
    wait_index(phone, 0)
    assert fill(phone, 4) == 0 and replay.is_hidden() and state(phone) == "playing"
    assert phone.evaluate("document.activeElement.getAttribute('aria-label')") == "Pause story"
    phone.keyboard.press("ArrowRight")                 # and the keys still move the story
    wait_index(phone, 1)
