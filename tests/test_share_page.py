"""The public share page in a real browser: phone and desktop layouts, images and the app link."""
from __future__ import annotations

import pytest

from helpers.browser import leave
from helpers.share import share
from widget_server.store.db import database
from widget_server.store.models import App

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
    assert loaded == {"story.png": 1080}  # the card, with its own QR code: no second one
    card = phone.locator("figure.card img").bounding_box()
    assert card["y"] < 120 and card["width"] >= 340
    docked = phone.locator("nav.dock a.open")
    assert docked.is_visible() and docked.get_attribute("href") == body["deep_link"]
    box = docked.bounding_box()
    assert box["y"] + box["height"] <= 844 and box["height"] >= 44  # a thumb-sized target on screen
    assert phone.locator("blockquote.caption").inner_text() == "“that song on the night bus”"


@pytest.mark.parametrize("size", [(390, 844), (360, 640)])
def test_on_a_phone_the_app_button_never_covers_the_text_and_nothing_is_said_twice(soundwave, live_server,
                                                                                      browser, size):
    body = share(live_server, soundwave, caption="that song on the night bus")
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(body["url"])
        page.wait_for_load_state("networkidle")
        texts = page.locator("section.details h1, section.details .subtitle, section.details .caption, "
                             "section.details .web, section.invite")
        height = page.evaluate("document.documentElement.scrollHeight")
        for top in range(0, height, 120):  # scrolled down the page, a step at a time
            page.evaluate(f"window.scrollTo(0, {top})")
            dock = page.locator("nav.dock").bounding_box()
            for box in texts.evaluate_all("els => els.map(e => e.getBoundingClientRect().toJSON())"):
                overlap = min(dock["y"] + dock["height"], box["bottom"]) - max(dock["y"], box["top"])
                assert overlap <= 0, (top, box)
        # One "Open in …" in reach, not two; the card's stats and list are not printed again under it.
        assert [a.is_visible() for a in page.locator("a.open").all()] == [True, False]
        assert page.locator(".card-text").bounding_box()["width"] <= 1  # for screen readers only
        assert page.locator(".card-text dl.stats, .card-text ol.top").count() == 2
        assert page.locator("dl.stats, ol.top").count() == 2
        assert page.locator("ol.top li").first.inner_text() == "Björk"
        assert page.get_by_text("Scan to open on your phone").count() == 0
    finally:
        context.close()


def test_get_your_own_links_to_the_apps_stores_set_after_the_share(soundwave, live_server, phone):
    body = share(live_server, soundwave)
    phone.goto(body["url"])
    assert phone.locator("section.invite a.store").evaluate_all("els => els.map(e => e.href)") \
        == ["https://soundwave.app/"]  # no store yet: the app's website
    with database.connection_context():
        App.update(store_links={"ios": "https://apps.apple.com/app/id1", "android":
                                "https://play.google.com/store/apps/details?id=app.soundwave"}).execute()
    phone.reload()
    stores = phone.locator("section.invite a.store")
    assert stores.evaluate_all("els => els.map(e => [e.textContent, e.href])") == [
        ["App Store", "https://apps.apple.com/app/id1"],
        ["Google Play", "https://play.google.com/store/apps/details?id=app.soundwave"]]
    assert "Soundwave" in phone.locator("section.invite").inner_text()


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
