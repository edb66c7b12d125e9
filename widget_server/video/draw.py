"""A video's pictures, drawn with the card renderer's code: each scene animated as the player
animates its frame (js/player, player.css), the last one the story card with its QR code.

Each scene draws its still layer once (background, and every piece's pixels and coverage mask)
and per video frame only blends in the pieces on their way in; a scene whose pieces have all
arrived is ``settled``, and the encoder repeats its last picture instead of asking for more.

A story in a right-to-left language is drawn from the right, as its card is (``CardDraw``'s
``mirrored``): texts start at the right margin, a list's ranks stand on the right, and a count-up
counts in the number's own digits and separator, as the player's does.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from ..engine.contrast import AA_NORMAL
from ..engine.story_shape import Frame
from ..share import cards, qr
from ..share.cards import CardContent, Palette
from ..share.drawing import (
    CardDraw,
    Color,
    Face,
    card_text,
    ellipsize,
    fit_font,
    font,
    gradient_background,
    line_height,
    mix,
    parse_color,
    readable_on,
    text_mask,
    wrap,
)
from .scenes import Scene

SIZE = cards.STORY_SIZE
CSS_PX = SIZE[0] / 390  # the player's layout is for a 390 px wide phone
MARGIN = 88
TOP = 250
GAP = 40
STAT_ROOM = 28  # more room above a stat's big number
# When nothing frames a scene's background: the player's vivid pairs by position (render.js).
PALETTE = (("#5b2cff", "#c2185b"), ("#064e3b", "#13703a"), ("#9a3412", "#b93d0b"), ("#0b1e5b", "#0369a1"),
           ("#7a0bc0", "#be185d"), ("#1a1a1a", "#5c5c5c"))
WHITE, BLACK = (255, 255, 255), (0, 0, 0)
COUNT_UP_S = 1.6  # chart.js countUp
# A whole number as a locale writes it: its digits (0-9, ٠-٩, ०-९ …) in groups of three, one separator.
NUMBER = re.compile(r"^\d{1,3}(?:(\D)\d{3}(?:\1\d{3})*|\d*)$")


def ease_out(p: float) -> float:
    """player.css's --ease, near enough: a cubic ease-out."""
    p = min(max(p, 0.0), 1.0)
    return 1 - (1 - p) ** 3


@dataclass
class Piece:
    """Something that arrives: its pixels and coverage where it ends up, and when it comes in
    (opacity and a rise from ``rise`` px below, as the player's CSS transitions do)."""

    pixels: Image.Image  # RGB, the piece's size
    mask: Image.Image  # L
    x: int
    y: int
    delay: float
    duration: float = 0.6
    rise: int = round(18 * CSS_PX)

    def progress(self, t: float) -> float:
        return ease_out((t - self.delay) / self.duration)

    def paste(self, image: Image.Image, t: float) -> None:
        p = self.progress(t)
        if p <= 0:
            return
        mask = self.mask if p >= 1 else self.mask.point([round(v * p) for v in range(256)])
        image.paste(self.pixels, (self.x, self.y + round(self.rise * (1 - p))), mask)

    @property
    def arrived(self) -> float:
        return self.delay + self.duration


Mover = Callable[[Image.Image, float], None]  # draws a moving part (a count-up, growing bars) at t


@dataclass
class SceneArt:
    """One scene's drawing: ``at(t)`` is its picture ``t`` seconds in."""

    base: Image.Image
    pieces: list[Piece] = field(default_factory=list)
    movers: list[tuple[float, Mover]] = field(default_factory=list)  # (when it stops moving, draw)

    @property
    def settles(self) -> float:
        """Seconds into the scene after which its picture no longer changes."""
        ends = [piece.arrived for piece in self.pieces] + [end for end, _ in self.movers]
        return max(ends, default=0.0)

    def at(self, t: float) -> Image.Image:
        if not self.pieces and not self.movers:
            return self.base
        image = self.base.copy()
        for piece in self.pieces:
            piece.paste(image, t)
        for _, move in self.movers:
            move(image, t)
        return image


@dataclass
class Look:
    """A scene's colours: its background's two ends, and text that reads on them."""

    top: Color
    bottom: Color
    foreground: Color
    accent: Color
    muted: Color

    @classmethod
    def of(cls, frame: Frame, index: int, palette: Palette) -> Look:
        background = frame.get("background") or {}
        pair = [parse_color(c, BLACK) for c in (background.get("gradient") or []) if isinstance(c, str)]
        if len(pair) >= 2:
            top, bottom = pair[0], pair[-1]
        elif background.get("color"):
            color = parse_color(background.get("color"), palette.background)
            # The player lays a white-to-black sheen over a plain colour (render.js).
            top, bottom = mix(color, WHITE, 0.10), mix(color, BLACK, 0.38)
        else:
            top, bottom = (parse_color(c, BLACK) for c in PALETTE[index % len(PALETTE)])
        middle = mix(top, bottom, 0.5)
        fg = readable_on(middle, palette.foreground, AA_NORMAL)
        return cls(top, bottom, fg, readable_on(middle, palette.accent), mix(fg, middle, 0.22))

    def background(self) -> Image.Image:
        return gradient_background(SIZE, self.top, self.bottom, mix(self.top, WHITE, 0.10),
                                   mix(self.bottom, BLACK, 0.12), grain=False).copy()


@dataclass
class Story:
    """What every scene of one share's video draws from."""

    content: CardContent  # the card (its photo included)
    modules: qr.Matrix
    palette: Palette
    photos: Callable[[str], Image.Image | None]  # an image frame's picture, when it is the app's upload


class Column:
    """Pieces stacked from the top of the scene, each arriving a little after the one above."""

    def __init__(self, base: Image.Image, look: Look, mirrored: bool = False) -> None:
        self.base, self.look, self.mirrored = base, look, mirrored
        self.y, self.order = TOP, 0
        self.pieces: list[Piece] = []

    def delay(self) -> float:
        delay = 0.12 + self.order * 0.09  # player.css: calc(120ms + var(--i) * 90ms)
        self.order += 1
        return delay

    def text(self, text: str, face: Face, color: Color, lines: int, leading: float = 1.12,
             room: int = SIZE[0] - 2 * MARGIN) -> None:
        if not text:
            return
        wrapped = wrap(text, face, room, lines)
        step = line_height(face, leading)
        mask = Image.new("L", (room + 16, step * len(wrapped) + round(face.size * 0.3)), 0)
        draw = CardDraw(mask, mirrored=self.mirrored)
        for i, line in enumerate(wrapped):  # (from the left margin, or to the right one)
            draw.text((12 if self.mirrored else 4, i * step), line, font=face, fill=255)
        self.add(Image.new("RGB", mask.size, color), mask, self.delay())
        self.y -= round(face.size * 0.3)

    def add(self, pixels: Image.Image, mask: Image.Image, delay: float, **timing: Any) -> None:
        self.pieces.append(Piece(pixels, mask, MARGIN - 4, self.y, delay, **timing))
        self.y += mask.height + GAP

    def room(self) -> int:
        return SIZE[1] - 160 - self.y


def scene_art(scene: Scene, index: int, story: Story) -> SceneArt:
    """The drawing of one scene of the plan (``index``: its position, for default backgrounds)."""
    if scene.frame is None:
        return SceneArt(cards.render_story(story.content, story.modules))
    frame = scene.frame
    look = Look.of(frame, index, story.palette)
    base = look.background()
    column = Column(base, look, story.content.mirrored)
    art = SceneArt(base)
    kind = frame.get("kind")
    title_size = 124 if kind == "text" else 96
    column.text(card_text(frame.get("title")), font("ExtraBold", title_size), look.foreground,
                5 if kind == "text" else 3, 1.04)
    if kind == "stat" and isinstance(frame.get("stat"), dict):
        _stat(column, art, frame["stat"], look)  # type: ignore[arg-type]
    column.text(card_text(frame.get("subtitle")), font("SemiBold", 50), look.foreground, 3, 1.3)
    if kind == "list":
        _rows(column, frame.get("items") or [], look)
    elif kind == "chart" and isinstance(frame.get("chart"), dict):
        _chart(column, art, frame["chart"], look)  # type: ignore[arg-type]
    elif kind == "image":
        _picture(column, frame, story)
    column.text(card_text(frame.get("body")), font("Medium", 47), look.foreground, 4, 1.4)
    art.pieces = column.pieces
    return art


def _stat(column: Column, art: SceneArt, stat: dict[str, Any], look: Look) -> None:
    value = card_text(stat.get("value"))
    inner = SIZE[0] - 2 * MARGIN
    face = fit_font(value, "ExtraBold", 250, inner, 110)
    value = ellipsize(value, face, inner)
    top = -int(face.getbbox("0", anchor="ls")[1])
    y, delay = column.y + STAT_ROOM, column.delay()  # the number's ink would touch the title's descenders
    column.y = y + top + round(face.size * 0.22) + GAP
    target = _number(stat.get("raw"))
    steps = counting(value, target)
    mirrored = column.mirrored
    arrive = Piece(Image.new("RGB", (1, 1)), Image.new("L", (1, 1)), 0, 0, delay)

    def draw_value(image: Image.Image, t: float) -> None:
        p = arrive.progress(t)
        if p <= 0:
            return
        shown = value
        if steps is not None and target is not None and t - delay < COUNT_UP_S:
            shown = steps(round(target * ease_out((t - delay) / COUNT_UP_S)))
        mask, left, up = text_mask(shown, face, "rs" if mirrored else "ls", mirrored)
        if p < 1:
            mask = mask.point([round(v * p) for v in range(256)])
        x = SIZE[0] - MARGIN + 6 if mirrored else MARGIN - 6
        image.paste(look.foreground, (x + left, y + top + up + round(arrive.rise * (1 - p))), mask)

    art.movers.append((delay + max(COUNT_UP_S, arrive.duration), draw_value))
    column.text(card_text(stat.get("unit")), font("ExtraBold", 78), look.foreground, 2, 1.1)
    column.text(card_text(stat.get("caption")), font("SemiBold", 47), look.foreground, 3, 1.3)


def counting(value: str, target: int | None) -> Callable[[int], str] | None:
    """How the steps of a count-up to ``value`` (``target`` as the story wrote it) are written: in
    its digits and separator ('٢٬٩٦٣' counts '١٬٢٣٤'); None when it is no whole number so written."""
    written = NUMBER.match(value)
    if target is None or target <= 0 or written is None or sum(c.isdigit() for c in value) != len(str(target)):
        return None
    separator, zero = written.group(1) or "", ord(value[0]) - unicodedata.digit(value[0])
    return lambda n: "".join(chr(zero + int(c)) if c.isdigit() else separator for c in f"{n:,}")


def _number(raw: Any) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        return None
    try:
        return round(float(raw))
    except ValueError:
        return None


def _rows(column: Column, items: list[Any], look: Look) -> None:
    """The list's rows on their panels, arriving one after another (player.css .recap-item)."""
    width = SIZE[0] - 2 * MARGIN
    height, rank_face, label_face, value_face = 150, font("ExtraBold", 80), font("ExtraBold", 54), font("SemiBold", 38)
    for i, item in enumerate(items[:6]):
        if not isinstance(item, dict):
            continue
        if column.room() < height:
            break
        x, y = MARGIN - 4, column.y
        region = column.base.crop((x, y, x + width, y + height))
        panel = Image.new("L", region.size, 0)
        CardDraw(panel).rounded_rectangle((0, 0, width - 1, height - 1), radius=44, fill=255)
        shade = Image.new("RGB", region.size, WHITE if i == 0 else BLACK)
        region.paste(shade, (0, 0), panel.point([round(v * (0.18 if i == 0 else 0.22)) for v in range(256)]))
        draw = CardDraw(region, mirrored=column.mirrored)
        draw.text((80, height // 2), str(item.get("rank") or i + 1), font=rank_face, fill=look.foreground, anchor="mm")
        label = ellipsize(card_text(item.get("label")) or "…", label_face, width - 200)
        value = card_text(item.get("value"))
        if value:
            draw.text((164, 30), label, font=label_face, fill=look.foreground)
            draw.text((164, 96), ellipsize(value, value_face, width - 200), font=value_face, fill=look.muted)
        else:
            draw.text((164, height // 2), label, font=label_face, fill=look.foreground, anchor="lm")
        column.pieces.append(Piece(region, panel, x, y, 0.2 + i * 0.11, rise=round(16 * CSS_PX)))
        column.y += height + 28


def _chart(column: Column, art: SceneArt, chart: dict[str, Any], look: Look) -> None:
    """Bars growing from the baseline one after another, a line drawn from left to right, or a
    clock face's spokes growing out (player.css .recap-bar, .recap-line)."""
    values = [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0
              for v in (chart.get("values") or [])][:60]
    if not values:
        return
    labels = [card_text(label) for label in (chart.get("labels") or [])]
    highlight = chart.get("highlight")
    top_value = max(max(values), 1e-9)
    width = SIZE[0] - 2 * MARGIN
    height = min(720, max(column.room() - 120, 300))
    x0, y0 = MARGIN, column.y
    count = len(values)
    label_face = font("Bold", 34)

    def colour(i: int) -> Color:
        return look.accent if i == highlight else look.foreground

    if chart.get("type") == "radial":
        cx, cy = x0 + width // 2, y0 + height // 2
        inner, outer = height * 0.17, height * 0.46
        stroke = max(6, min(26, round(560 / count)))
        for i in range(0, count, max(count // 4, 1)):
            if i < len(labels) and count >= 4:
                angle, reach = _angle(i, count), inner - 40
                CardDraw(column.base).text((cx + math.cos(angle) * reach, cy + math.sin(angle) * reach),
                                                 labels[i], font=label_face, fill=look.muted, anchor="mm")

        def draw_spokes(image: Image.Image, t: float) -> None:
            draw = CardDraw(image)
            for i, value in enumerate(values):
                p = ease_out((t - 0.25 - i * 0.035) / 0.7)
                if value <= 0 or p <= 0:
                    continue
                angle, length = _angle(i, count), inner + (outer - inner) * value / top_value * p
                draw.line((cx + math.cos(angle) * inner, cy + math.sin(angle) * inner,
                           cx + math.cos(angle) * length, cy + math.sin(angle) * length), fill=colour(i), width=stroke)
        art.movers.append((0.25 + count * 0.035 + 0.7, draw_spokes))
    else:
        step = width / count
        bottom = y0 + height - 60
        every = -(-count // 8)
        for i in range(0, count, every):
            if i < len(labels):
                CardDraw(column.base).text((x0 + step * (i + 0.5), bottom + 46), labels[i], font=label_face,
                                                 fill=look.muted, anchor="mm")
        line = chart.get("type") == "line"

        def draw_bars(image: Image.Image, t: float) -> None:
            draw = CardDraw(image)
            if line:
                p = ease_out((t - 0.25) / 1.2)
                points = [(x0 + step * (i + 0.5), bottom - (height - 100) * v / top_value)
                          for i, v in enumerate(values)]
                shown = points[:max(1, round(len(points) * p))] if p > 0 else []
                if len(shown) > 1:
                    draw.line(shown, fill=look.accent, width=10, joint="curve")
                return
            for i, value in enumerate(values):
                p = ease_out((t - 0.25 - i * 0.035) / 0.7)
                if p <= 0:
                    continue
                full = max(6.0, (height - 100) * value / top_value)
                left = x0 + step * i + step * 0.15
                draw.rounded_rectangle((left, bottom - full * p, left + step * 0.7, bottom),
                                       radius=min(16, step * 0.2), fill=colour(i))
        art.movers.append((0.25 + (1.2 if line else count * 0.035 + 0.7), draw_bars))
    column.y += height + GAP
    column.text(card_text(chart.get("caption")), font("SemiBold", 42), look.muted, 2, 1.3)


def _angle(i: int, count: int) -> float:
    return i / count * 2 * math.pi - math.pi / 2


def _picture(column: Column, frame: Frame, story: Story) -> None:
    """The user's uploaded picture, when the frame shows one of the app's uploads (never
    another address: the server fetches nothing a template names)."""
    media: dict[str, Any] = dict(frame.get("media") or {})
    photo = story.photos(str(media.get("src") or ""))
    if photo is None:
        return
    width = SIZE[0] - 2 * MARGIN
    height = min(column.room() - 40, round(width * photo.height / max(photo.width, 1)), 1000)
    if height < 200:
        return
    side = min(photo.width / width, photo.height / height)
    crop_w, crop_h = width * side, height * side
    left, top = (photo.width - crop_w) / 2, (photo.height - crop_h) / 2
    pixels = photo.convert("RGB").resize((width, height), Image.Resampling.BICUBIC,
                                         box=(left, top, left + crop_w, top + crop_h))
    mask = Image.new("L", (width, height), 0)
    CardDraw(mask).rounded_rectangle((0, 0, width - 1, height - 1), radius=56, fill=255)
    column.add(pixels, mask, column.delay())
