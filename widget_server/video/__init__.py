"""A share's story as a video: one MP4 per share, from its frozen story, drawn on the job queue.

    scenes.py    the scene plan: one scene per frame the share keeps, then the card, under 30 s
    draw.py      each scene's pictures, animated as the player animates its frame (Pillow)
    encode.py    the pictures to H.264 in an MP4 (PyAV)
    files.py     the video's file beside the share's images
    render.py    a share's video: plan, draw, encode, write
    routes.py    GET /s/<token>/story.mp4
    soundtracks.py  POST /v1/soundtracks: an app's audio, checked and re-encoded as AAC
    cli.py       recap videos render: the campaign, every eligible user's video ahead of launch

The job is ``render_video`` (jobs/videos.py). See docs/SHARING.md, "Video".
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import soundtracks  # noqa: F401  (adds its route to bp)
    from .cli import videos
    from .routes import bp

    app.register_blueprint(bp)
    app.cli.add_command(videos)
