"""Share video benchmark: one 20 s story video drawn and encoded, wall and CPU time split into
drawing and encoding, and the file's size.

Run: ``python bench/video_bench.py [--runs 3]``. The share is the kind a music app makes: an
intro, a count-up stat, a top-five list, a listening clock, a second stat (3 s each) and the card
(5 s), drawn by ``video.render`` exactly as the queue's job draws it, into a temporary instance.

Columns: wall time of the whole render; the main thread's wall and CPU time drawing (Pillow:
composing the scenes, RGB to YUV); the encoder's (PyAV/x264, whose threads the process CPU time
counts: encoding CPU = process CPU - drawing CPU); the frames drawn of those encoded (the rest
repeat a settled picture); the MP4's size. Medians of the runs.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from widget_server import create_app
from widget_server.share import qr
from widget_server.store.models import Share
from widget_server.video import render, scenes
from widget_server.video.encode import Timing


def _frame(frame_id: str, kind: str, title: str, **fields: object) -> dict:
    base = {"id": frame_id, "kind": kind, "duration_ms": 3000, "background": {"color": None, "gradient": None,
                                                                              "image": None},
            "title": title, "subtitle": None, "body": None, "stat": None, "items": None, "media": None,
            "chart": None, "buttons": []}
    return {**base, **fields}


def frozen_share() -> dict:
    artists = ["Björk", "Caribou", "Rosalía", "Four Tet", "Mitski"]
    frames = [
        _frame("intro", "text", "Ana, your 2026 in music is here.", subtitle="You pressed play 4,210 times.",
               background={"color": None, "gradient": ["#117b37", "#121212"], "image": None}),
        _frame("minutes", "stat", "You listened for", stat={"value": "14,320", "raw": 14320, "unit": "minutes",
                                                             "caption": "That's 239 hours of pure sound."},
               background={"color": "#116830", "gradient": None, "image": None}),
        _frame("top-artists", "list", "Your top artists", subtitle="Björk was on repeat: 2,340 minutes.",
               items=[{"rank": i + 1, "label": a, "value": f"{2340 - i * 310:,} min", "image": None}
                      for i, a in enumerate(artists)],
               background={"color": "#6c185d", "gradient": None, "image": None}),
        _frame("clock", "chart", "Your listening clock", subtitle="You listened most in the hour from 22:00.",
               chart={"type": "radial", "labels": [str(h) for h in range(24)],
                      "values": [abs(12 - h) * 3 + (h % 5) for h in range(24)], "highlight": 22,
                      "caption": "Minutes by hour of the day"},
               background={"color": "#132347", "gradient": None, "image": None}),
        _frame("streak", "stat", "Your longest streak", stat={"value": "38", "raw": 38, "unit": "days in a row",
                                                               "caption": "From 2 March to 8 April."},
               background={"color": "#8f4806", "gradient": None, "image": None}),
    ]
    card = {"title": "Ana's 2026 in Music", "subtitle": "The Night Owl",
            "stats": [{"label": "Minutes listened", "value": "14,320"}, {"label": "Top genre", "value": "Art Pop"}],
            "list": {"title": "Top artists", "items": artists}, "image": None,
            "theme": {"background": "#121212", "foreground": "#ffffff", "accent": "#1ed760"}, "footer": "soundwave.app"}
    url = "https://recap.example.com/s/" + "x" * 80
    return {"card": card, "story_title": "Your 2026 in Music", "period": "2026",
            "app": {"name": "Soundwave", "deep_link_scheme": None, "share_base_url": None}, "caption": None,
            "frames": frames, "qr": qr.pack(qr.matrix(url)), "url": url}


def save_stills(video: Path, folder: Path, frames: int) -> None:
    """The middle frame (the list arriving, half way through) and the last (the card and its QR
    code), at half size, as PNGs."""
    import av

    wanted = {frames // 2: "video-middle.png", frames - 1: "video-end.png"}
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                frame.to_image().resize((540, 960)).save(folder / wanted[index], optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stills", type=Path, help="Also save a still from the middle and the end of the video "
                                                    "here (video-middle.png, video-end.png: docs/SHARING.md).")
    args = parser.parse_args()
    frozen = frozen_share()
    plan = scenes.plan(frozen)
    seconds = scenes.total_frames(plan) / scenes.FPS
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"INSTANCE_PATH": os.path.join(folder, "instance"), "TESTING": True})
        with app.app_context():
            share = Share(id="benchbenchbenchbench00", app_id=1, card=frozen, url=frozen["url"], upload=None)
            for run in range(args.runs):
                timing = Timing()
                out = Path(folder) / f"run{run}.mp4"
                wall, cpu = time.perf_counter(), time.process_time()
                render.render(share, out, timing)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                if args.stills and run == 0:
                    save_stills(out, args.stills, scenes.total_frames(plan))
                rows.append({"wall": wall, "cpu": cpu, "draw": timing.drawing, "draw_cpu": timing.drawing_cpu,
                             "encode": timing.encoding, "encode_cpu": cpu - timing.drawing_cpu,
                             "drawn": timing.drawn, "frames": timing.frames, "size": out.stat().st_size})
    load = os.getloadavg()[0]
    print(f"{seconds:.1f} s video, {len(plan)} scenes, 1080x1920 H.264 at {scenes.FPS} fps; "
          f"{args.runs} runs, load average {load:.1f} on {os.cpu_count()} cores")
    print()
    print("| measure | median | runs |")
    print("|---|---:|---|")

    def row(label: str, key: str, unit: str, scale: float = 1.0, digits: int = 1) -> None:
        values = [r[key] * scale for r in rows]
        shown = ", ".join(f"{v:.{digits}f}" for v in values)
        print(f"| {label} | {statistics.median(values):.{digits}f} {unit} | {shown} |")

    row("render, wall", "wall", "s")
    row("render, CPU (all threads)", "cpu", "s")
    row("drawing, wall", "draw", "s")
    row("drawing, CPU", "draw_cpu", "s")
    row("encoding, wall", "encode", "s")
    row("encoding, CPU (x264's threads)", "encode_cpu", "s")
    row("frames drawn / encoded", "drawn", f"/ {rows[0]['frames']}", digits=0)
    row("file size", "size", "MB", 1 / 1e6, 2)
    print(f"\nTargets: wall <= {seconds:.0f} s (real time), size <= 6 MB.")


if __name__ == "__main__":
    main()
