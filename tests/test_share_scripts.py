"""Cards in any script: names in ten scripts (and emoji) drawn with real glyphs from the font chain
(Manrope, then Noto, glyph by glyph), Arabic and Hebrew shaped right to left, never "…"."""
from __future__ import annotations

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont

from widget_server.assets import font_chain
from widget_server.share import glyphs, qr
from widget_server.share.cards import CardContent, render_story
from widget_server.share.drawing import ELLIPSIS, card_text, font, text_mask, wrap

NAMES = {"Latin": "Zoë Ørsted", "Cyrillic": "Дмитрий", "Greek": "Σοφία", "Arabic": "أحمد",
         "Hebrew": "דוד", "Devanagari": "प्रिया", "Thai": "สมชาย", "Chinese": "王芳", "Japanese": "さくら",
         "Korean": "지민"}
NOT_A_CHARACTER = "\U0010fffd"  # mapped by no font: what each font draws for a glyph it lacks


def notdef(face: ImageFont.FreeTypeFont) -> bytes:
    left, top, right, bottom = (int(e) for e in face.getbbox(NOT_A_CHARACTER))
    mask = Image.new("L", (max(right - left, 1), max(bottom - top, 1)), 0)
    ImageDraw.Draw(mask).text((-left, -top), NOT_A_CHARACTER, font=face, fill=255)
    return mask.tobytes()


def drawn(char: str, face: ImageFont.FreeTypeFont) -> bytes:
    left, top, right, bottom = (int(e) for e in face.getbbox(char))
    mask = Image.new("L", (max(right - left, 1), max(bottom - top, 1)), 0)
    ImageDraw.Draw(mask).text((-left, -top), char, font=face, fill=255)
    return mask.tobytes()


@pytest.mark.parametrize("script", list(NAMES))
def test_every_letter_of_a_name_is_a_real_glyph_of_a_font_of_the_chain(script):
    name = NAMES[script]
    assert card_text(name) == name  # nothing turned into "…"
    for char in name.replace(" ", ""):
        chosen = glyphs.font_for(char, "Bold")
        assert chosen is not None, f"no font has {char!r} ({script})"
        face = glyphs.face(chosen, 48)
        assert drawn(char, face) != notdef(face), f"{char!r} drew as {chosen.family}'s missing-glyph box"


@pytest.mark.parametrize("script", list(NAMES))
def test_a_name_drawn_on_a_card_differs_from_the_boxes_it_would_have_been(script):
    name, face = NAMES[script], font("Bold", 50)
    mask, _, _ = text_mask(name, face, "la")
    boxes, _, _ = text_mask(NOT_A_CHARACTER * len(name), face, "la")
    assert mask.getbbox() is not None and mask.tobytes() != boxes.tobytes()
    assert face.getlength(name) > 0 and mask.width >= face.getlength(name) * 0.6


def test_arabic_is_shaped_and_runs_right_to_left():
    name = NAMES["Arabic"]
    shaped, _, _ = text_mask(name, font("Bold", 60), "la")
    arabic = next(f for f in font_chain.chain("Bold") if f.family == "NotoSansArabic")
    loose = ImageFont.truetype(str(arabic.path), 60, layout_engine=ImageFont.Layout.BASIC)  # no shaping, no bidi
    left, top, right, bottom = (int(e) for e in loose.getbbox(name))
    unshaped = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(unshaped).text((-left, -top), name, font=loose, fill=255)
    assert shaped.size != unshaped.size or ImageChops.difference(shaped, unshaped).getbbox() is not None
    # the first letter (alef with hamza, tall) is drawn at the right end: the right quarter reaches highest
    quarter = shaped.width // 4
    ink_top = [shaped.crop((x, 0, x + quarter, shaped.height)).getbbox()[1] for x in (0, shaped.width - quarter)]
    assert ink_top[1] < ink_top[0]


def test_emoji_and_mixed_scripts_keep_every_part():
    for text in ("🎧 Zoë", "Ana + 王芳", "DJ أحمد 2026"):
        assert card_text(text) == text
        mask, _, _ = text_mask(text, font("Bold", 40), "ls")
        assert mask.getbbox() is not None
    # a character no font has still becomes an ellipsis, never a box
    assert card_text("Ana \U000e0100\U0010fffd") in ("Ana", f"Ana {ELLIPSIS}")


def test_a_card_of_names_in_every_script_lists_them_all(tmp_path):
    names = list(NAMES.values())
    content = CardContent(title="さくらの2026年", subtitle="مستمع الليل", stats=[("Minutes", "12,345")],
                          list_title="Friends", items=names[3:8], footer="soundwave.app", app_name="Soundwave")
    image = render_story(content, qr.matrix("https://soundwave.app/s/x"))
    assert image.size == (1080, 1920) and all(ELLIPSIS not in item for item in content.items)


def test_chinese_and_japanese_wrap_between_characters_rather_than_being_cut():
    face = font("ExtraBold", 96)
    lines = wrap("さくらの2026年の音楽", face, 950, 2)
    assert len(lines) == 2 and "".join(lines) == "さくらの2026年の音楽" and ELLIPSIS not in "".join(lines)
    assert wrap("Ana Lima’s 2026 in Music", face, 950, 2) == ["Ana Lima’s 2026 in", "Music"]  # as it was
