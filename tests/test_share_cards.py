"""Card drawing on its own: any card the story engine can produce renders, at the exact sizes."""
from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from widget_server.share import qr
from widget_server.share.cards import OG_SIZE, STORY_SIZE, CardContent, Palette, encode_png, render_og, render_story
from widget_server.share.drawing import contrast, ellipsize, font, wrap

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


def test_characters_no_font_has_are_never_boxes_and_never_make_text_vanish():
    # Tifinagh and Cherokee: no font of the chain has them (tests/test_share_scripts.py draws
    # every script one has).
    content = CardContent.from_card({"title": "ⵜⵉⴼ Ünïcødé — ½", "list": {"items": ["ᏣᎳᎩ", "Ωμέγα", "Мир"]}})
    assert content.title == "… Ünïcødé — ½"  # a word no font can draw shows as "…"
    assert content.items == ["…", "Ωμέγα", "Мир"]  # still there, so "Ωμέγα" stays #2


@pytest.mark.parametrize("title, items", [
    ("ليلى's 2026 Wrapped", ["فيروز", "עומר אדם", "Björk"]),
    ("Hikaru's 2026", ["宇多田ヒカル", "Björk", "Mitski"]),
    ("東京 🎧 2026", ["🔥", "Ωμέγα", "Мир"]),
], ids=["arabic and hebrew", "japanese", "emoji"])
def test_names_in_every_script_are_kept_as_they_are(title, items):
    content = CardContent.from_card({"title": title, "list": {"title": "Top artists", "items": items}})
    assert (content.title, content.items) == (title.replace("'", "’"), items)


def test_newlines_in_event_properties_do_not_cut_card_text():
    content = CardContent.from_card({"title": "Ana's\nyear",
                                     "stats": [{"label": "Top\r\ngenre", "value": "post\nrock"}],
                                     "list": {"items": ["Sigur Rós\nLive at  Hafnarhús"]}},
                                    caption="the night bus\n\nstudio")
    assert (content.title, content.stats, content.items, content.caption) == (
        "Ana’s year", [("Top genre", "post rock")], ["Sigur Rós Live at Hafnarhús"], "the night bus studio")


def test_png_is_a_palette_image_that_keeps_the_colours():
    content = CardContent.from_card(FULL, app_name="Soundwave", period="2026")
    drawn = render_story(content, qr.matrix(URL))
    decoded = Image.open(io.BytesIO(encode_png(drawn)))
    assert decoded.mode == "P"
    worst = max(abs(a - b) for a, b in zip(drawn.resize((108, 192)).tobytes(),
                                             decoded.convert("RGB").resize((108, 192)).tobytes(), strict=True))
    assert worst <= 24


def _rows(image: Image.Image, box: tuple[int, int, int, int], is_ink) -> list[int]:
    """The rows of ``box`` where some pixel is ``is_ink``."""
    region = image.crop(box)
    pixels = region.load()
    return [box[1] + y for y in range(region.height) if any(is_ink(pixels[x, y]) for x in range(region.width))]


@pytest.mark.parametrize("value", ["Jazzy", "Top 2%", "48,213"])
@pytest.mark.parametrize("kind", ["story", "og"])
def test_the_big_value_never_runs_into_its_label(kind, value):
    content = CardContent.from_card({"stats": [{"label": "Your listening personality", "value": value}],
                                     "theme": FULL["theme"]})
    if kind == "story":
        image, box = render_story(content, qr.matrix(URL)), (0, 224, STORY_SIZE[0], 1400)
    else:
        image, box = render_og(content), (0, 128, 700, 560)
    value_rows = _rows(image, box, lambda p: p[1] > 150 and p[0] < 120)  # the accent green
    label_rows = _rows(image, box, lambda p: min(p) > 200)  # the white label
    assert value_rows and label_rows
    assert max(value_rows) + 16 < min(label_rows)


def test_text_wrapped_to_one_line_ends_with_an_ellipsis():
    face = font("SemiBold", 30)
    assert wrap("the year the night bus became my studio and every song was a stop", face, 400, 1) == [
        ellipsize("the year the night bus became my studio and every song was a stop", face, 400)]


def _with_last_letter(items: list[str], which: int, letter: str) -> list[str]:
    changed = list(items)
    changed[which] = changed[which][:-1] + letter
    return changed


def test_a_link_preview_shows_long_names_whole_when_its_left_side_has_room():
    # A name's end changed: drawn whole, the picture changes; cut to "The Lighthous…", it would not.
    items = ["The Lighthouse Keepers", "Caribou and the Long Night", "Sable", "Ivo Brandt", "Grey Cardinal"]
    card = {**FULL, "stats": FULL["stats"][:1], "list": {"title": "Top artists", "items": items}}
    for which in (0, 1):
        one = render_og(CardContent.from_card(card))
        other = render_og(CardContent.from_card({**card, "list": {"title": "Top artists",
                                                                  "items": _with_last_letter(items, which, "Z")}}))
        assert one.tobytes() != other.tobytes(), items[which]


def test_a_full_story_card_keeps_all_five_entries_of_its_list():
    """Title beside a photo, three stats, a subtitle and a caption: the secondary stats and the
    subtitle give way, the gaps narrow, and the list keeps its five."""
    items = ["The Lighthouse Keepers", "Caribou and the Long Night", "Sable", "Ivo Brandt", "Grey Cardinal"]
    card = {**FULL, "title": "Ana’s 2026 in Music", "subtitle": "The Loyalist",
            "list": {"title": "Top artists", "items": items}}
    photo = Image.new("RGB", (400, 400), "#c08040")

    def drawn(entries: list[str]) -> bytes:
        content = CardContent.from_card({**card, "list": {"title": "Top artists", "items": entries}},
                                        caption="that song on the night bus home, every single friday", photo=photo)
        return render_story(content, qr.matrix(URL)).tobytes()

    assert drawn(items) != drawn(_with_last_letter(items, 4, "x"))  # the fifth is on the card


def test_the_story_card_draws_four_stats_one_big_and_a_row_of_three():
    """The learning card's fourth stat (its badges) used to be left off the image silently."""
    stats = [*FULL["stats"], {"label": "Badges", "value": "7"}]

    def drawn(fourth: str, fifth: str) -> bytes:
        more = [*stats[:3], {"label": "Badges", "value": fourth}, {"label": "Extra", "value": fifth}]
        content = CardContent.from_card({**FULL, "stats": more}, app_name="Lingo", period="2026")
        return render_story(content, qr.matrix(URL)).tobytes()

    assert len(CardContent.from_card({**FULL, "stats": stats * 2}).stats) == 4
    assert drawn("7", "1") != drawn("8", "1")  # the fourth is on the card
    assert drawn("7", "1") == drawn("7", "2")  # a fifth is not (the check refuses it)
