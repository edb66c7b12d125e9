"""Scenes to an MP4 with PyAV (FFmpeg's libraries, in its wheels): H.264 1080×1920, yuv420p,
30 fps, the index at the front (+faststart) so a phone starts playing before the file is in.

A settled scene's picture is converted to YUV once and handed to the encoder again for each
frame it stays on screen; only frames where something moves are drawn and converted.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image

from .draw import SIZE, SceneArt
from .scenes import FPS, TRANSITION_FRAMES, Scene

# x264's fastest preset with CABAC put back (9 s of CPU for a 20 s story against "faster"'s 26,
# and 3.7 MB against 1.8: the bench), at constant quality 23 and never over 2.2 Mbit/s, so a 20 s
# story stays under 6 MB whatever it shows. A keyframe every 3 s, for seeking.
X264_OPTIONS = {"preset": "ultrafast", "x264-params": "cabac=1", "crf": "23", "maxrate": "2200k",
                "bufsize": "4400k", "g": str(FPS * 3)}


@dataclass
class Timing:
    """Where a render's time went, in seconds of wall time (CPU time is the caller's to take)."""

    drawing: float = 0.0
    drawing_cpu: float = 0.0  # this thread's (Pillow, and the conversion to YUV)
    encoding: float = 0.0
    drawn: int = 0  # video frames drawn and converted
    frames: int = 0  # video frames in all


def encode(path: Path, scenes: list[Scene], art_of: Callable[[int, Scene], SceneArt],
           timing: Timing | None = None, soundtrack: Path | None = None) -> None:
    """Write the video of ``scenes`` to ``path`` (``art_of(index, scene)`` draws a scene), with
    the AAC of ``soundtrack`` (video/soundtracks.py made it) as its audio, cut at the video's end."""
    timing = timing or Timing()
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=FPS, options=X264_OPTIONS)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        if soundtrack is not None:
            seconds = (scenes[-1].start + scenes[-1].count) / FPS if scenes else 0.0
            _copy_audio(out, soundtrack, seconds)

        def send(frame: av.VideoFrame | None) -> None:
            started = time.perf_counter()
            out.mux(stream.encode(frame))
            timing.encoding += time.perf_counter() - started

        to_yuv = _converter(*SIZE)
        previous: Image.Image | None = None
        for index, scene in enumerate(scenes):
            started, cpu = time.perf_counter(), time.thread_time()
            art = art_of(index, scene)
            timing.drawing += time.perf_counter() - started
            timing.drawing_cpu += time.thread_time() - cpu
            settled = math.ceil(art.settles * FPS)
            blend = TRANSITION_FRAMES if previous is not None else 0
            held: av.VideoFrame | None = None
            picture = art.base
            for i in range(scene.count):
                frame = held
                if frame is None:
                    started, cpu = time.perf_counter(), time.thread_time()
                    picture = art.at(i / FPS)
                    if i < blend:
                        assert previous is not None
                        picture = Image.blend(previous, picture, (i + 1) / (blend + 1))
                    frame = to_yuv(picture)
                    if i >= settled and i >= blend:
                        held = frame
                    timing.drawing += time.perf_counter() - started
                    timing.drawing_cpu += time.thread_time() - cpu
                    timing.drawn += 1
                frame.pts = scene.start + i
                send(frame)
                timing.frames += 1
            previous = picture
        send(None)  # flush


def _converter(width: int, height: int) -> Callable[[Image.Image], av.VideoFrame]:
    """Pictures to YUV 4:2:0 frames through one RGB frame whose plane is filled with the
    picture's bytes: PyAV's from_image copies row by row (20 ms of CPU a 1080×1920 frame,
    against 4 for this). The plane's rows are padded (1088 px for 1080), so the picture is
    pasted into a canvas as wide as a row first."""
    rgb = av.VideoFrame(width, height, "rgb24")
    stride = rgb.planes[0].line_size // 3
    canvas = Image.new("RGB", (stride, height))

    def convert(picture: Image.Image) -> av.VideoFrame:
        canvas.paste(picture)
        rgb.planes[0].update(canvas.tobytes())
        return rgb.reformat(format="yuv420p")
    return convert


def _copy_audio(out: av.container.OutputContainer, soundtrack: Path, seconds: float) -> None:
    """The soundtrack's AAC packets, up to ``seconds``, into ``out`` (no decoding: it is AAC
    already). They go in first; the muxer interleaves them with the video's as those come."""
    with av.open(str(soundtrack)) as source:
        audio = source.streams.audio[0]
        copy = out.add_stream_from_template(audio)
        for packet in source.demux(audio):
            if packet.pts is None:  # the demuxer's last, empty packet
                continue
            if packet.time_base is not None and float(packet.pts * packet.time_base) >= seconds:
                break
            packet.stream = copy
            out.mux(packet)
