"""favicon.ico, drawn once: the share page's accent dot on the player's dark ground.

Browsers ask every origin for /favicon.ico; without one each page view logged a 404.
"""
from __future__ import annotations

import io

from PIL import Image, ImageDraw

BACKGROUND = (18, 18, 18, 255)   # the player's default theme (#121212, #1ed760)
ACCENT = (30, 215, 96, 255)
SIZES = (16, 32, 48)


def _icon(size: int) -> Image.Image:
    scale = 4  # drawn large and shrunk, for smooth edges
    image = Image.new("RGBA", (size * scale, size * scale), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    edge = size * scale - 1
    draw.rounded_rectangle((0, 0, edge, edge), radius=size * scale // 4, fill=BACKGROUND)
    inset = size * scale * 0.28
    draw.ellipse((inset, inset, edge - inset, edge - inset), fill=ACCENT)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def ico() -> bytes:
    out = io.BytesIO()
    largest = _icon(SIZES[-1])
    largest.save(out, format="ICO", sizes=[(s, s) for s in SIZES],
                 append_images=[_icon(s) for s in SIZES[:-1]])
    return out.getvalue()
