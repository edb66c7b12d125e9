"""A one-line progress bar on stderr (no dependency)."""
from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``[#####-----]  52%  Soundwave 156/300 users  98,120 events  4.1 s``.

    On a terminal the line is redrawn in place (at most ~10 times a second); into a file or a
    pipe it is written only at each tenth, so logs stay readable.
    """

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 28, enabled: bool = True) -> None:
        self.total = max(1, total)
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.done = 0
        self.started = time.monotonic()
        self._drawn_at = 0.0
        self._last_tenth = -1

    def update(self, done: int, label: str, events: int) -> None:
        self.done = done
        if not self.enabled:
            return
        now = time.monotonic()
        fraction = min(1.0, done / self.total)
        if self.tty:
            if now - self._drawn_at < 0.1 and done < self.total:
                return
            self._drawn_at = now
        else:
            tenth = int(fraction * 10)
            if tenth == self._last_tenth:
                return
            self._last_tenth = tenth
        filled = int(fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"[{bar}] {fraction:4.0%}  {label}  {events:,} events  {now - self.started:.1f} s"
        self.stream.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
