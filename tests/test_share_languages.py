"""A share in the story's language: its page (lang, dir and its own words) and its card (the words
beside the QR code, a right-to-left layout mirrored), for a listener whose phone is in Arabic."""
from __future__ import annotations

import re

from PIL import Image

from helpers.server import http
from helpers.share import YEAR, plays, share
from helpers.story import identify, ms, send
from widget_server.engine import locales
from widget_server.player.strings import LANGUAGES
from widget_server.share import qr
from widget_server.share.cards import CardContent, render_story
from widget_server.share.words import WORDS, words


def listener(live_server, tenant, user: str, locale: str) -> None:
    events = [identify(user, {"name": "ليلى حسن"}, ms(f"{YEAR}-01-02T00:00:00"))] + plays(user, 40)
    for event in events:
        event.setdefault("context", {})["locale"] = locale
    send(live_server, tenant.write_key, events)


def page_of(live_server, body: dict) -> str:
    reply = http("GET", body["url"].replace("https://soundwave.app", live_server.url))
    assert reply.status == 200
    return reply.body.decode()


def test_the_share_page_of_an_arabic_story_is_arabic_and_right_to_left(soundwave, live_server):
    listener(live_server, soundwave, "layla", "ar-EG")
    html = page_of(live_server, share(live_server, soundwave, user="layla"))
    said = WORDS["ar"]
    assert re.search(r'<html lang="ar-EG" dir="rtl">', html)
    year = locales.native_digits(str(YEAR), "ar-EG")  # the period, in Egypt's digits
    for text in (said["open_in"].format(app="Soundwave"), said["get_your_own"],
                 said["waiting_period"].format(period=year, app="Soundwave"),
                 "النوع الأبرز"):  # (the card's own label, translated in the template)
        assert text in html
    assert "Open in Soundwave" not in html and "Top genre" not in html


def test_an_english_story_keeps_its_english_page(soundwave, live_server):
    html = page_of(live_server, share(live_server, soundwave))
    assert '<html lang="en-GB" dir="ltr">' in html and "Open in Soundwave" in html


def accent_x(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    """The mean x of the card's accent-green pixels within ``box``."""
    region = image.convert("RGB").crop(box)
    xs = [x for i, (r, g, b) in enumerate(region.get_flattened_data()) if g > 180 and r < 90 and b < 140
          for x in [i % region.width]]
    assert xs, "no accent pixels there"
    return box[0] + sum(xs) / len(xs)


def white_x(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    region = image.convert("L").crop(box)
    xs = [i % region.width for i, v in enumerate(region.get_flattened_data()) if v > 250]
    return box[0] + sum(xs) / len(xs)


def test_a_right_to_left_card_is_laid_out_from_the_right():
    content = {"title": "موسيقى ليلى في ٢٠٢٦", "stats": [("دقائق الاستماع", "٢٬٩٦٣")],
               "list_title": "أفضل الفنانين", "items": ["Björk", "Mitski"], "footer": "soundwave.app",
               "app_name": "Soundwave", "period": "٢٠٢٦", "theme": {"accent": "#1ed760"}}
    code = qr.matrix("https://soundwave.app/s/x")
    ltr = render_story(CardContent(**content), code)
    rtl = render_story(CardContent(**content, words=words("ar"), direction="rtl"), code)
    header, footer = (0, 80, 1080, 160), (0, 1500, 1080, 1900)
    # the app's dot and the big number start at the right; the QR code's tile stands on the right
    assert accent_x(ltr, header) < 300 and accent_x(rtl, header) > 780
    assert accent_x(ltr, (0, 300, 1080, 1200)) < 540 < accent_x(rtl, (0, 300, 1080, 1200))
    assert white_x(ltr, footer) < 540 < white_x(rtl, footer)


def test_the_words_beside_the_qr_code_are_the_storys_language():
    content = {"title": "Ana", "footer": "soundwave.app", "app_name": "Soundwave"}
    code = qr.matrix("https://soundwave.app/s/x")
    beside_code = (400, 1500, 1080, 1720)
    english = render_story(CardContent(**content), code).crop(beside_code)
    japanese = render_story(CardContent(**content, words=words("ja-JP")), code).crop(beside_code)
    assert english.tobytes() != japanese.tobytes()


def test_the_share_speaks_every_language_the_player_does():
    assert set(WORDS) == set(LANGUAGES)
    assert all(set(table) == set(WORDS["en"]) for table in WORDS.values())
    assert words("pt-PT") is WORDS["pt-BR"] and words("de-AT") is WORDS["de"] and words("xx") is WORDS["en"]
    assert words(None) is WORDS["en"]  # a share frozen before shares kept their locale
