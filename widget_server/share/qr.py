"""QR codes for share links: error correction M and the standard 4-module quiet zone.

Choosing the mask pattern (qrcode tries all eight and scores each, in pure Python) takes about
11 ms, most of a card's budget; the modules depend only on the share's URL, so they are computed
once when the share is created and frozen with it (``pack``/``unpack``).
"""
from __future__ import annotations

from functools import lru_cache

import qrcode
from PIL import Image

from .drawing import Color

QUIET_ZONE = 4  # modules; scanners need it to find the code on a busy background
QR_PNG_SIZE = 800  # px: plenty to scan from a phone held up to another screen

Matrix = tuple[tuple[bool, ...], ...]


@lru_cache(maxsize=256)
def matrix(text: str) -> Matrix:
    """The QR modules for ``text`` including the quiet zone (True = dark)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(text)
    code.make(fit=True)
    return tuple(tuple(row) for row in code.get_matrix())


def pack(modules: Matrix) -> list[str]:
    """Rows as strings of 0/1, to store with a share."""
    return ["".join("1" if dark else "0" for dark in row) for row in modules]


def unpack(rows: list[str]) -> Matrix:
    return tuple(tuple(c == "1" for c in row) for row in rows)


def image(modules: Matrix, target: int, dark: Color = (0, 0, 0), light: Color = (255, 255, 255)) -> Image.Image:
    """The code as RGB, as close to ``target`` px as whole pixels per module allow.

    Modules are scaled with nearest-neighbour by an integer factor, so every module edge stays
    crisp; that matters more to a scanner than the exact size.
    """
    count = len(modules)
    small = Image.frombytes("L", (count, count), bytes(0 if d else 255 for row in modules for d in row))
    scale = max(1, target // count)
    big = small.resize((count * scale, count * scale), Image.Resampling.NEAREST).convert("RGB")
    if (dark, light) == ((0, 0, 0), (255, 255, 255)):
        return big
    # Map black/white onto the given pair with one lookup table per channel.
    return big.point([v for d, lt in zip(dark, light, strict=True) for v in ([d] * 128 + [lt] * 128)])


def png_image(modules: Matrix) -> Image.Image:
    """The standalone QR image served at ``/s/<token>/qr.png`` (1-bit: tiny and fast to encode)."""
    return image(modules, QR_PNG_SIZE).convert("1")
