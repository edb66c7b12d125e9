"""A share's video in a right-to-left language is drawn from the right, as its card is, and its
count-up counts in the story's own digits and separator (drawn in-process, as a worker draws it)."""
from __future__ import annotations

from PIL import Image

from widget_server.share import qr
from widget_server.share.cards import CardContent, Palette
from widget_server.video import draw
from widget_server.video.scenes import Scene

FRAME = {"id": "minutes", "kind": "stat", "title": "استمعت لمدة", "subtitle": None, "body": None,
         "stat": {"value": "٢٬٩٦٣", "raw": 2963, "unit": "دقيقة", "caption": None},
         "items": [], "background": {"color": "#116830"}, "buttons": []}


def settled(direction: str) -> Image.Image:
    story = draw.Story(CardContent(title="x", direction=direction), qr.matrix("https://soundwave.app/s/x"),
                       Palette.from_theme({}), lambda src: None)
    art = draw.scene_art(Scene(FRAME, 0, 90), 0, story)
    return art.at(art.settles + 1)


def ink_x(image: Image.Image) -> float:
    """The mean x of the near-white pixels (the scene's text) over the scene."""
    grey = image.convert("L").point(lambda v: 255 if v > 235 else 0)
    columns = [sum(1 for y in range(0, grey.height, 4) if grey.getpixel((x, y))) for x in range(0, grey.width, 4)]
    return sum(i * 4 * n for i, n in enumerate(columns)) / sum(columns)


def test_a_right_to_left_scene_is_drawn_from_the_right():
    ltr, rtl = settled("ltr"), settled("rtl")
    assert ink_x(ltr) < draw.SIZE[0] / 2 < ink_x(rtl)


def test_a_count_up_counts_in_the_numbers_own_digits_and_separator():
    assert draw.counting("٢٬٩٦٣", 2963)(1234) == "١٬٢٣٤"
    assert draw.counting("2.963", 2963)(1234) == "1.234"
    assert draw.counting("12\u202f345", 12345)(1234) == "1\u202f234"
    assert draw.counting("२,९६३", 2963)(57) == "५७"
    assert draw.counting("2963", 2963)(1234) == "1234"
    assert draw.counting("12.5", 12) is None and draw.counting("Top 5%", 5) is None
