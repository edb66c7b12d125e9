"""The share page's QR code, drawn in the terminal so a phone can open it straight away."""
from __future__ import annotations

import io
from typing import TextIO

import qrcode
from qrcode.constants import ERROR_CORRECT_L


def qr_text(url: str) -> str:
    """The QR code as text: qrcode's half-block output, two modules per character row.

    ``invert=True`` draws the light modules as blocks, which reads as dark-on-light on the usual
    dark terminal background; the four-module quiet zone keeps phone scanners happy.
    """
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_L, border=4)
    code.add_data(url)
    code.make(fit=True)
    out = io.StringIO()
    code.print_ascii(out=out, invert=True)
    return out.getvalue()


def print_qr(url: str, out: TextIO) -> None:
    out.write(qr_text(url))
    out.flush()
