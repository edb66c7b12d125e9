"""QR codes for share links: error correction M and the standard 4-module quiet zone."""
from __future__ import annotations

from functools import lru_cache

import qrcode
from PIL import Image

from .drawing import Color

QUIET_ZONE = 4  # modules; scanners need it to find the code on a busy background
QR_PNG_SIZE = 800  # px: plenty to scan from a phone held up to another screen


@lru_cache(maxsize=256)
def matrix(text: str) -> tuple[tuple[bool, ...], ...]:
    """The QR modules for ``text`` including the quiet zone (True = dark)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(text)
    code.make(fit=True)
    return tuple(tuple(row) for row in code.get_matrix())


def image(text: str, target: int, dark: Color = (0, 0, 0), light: Color = (255, 255, 255)) -> Image.Image:
    """The code for ``text`` as RGB, as close to ``target`` px as whole pixels per module allow.

    Modules are scaled with nearest-neighbour by an integer factor, so every module edge stays
    crisp; that matters more to a scanner than the exact size.
    """
    rows = matrix(text)
    count = len(rows)
    modules = Image.frombytes("L", (count, count), bytes(0 if dark_ else 255 for row in rows for dark_ in row))
    scale = max(1, target // count)
    big = modules.resize((count * scale, count * scale), Image.NEAREST)
    if dark == (0, 0, 0) and light == (255, 255, 255):
        return big.convert("RGB")
    # Map black/white onto the theme's pair with one lookup table per channel.
    lut = [v for d, l in zip(dark, light) for v in ([d] * 128 + [l] * 128)]
    return big.convert("RGB").point(lut)


def png_image(text: str) -> Image.Image:
    """The standalone QR image served at ``/s/<token>/qr.png`` (1-bit: tiny and fast to encode)."""
    return image(text, QR_PNG_SIZE).convert("1")
