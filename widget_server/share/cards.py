"""Card images drawn with Pillow: the 1080×1920 story card and the 1200×630 link preview."""
from __future__ import annotations

import colorsys
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from PIL import Image

from ..engine.card_layout import MAX_CARD_STATS
from ..engine.contrast import AA_NORMAL
from ..engine.contrast import ratio as contrast
from ..engine.story_shape import Card
from . import qr
from .drawing import (
    ELLIPSIS,
    CardDraw,
    Color,
    card_text,
    circle_photo,
    ellipsize,
    fit_font,
    font,
    gradient_background,
    line_height,
    mix,
    parse_color,
    readable_on,
    rounded_panel,
    wrap,
)
from .words import Words, words

T = TypeVar("T")

# Bump when the drawing changes: cached images are keyed by it, so old renders are not served.
RENDER_VERSION = 5  # 4: a fourth stat in the row; 5: the story's language, right-to-left mirrored
STORY_SIZE = (1080, 1920)
OG_SIZE = (1200, 630)
MAX_STATS, MAX_ITEMS = MAX_CARD_STATS, 5


@dataclass
class Palette:
    """The theme's colours, corrected so text always reads on the background."""

    background: Color
    foreground: Color
    accent: Color
    muted: Color
    glow: Color
    glow2: Color
    bottom: Color

    @classmethod
    def from_theme(cls, theme: dict[str, Any] | None) -> Palette:
        theme = theme or {}
        bg = parse_color(theme.get("background"), (18, 18, 18))
        fg = parse_color(theme.get("foreground"), (255, 255, 255))
        if contrast(bg, fg) < AA_NORMAL:  # body text: crisp black or white rather than a washed-out tint
            fg = (255, 255, 255) if contrast(bg, (255, 255, 255)) >= contrast(bg, (0, 0, 0)) else (0, 0, 0)
        brand = parse_color(theme.get("accent"), (30, 215, 96))
        # Glows use the brand colour as given (text in the accent colour is adjusted to read).
        # They are mixed in HLS, keeping the colour's saturation: an RGB mix of, say, yellow into
        # dark purple turns brown, not gold.
        bg_hue, bg_light, bg_sat = _hls(bg)
        hue, light, sat = _hls(brand)
        glow = _rgb(hue, bg_light + (light - bg_light) * 0.45, sat)
        if bg_sat > 0.25:  # a coloured background: its own hue, brighter, for the second glow
            glow2 = _rgb(bg_hue, min(bg_light * 2.2 + 0.08, 0.5), min(bg_sat * 1.2, 0.9))
        else:
            glow2 = _rgb((hue + 0.14) % 1.0, bg_light + (light - bg_light) * 0.32, sat)
        return cls(background=bg, foreground=fg, accent=readable_on(bg, brand), muted=mix(fg, bg, 0.32),
                   glow=glow, glow2=glow2, bottom=mix(bg, brand, 0.16))


def _hls(color: Color) -> tuple[float, float, float]:
    return colorsys.rgb_to_hls(*(c / 255 for c in color))


def _rgb(hue: float, light: float, sat: float) -> Color:
    red, green, blue = (round(c * 255) for c in colorsys.hls_to_rgb(hue, light, sat))
    return red, green, blue


@dataclass
class CardContent:
    """Everything drawn on a card, taken from a share's frozen data."""

    title: str
    subtitle: str = ""
    stats: list[tuple[str, str]] = field(default_factory=list)  # (label, value)
    list_title: str = ""
    items: list[str] = field(default_factory=list)
    footer: str = ""
    app_name: str = ""
    period: str = ""
    caption: str = ""
    theme: dict[str, Any] = field(default_factory=dict)
    photo: Image.Image | None = None
    words: Words = field(default_factory=lambda: words(None))  # what the card says around the template's texts
    direction: str = "ltr"  # "rtl": the layout is mirrored, and mixed texts run from the right

    @property
    def mirrored(self) -> bool:
        return self.direction == "rtl"

    @classmethod
    def from_card(cls, card: Card, *, app_name: str = "", period: str = "",
                  caption: str | None = None, photo: Image.Image | None = None,
                  locale: str | None = None, direction: str = "ltr") -> CardContent:
        """Read a story's card (``story_shape.Card``) defensively: shares frozen by older
        versions, and templates written by people, may leave fields out."""
        text = card_text
        def of(value: Any, kind: type[T]) -> T:
            return value if isinstance(value, kind) else kind()

        fields: dict[str, Any] = dict(card)
        stats = [(text(s.get("label")), text(s.get("value"))) for s in of(fields.get("stats"), list)
                 if isinstance(s, dict)]
        listing = of(fields.get("list"), dict)
        items = [text(i) or ELLIPSIS for i in of(listing.get("items"), list)]  # every entry keeps its rank
        theme = of(fields.get("theme"), dict)
        return cls(title=text(fields.get("title")), subtitle=text(fields.get("subtitle")),
                   stats=[s for s in stats if s[1]][:MAX_STATS], list_title=text(listing.get("title")),
                   items=items[:MAX_ITEMS], footer=text(fields.get("footer")), app_name=text(app_name),
                   period=text(period), caption=text(caption), theme=theme, photo=photo, words=words(locale),
                   direction="rtl" if direction == "rtl" else "ltr")


def encode_png(image: Image.Image) -> bytes:
    """A 256-colour palette PNG: about 4× faster to encode than RGB, and smaller.

    Pillow spends most of an RGB PNG's time choosing a filter per row; palette rows are not
    filtered. The palette comes from a quarter-size sample (its colours are the same), and pixels
    map to it without dithering (dithering alone costs more than the whole render); the
    background's ordered-dither pattern stands in for dithering, so gradients show no bands.
    An RGBA image (the sticker) keeps its shape: 255 colours, and one transparent index for the
    pixels its alpha leaves out.
    """
    out = io.BytesIO()
    if image.mode not in ("RGB", "RGBA"):  # the QR code: 1-bit, already tiny
        image.save(out, "PNG")
        return out.getvalue()
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    # A nearest-neighbour sample is enough to find the palette, and 5× cheaper than averaging.
    sample = rgb.resize((rgb.width // 4, rgb.height // 4), Image.Resampling.NEAREST)
    palette = sample.quantize(255 if image.mode == "RGBA" else 256, method=Image.Quantize.FASTOCTREE)
    indexed = rgb.quantize(palette=palette, dither=Image.Dither.NONE)
    if image.mode == "RGBA":
        colours = indexed.getpalette() or []
        indexed.putpalette((colours + [0] * 768)[:3 * 255] + [0, 0, 0])
        indexed.paste(255, mask=image.getchannel("A").point(lambda a: 255 if a < 128 else 0))
        indexed.save(out, "PNG", compress_level=1, transparency=255)
        return out.getvalue()
    indexed.save(out, "PNG", compress_level=1)
    return out.getvalue()


# --- the story card (1080×1920) ----------------------------------------------------------------

def render_story(content: CardContent, code: qr.Matrix) -> Image.Image:
    """The vertical card for Instagram/TikTok stories, with the share link's QR code."""
    width, height = STORY_SIZE
    margin = 88
    pal = Palette.from_theme(content.theme)
    image = gradient_background(STORY_SIZE, pal.background, pal.bottom, pal.glow, pal.glow2).copy()
    draw = CardDraw(image, mirrored=content.mirrored)
    inner = width - 2 * margin

    _header(draw, content, pal, margin, 96, width, big=True)
    qr_side = 300
    footer_top = height - margin - qr_side
    _flow(draw, image, _story_blocks(content, pal, inner, margin), 224, footer_top - 64)
    _story_footer(image, draw, content, pal, code, margin, footer_top, qr_side)
    return image


class Block(NamedTuple):
    """One vertical piece of the story card. When the card is too full, the block with the highest
    ``priority`` number gives way first: to its ``smaller`` form if it has one, else entirely."""

    priority: int
    height: int
    paint: Callable[[CardDraw, Image.Image, int], None]
    smaller: Block | None = None


def _story_blocks(content: CardContent, pal: Palette, inner: int, margin: int) -> list[Block]:
    blocks: list[Block] = []
    # The user's picture sits beside the title, so it costs no height of its own.
    photo = circle_photo(content.photo, 252, pal.accent, 10) if content.photo is not None else None
    title_width = inner - (photo.width + 36 if photo else 0)
    title_face = font("ExtraBold", 96)
    title_lines = wrap(content.title, title_face, title_width, 3) if content.title else []
    if title_lines or photo:
        step = line_height(title_face, 1.04)

        def draw_title(d: CardDraw, img: Image.Image, y: int) -> None:
            for i, line in enumerate(title_lines):
                d.text((margin - 4, y + i * step), line, font=title_face, fill=pal.foreground)
            if photo is not None:
                d.paste(photo, (margin + inner - photo.width, y))
        blocks.append(Block(0, max(step * len(title_lines), photo.height if photo else 0), draw_title))
    if content.subtitle:
        sub_face = font("Medium", 44)
        sub_lines = wrap(content.subtitle, sub_face, inner, 2)
        sub_step = line_height(sub_face, 1.3)

        def draw_subtitle(d: CardDraw, img: Image.Image, y: int) -> None:
            for i, line in enumerate(sub_lines):
                d.text((margin, y + i * sub_step), line, font=sub_face, fill=pal.muted)
        blocks.append(Block(6, sub_step * len(sub_lines) - 8, draw_subtitle))
    if content.stats:
        blocks.append(_hero_stat(content.stats[0], pal, inner, margin))
    if len(content.stats) > 1:
        blocks.append(_stat_row(content.stats[1:], pal, inner, margin))
    if content.items:
        blocks.append(_top_list(content.list_title or content.words["top"], content.items, pal, inner, margin))
    if content.caption:
        blocks.append(_caption(content.caption, pal, inner, margin))
    return blocks


def _flow(draw: CardDraw, image: Image.Image, blocks: list[Block], top: int, bottom: int) -> None:
    """Stack blocks from ``top``; spare room widens the gaps a little, a full card first narrows
    them, then drops blocks."""
    gap, tight = 48, 28

    def needed(chosen: list[Block], between: int = tight) -> int:
        return sum(block.height for block in chosen) + between * (len(chosen) - 1)

    while blocks and needed(blocks) > bottom - top:
        least = max(blocks, key=lambda block: block.priority)
        index = blocks.index(least)
        if least.smaller is not None:
            blocks[index] = least.smaller
        else:
            del blocks[index]
    if not blocks:
        return
    if needed(blocks, gap) > bottom - top:
        gap = tight
    elif len(blocks) > 1:
        gap += min((bottom - top - needed(blocks, gap)) // (len(blocks) - 1), 40)
    y = top
    for block in blocks:
        block.paint(draw, image, y)
        y += block.height + gap


def _label_under(value: str, face: Any, gap: int) -> tuple[int, int]:
    """(how far a big value's ink reaches above its baseline, how far below the baseline its
    label goes): ``gap`` under the lowest letter ("Jazzy" descends, "105" not). A thousands comma
    or a decimal point may dip into the gap, keeping 8 px from the label, so "14,320" does not
    sit further from its label than "14320"."""
    _, top, _, bottom = face.getbbox(value, anchor="ls")
    letters = value.replace(",", "").replace(".", "") or value
    return top, max(max(face.getbbox(letters, anchor="ls")[3], 0) + gap, bottom + 8)


def _hero_stat(stat: tuple[str, str], pal: Palette, inner: int, margin: int) -> Block:
    label, value = stat
    value_face = fit_font(value, "ExtraBold", 210, inner, 96)
    value = ellipsize(value, value_face, inner)
    label_face = font("Bold", 38)
    label_text = ellipsize(label.upper(), label_face, inner)
    top, below = _label_under(value, value_face, 31)
    cap = -top
    label_top = cap + below

    def paint(d: CardDraw, img: Image.Image, y: int) -> None:
        d.text((margin - 6, y + cap), value, font=value_face, fill=pal.accent, anchor="ls")
        d.text((margin, y + label_top), label_text, font=label_face, fill=pal.foreground, anchor="la")
    return Block(1, label_top + int(label_face.size) + 4, paint)  # (the size given: whole pixels)


def _stat_row(stats: list[tuple[str, str]], pal: Palette, inner: int, margin: int) -> Block:
    column = (inner - 40 * (len(stats) - 1)) // len(stats)
    faces = [fit_font(value, "ExtraBold", 96, column, 48) for _, value in stats]
    size = min(face.size for face in faces)
    value_face, label_face = font("ExtraBold", size), font("SemiBold", 32)
    cap = -int(value_face.getbbox("0", anchor="ls")[1])  # (FreeType's boxes are whole pixels)

    labels = [wrap(label.upper(), label_face, column, 2) for label, _ in stats]
    label_lines = max(len(lines) for lines in labels)

    def paint(d: CardDraw, img: Image.Image, y: int) -> None:
        for i, (_, value) in enumerate(stats):
            x = margin + i * (column + 40)
            d.text((x - 3, y + cap), ellipsize(value, value_face, column), font=value_face, fill=pal.foreground,
                   anchor="ls")
            for j, line in enumerate(labels[i]):
                d.text((x, y + cap + 24 + j * 40), line, font=label_face, fill=pal.muted, anchor="la")
    return Block(4, cap + 24 + 40 * label_lines, paint)


def _top_list(title: str, entries: list[str], pal: Palette, inner: int, margin: int) -> Block:
    head_face, rank_face, item_face = font("ExtraBold", 34), font("ExtraBold", 52), font("Bold", 50)
    step = 72
    rank_width = 84
    heading = ellipsize(title.upper(), head_face, inner)
    items = [ellipsize(item, item_face, inner - rank_width) for item in entries]

    def paint(d: CardDraw, img: Image.Image, y: int) -> None:
        d.text((margin, y), heading, font=head_face, fill=pal.accent)
        for i, item in enumerate(items):
            row = y + 62 + i * step
            d.text((margin, row), str(i + 1), font=rank_face, fill=pal.accent if i == 0 else pal.muted)
            d.text((margin + rank_width, row + 2), item, font=item_face, fill=pal.foreground)
    # A crowded card first shortens the list to the top three (before giving up other stats),
    # and drops those three only after everything else optional.
    smaller = _top_list(title, entries[:-1], pal, inner, margin) if len(entries) > 3 else None
    # Shortened only after the secondary stats have given way (4): the list is the card's story.
    return Block(3, 62 + step * len(items) - 12, paint, smaller)


def _caption(caption: str, pal: Palette, inner: int, margin: int) -> Block:
    face = font("SemiBold", 44)
    pad = 40
    lines = wrap(f"“{caption}”", face, inner - 2 * pad, 3)
    step = line_height(face, 1.3)
    box_height = 2 * pad + step * len(lines) - 14

    def paint(d: CardDraw, img: Image.Image, y: int) -> None:
        rounded_panel(img, d.box((margin, y, margin + inner, y + box_height)), pal.foreground, 0.12, 36)
        d.rectangle(d.box((margin, y + 28, margin + 8, y + box_height - 28)), fill=pal.accent)
        for i, line in enumerate(lines):
            d.text((margin + pad, y + pad - 6 + i * step), line, font=face, fill=pal.foreground)
    return Block(2, box_height, paint)


def _header(draw: CardDraw, content: CardContent, pal: Palette, margin: int, y: int,
            width: int, big: bool) -> None:
    """App name with an accent dot on the left; the period as a pill on the right."""
    name_face = font("ExtraBold", 38 if big else 28)
    dot = name_face.size // 2 + 4
    name = ellipsize((content.app_name or "Recap").upper(), name_face, width / 2)
    draw.ellipse(draw.box((margin, y + (name_face.size - dot) // 2 + 4, margin + dot,
                           y + (name_face.size + dot) // 2 + 4)), fill=pal.accent)
    draw.text((margin + dot + 16, y), name, font=name_face, fill=pal.foreground)
    if content.period:
        pill_face = font("Bold", 32 if big else 24)
        label = ellipsize(content.period, pill_face, width / 3)
        text_w = pill_face.getlength(label)
        pad_x, pill_h = pill_face.size * 0.8, pill_face.size * 1.8
        x1 = width - margin
        x0 = x1 - text_w - 2 * pad_x
        top = y + name_face.size / 2 + 4 - pill_h / 2
        draw.rounded_rectangle(draw.box((x0, top, x1, top + pill_h)), radius=pill_h / 2, outline=pal.foreground,
                               width=3)
        draw.text(((x0 + x1) / 2, top + pill_h / 2), label, font=pill_face, fill=pal.foreground, anchor="mm")


def _story_footer(image: Image.Image, draw: CardDraw, content: CardContent, pal: Palette,
                  modules: qr.Matrix, margin: int, top: int, side: int) -> None:
    """The QR code on a white tile (scanners want dark on light) and where the story lives."""
    code = qr.image(modules, side - 24)
    tile = side
    draw.rounded_rectangle(draw.box((margin, top, margin + tile, top + tile)), radius=28, fill=(255, 255, 255))
    draw.paste(code, (margin + (tile - code.width) // 2, top + (tile - code.height) // 2))

    x = margin + tile + 48
    room = STORY_SIZE[0] - margin - x
    scan = content.words["scan"]
    head = fit_font(max(scan, key=len), "ExtraBold", 50, room, 30)
    for i, line in enumerate(scan):
        draw.text((x, top + 36 + i * round(head.size * 1.2)), line, font=head, fill=pal.foreground)
    if content.footer:
        foot = fit_font(content.footer, "Bold", 38, room, 24)
        draw.text((x, top + tile - 40), ellipsize(content.footer, foot, room), font=foot, fill=pal.accent,
                  anchor="ls")


# --- the link preview (1200×630) ---------------------------------------------------------------

def render_og(content: CardContent) -> Image.Image:
    """The Open Graph / Twitter image: the same card laid out landscape, without the QR code."""
    width, height = OG_SIZE
    margin = 64
    pal = Palette.from_theme(content.theme)
    image = gradient_background(OG_SIZE, pal.background, pal.bottom, pal.glow, pal.glow2).copy()
    draw = CardDraw(image, mirrored=content.mirrored)
    has_side = bool(content.items) or content.photo is not None
    side_width = _og_side_width(draw, content) if has_side else 0
    left_width = width - 2 * margin - (side_width + OG_GUTTER if has_side else 0)
    _header(draw, content, pal, margin, 56, width, big=False)

    y = 128
    title_face = font("ExtraBold", 58)
    for line in wrap(content.title, title_face, left_width, 2):
        draw.text((margin - 2, y), line, font=title_face, fill=pal.foreground)
        y += line_height(title_face, 1.06)
    y += 32
    if content.stats:
        label, value = content.stats[0]
        value_face = fit_font(value, "ExtraBold", 150, left_width, 64)
        value = ellipsize(value, value_face, left_width)
        top, below = _label_under(value, value_face, 20)
        draw.text((margin - 4, y - top), value, font=value_face, fill=pal.accent, anchor="ls")
        label_face = font("Bold", 30)
        y += -top + below
        draw.text((margin, y), ellipsize(label.upper(), label_face, left_width), font=label_face,
                  fill=pal.foreground)
        y += 50
    caption_lines = min((height - 84 - y) // 40, 2)  # as many as fit above the footer
    if content.caption and caption_lines > 0:
        cap_face = font("SemiBold", 30)
        for line in wrap(f"“{content.caption}”", cap_face, left_width, caption_lines):
            draw.text((margin, y + 10), line, font=cap_face, fill=pal.muted)
            y += 40

    if content.footer:
        draw.text((margin, height - 52), ellipsize(content.footer, font("Bold", 28), left_width),
                  font=font("Bold", 28), fill=pal.accent, anchor="ls")
    if has_side:
        _og_side(image, draw, content, pal, x0=margin + left_width + OG_GUTTER, right=width - margin, height=height)
    return image


OG_GUTTER, OG_ITEM_SIZE, OG_PANEL_PAD, OG_RANK_WIDTH = 48, 32, 32, 44
OG_SIDE = (364, 560)  # the list panel's width, from a short list's to the widest the left column allows


def _og_side_width(draw: CardDraw, content: CardContent) -> int:
    """The list panel as wide as its longest name needs, within OG_SIDE: names were cut short
    ("The Lighthous…") while the left column had room to spare."""
    if not content.items:
        return OG_SIDE[0]
    face = font("Bold", OG_ITEM_SIZE)
    longest = max(face.getlength(item) for item in content.items)
    needed = int(longest) + 2 * OG_PANEL_PAD + OG_RANK_WIDTH + 4
    return max(OG_SIDE[0], min(OG_SIDE[1], needed))


def _og_side(image: Image.Image, draw: CardDraw, content: CardContent, pal: Palette,
             x0: int, right: int, height: int) -> None:
    top, bottom = 128, height - 64
    if content.photo is not None and not content.items:
        side = min(right - x0, bottom - top)
        photo = circle_photo(content.photo, side, pal.accent, 8)
        draw.paste(photo, (x0 + (right - x0 - side) // 2, top))
        return
    pad = OG_PANEL_PAD
    step = 62
    # The panel hugs a short list rather than standing half empty.
    bottom = min(bottom, top + pad + 56 + step * len(content.items) + pad - 16)
    rounded_panel(image, draw.box((x0, top, right, bottom)), pal.foreground, 0.10, 32)
    head_face, item_face, rank_face = font("ExtraBold", 24), font("Bold", OG_ITEM_SIZE), font("ExtraBold", 32)
    y = top + pad
    heading_x = x0 + pad
    if content.photo is not None:
        photo = circle_photo(content.photo, 72, pal.accent, 4)
        draw.paste(photo, (right - pad - 72, top + pad - 8))
    draw.text((heading_x, y), ellipsize((content.list_title or content.words["top"]).upper(), head_face,
                                        right - x0 - 2 * pad - 90), font=head_face, fill=pal.accent)
    y += 56
    for i, item in enumerate(content.items):
        draw.text((x0 + pad, y), str(i + 1), font=rank_face, fill=pal.accent if i == 0 else pal.muted)
        draw.text((x0 + pad + OG_RANK_WIDTH, y), ellipsize(item, item_face, right - x0 - 2 * pad - OG_RANK_WIDTH),
                  font=item_face,
                  fill=pal.foreground)
        y += step
