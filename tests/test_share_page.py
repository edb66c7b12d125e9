"""The public share page in a real browser: phone and desktop layouts, images and the app link."""
from __future__ import annotations

import pytest

from helpers.browser import leave
from helpers.share import share

pytestmark = pytest.mark.browser


def _images_loaded(page) -> dict:
    return page.evaluate("""() => Object.fromEntries([...document.images].map(
        img => [img.getAttribute('src').split('/').pop(), img.complete ? img.naturalWidth : 0]))""")


def test_phone_shows_the_card_first_and_keeps_the_app_button_in_reach(soundwave, live_server, phone):
    body = share(live_server, soundwave, caption="that song on the night bus")
    phone.goto(body["url"])
    phone.wait_for_load_state("networkidle")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    loaded = _images_loaded(phone)
    assert loaded["story.png"] == 1080 and loaded["qr.png"] >= 600
    card = phone.locator("figure.card img").bounding_box()
    assert card["y"] < 120 and card["width"] >= 340
    docked = phone.locator("nav.dock a.open")
    assert docked.is_visible() and docked.get_attribute("href") == body["deep_link"]
    box = docked.bounding_box()
    assert box["y"] + box["height"] <= 844 and box["height"] >= 44  # a thumb-sized target on screen
    assert phone.locator("blockquote.caption").inner_text() == "“that song on the night bus”"


def test_desktop_puts_the_card_beside_the_details(soundwave, live_server, browser):
    body = share(live_server, soundwave)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        page.goto(body["url"])
        page.wait_for_load_state("networkidle")
        card = page.locator("figure.card").bounding_box()
        details = page.locator("section.details").bounding_box()
        assert card["x"] + card["width"] < details["x"]
        assert not page.locator("nav.dock").is_visible()
        assert page.locator("section.details a.open").is_visible()
        family = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
        assert family.lstrip('"').startswith("Manrope")
        assert page.evaluate("document.fonts.check('800 40px Manrope')")
    finally:
        leave(page)
        context.close()


def test_gone_page_is_a_page_too(soundwave, live_server, phone):
    from helpers.server import basic, http
    body = share(live_server, soundwave)
    http("DELETE", f"{live_server.url}/v1/shares/{body['id']}", None, basic(soundwave.secret_key))
    response = phone.goto(body["url"])
    assert response.status == 410
    assert "isn’t shared any more" in phone.locator("h1").inner_text()
