"""Helpers for the video tests: the queue consumed in a thread of the test's process (huey's real
consumer on the instance's SQLite queue), MP4s decoded with PyAV, text read back with Debian's
tesseract (``scripts/test.sh`` installs it)."""
from __future__ import annotations

import contextlib
import io
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from PIL import Image

from helpers.debian import binary, missing
from helpers.server import http
from helpers.waiting import wait_until
from widget_server.jobs.queue import queue_of
from widget_server.jobs.worker import EmbeddedConsumer


@contextlib.contextmanager
def consuming(app) -> Iterator[EmbeddedConsumer]:
    """A consumer of the app's queue running beside the test (one worker thread, no chores)."""
    running = EmbeddedConsumer(queue_of(app).huey, workers=1, worker_type="thread", periodic=False,
                               initial_delay=0.05, max_delay=0.2)
    running.start()
    try:
        yield running
    finally:
        running.stop(graceful=True)


@pytest.fixture
def consumer(app):
    with consuming(app) as running:
        yield running


def share_status(server, share_id: str, headers: dict) -> dict:
    reply = http("GET", f"{server.url}/v1/shares/{share_id}", headers=headers)
    assert reply.status == 200, reply.body
    return reply.json()


def wait_for_video(server, share_id: str, headers: dict, timeout: float = 240) -> dict:
    """The share once its video is no longer pending (a render takes seconds on a busy machine)."""
    return wait_until(lambda: (body := share_status(server, share_id, headers))["video"]["status"] != "pending"
                      and body, timeout, "the video to be drawn", every=0.5)


def decode(data: bytes, keep: tuple[int, ...] = ()) -> tuple[dict, dict[int, Image.Image]]:
    """The MP4's streams (what PyAV reads of them, with its number of video ``frames``), every
    frame decoded, and the frames at the indices ``keep`` (-1: the last) as images. (Making an
    image of each of a story's 865 frames took 14 s; decoding them, 1 s.)"""
    images: dict[int, Image.Image] = {}
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        info = {"codec": video.codec_context.name, "width": video.width, "height": video.height,
                "pix_fmt": video.codec_context.pix_fmt, "rate": video.average_rate,
                "duration": float(container.duration or 0) / av.time_base,
                "audio": [stream.codec_context.name for stream in container.streams.audio]}
        count, last = 0, None
        for last in container.decode(video=0):
            if count in keep:
                images[count] = last.to_image()
            count += 1
        if -1 in keep and last is not None:
            images[-1] = last.to_image()
    info["frames"] = count
    return info, images


def read_text(image: Image.Image) -> str:
    """The words tesseract reads in ``image``."""
    tesseract = binary("tesseract", "/usr/bin/tesseract")
    if tesseract is None:
        missing("tesseract-ocr")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "frame.png"
        image.save(path)
        done = subprocess.run([str(tesseract), str(path), "-", "--psm", "4"], capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())


def wav_bytes(seconds: float = 3.0, rate: int = 22_050) -> bytes:
    """A WAV of a 440 Hz tone, mono 16-bit."""
    import math
    import struct
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"".join(struct.pack("<h", round(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                                 for i in range(int(seconds * rate))))
    return out.getvalue()


def shipped_with(extra: str = "", frames: tuple[str, ...] | None = None) -> str:
    """The shipped year-in-music template with ``extra`` TOML appended (a table of its own) and,
    when ``frames`` names some, every other frame turned off (``enabled = false``): a short video
    for the tests about a video's life rather than its pictures (11 s to draw, not 29)."""
    from widget_server.engine.templates import SHIPPED_DIR

    text = (SHIPPED_DIR / "year_in_music.toml").read_text()
    if frames is not None:
        text = re.sub(r'^\[\[frames\]\]\nid = "([^"]+)"\n',
                      lambda m: m.group(0) + ("" if m.group(1) in frames else "enabled = false\n"), text, flags=re.M)
    return text + "\n" + extra + "\n"
