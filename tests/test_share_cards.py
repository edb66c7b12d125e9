"""Card drawing on its own: any card the story engine can produce renders, at the exact sizes."""
from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from widget_server.share import qr
from widget_server.share.drawing import contrast
from widget_server.share.cards import OG_SIZE, STORY_SIZE, CardContent, Palette, encode_png, render_og, render_story

URL = "https://cards.example.org/s/AbCdEfGhIjKlMnOpQrStUv.abcdefghijklmnopqrstuvwxyz0"
FULL = {"title": "Your 2026 in Music", "subtitle": "The Explorer",
        "stats": [{"label": "Minutes listened", "value": "48,213"}, {"label": "Songs", "value": "1,284"},
                  {"label": "Top genre", "value": "Art pop"}],
        "list": {"title": "Top artists", "items": ["Björk", "Radiohead", "Caribou", "Four Tet", "Rosalía"]},
        "image": None, "theme": {"background": "#121212", "foreground": "#ffffff", "accent": "#1ed760"},
        "footer": "soundwave.app"}
CARDS = {
    "full": FULL,
    "empty": {},
    "title only": {"title": "Hi"},
    "very long texts": {**FULL, "title": "W" * 300, "subtitle": "long " * 80,
                        "stats": [{"label": "L" * 200, "value": "9" * 60}] * 5,
                        "list": {"title": "T" * 100, "items": ["x" * 500] * 40}, "footer": "f" * 300},
    "scripts and emoji": {**FULL, "title": "東京 🎧 Ünïcødé — ½", "list": {"title": "Top", "items": ["🔥", "Ωμέγα"]}},
    "markup as text": {**FULL, "title": "<img src=x onerror=alert(1)>"},
    "bad theme": {**FULL, "theme": {"background": "url(javascript:x)", "foreground": 3, "accent": "#zzz"}},
    "light theme": {**FULL, "theme": {"background": "#fff8e7", "foreground": "#ffffff", "accent": "#ffe680"}},
    "wrong types": {"title": 5, "stats": "nope", "list": ["a"], "theme": None},
}


@pytest.mark.parametrize("name", list(CARDS))
def test_every_card_renders_at_the_exact_sizes(name):
    photo = Image.new("RGB", (640, 480), (200, 80, 40)) if name == "full" else None
    content = CardContent.from_card(CARDS[name], app_name="Soundwave", period="2026",
                                    caption="that song when " * 20, photo=photo)
    story = Image.open(io.BytesIO(encode_png(render_story(content, qr.matrix(URL)))))
    og = Image.open(io.BytesIO(encode_png(render_og(content))))
    assert (story.format, story.size, og.size) == ("PNG", STORY_SIZE, OG_SIZE)
    # Whatever the content, the QR code still reads.
    found = zxingcpp.read_barcodes(story.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    assert [code.text for code in found] == [URL]


def test_text_colours_stay_readable_on_any_theme():
    light = Palette.from_theme({"background": "#fff8e7", "foreground": "#ffffff", "accent": "#ffe680"})
    # White and pale yellow on cream would vanish: text turns dark, the accent a darker yellow.
    assert contrast(light.background, light.foreground) >= 4.5 and contrast(light.background, light.accent) >= 3
    red, green, blue = light.accent
    assert red > green > blue  # still a yellow-brown, not black
    dark = Palette.from_theme({"background": "#1b1035", "foreground": "#ffffff", "accent": "#ffc800"})
    assert (dark.foreground, dark.accent) == ((255, 255, 255), (255, 200, 0))  # good themes are kept


def test_characters_the_font_lacks_are_left_out_not_drawn_as_boxes():
    content = CardContent.from_card({"title": "東京 🎧 Ünïcødé — ½", "list": {"items": ["🔥", "Ωμέγα", "Мир"]}})
    assert content.title == "Ünïcødé — ½"
    assert content.items == ["Ωμέγα", "Мир"]


def test_png_is_a_palette_image_that_keeps_the_colours():
    content = CardContent.from_card(FULL, app_name="Soundwave", period="2026")
    drawn = render_story(content, qr.matrix(URL))
    decoded = Image.open(io.BytesIO(encode_png(drawn)))
    assert decoded.mode == "P"
    worst = max(abs(a - b) for a, b in zip(drawn.resize((108, 192)).tobytes(),
                                             decoded.convert("RGB").resize((108, 192)).tobytes()))
    assert worst <= 24
