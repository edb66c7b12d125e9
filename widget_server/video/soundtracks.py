"""An app's soundtracks for its videos: ``POST /v1/soundtracks`` (the secret key), checked by
content and re-encoded, like pictures (share/uploads.py).

The bytes are opened by FFmpeg's probe (through PyAV) and accepted only when it finds one of
ALLOWED_FORMATS with an audio stream that decodes; the first SOUNDTRACK_SECONDS are decoded and
encoded afresh as AAC in an MP4 (44.1 kHz stereo, 128 kbit/s), so no tag, cover picture or other
stream of the upload survives, and a file declaring hours of audio costs no more than 30 s of
decoding. A template names the result by id (``[video] soundtrack = "…"``); the video copies its
packets in, cut at the video's end. Soundtracks are never served on their own.
"""
from __future__ import annotations

import io
import logging
import secrets

import av
from flask import Response, current_app, jsonify

from ..errors import Forbidden, UnsupportedMediaType
from ..share import access, uploads
from ..store import private_files
from ..store.models import ApiKey, Upload
from .routes import bp

log = logging.getLogger(__name__)

# FFmpeg's names of the containers accepted: MP3, MP4/M4A (AAC), WAV, Ogg (Vorbis, Opus), FLAC, raw AAC.
ALLOWED_FORMATS = {"mp3", "mov,mp4,m4a,3gp,3g2,mj2", "wav", "ogg", "flac", "aac"}
SOUNDTRACK_SECONDS = 30
RATE = 44_100
NOT_AUDIO = "Not an audio file (MP3, AAC/M4A, WAV, Ogg or FLAC)."


@bp.post("/v1/soundtracks")
def create_soundtrack() -> tuple[Response, int]:
    caller = access.viewer_or_secret("upload soundtracks")
    if caller.kind != ApiKey.SECRET:
        raise Forbidden("A soundtrack is the app's: upload it with the secret key.")
    data = uploads.read_body(current_app.config["UPLOAD_MAX_BYTES"], "soundtrack")
    encoded, seconds = reencode(data)
    upload_id = secrets.token_urlsafe(16)
    upload = Upload(id=upload_id, app=caller.app_id, user_id=None, format="aac", width=0, height=0,
                    size=len(encoded))
    path = private_files.make_dir(uploads.upload_dir()) / uploads.stored_name(upload)
    private_files.write_file(path, encoded)
    try:
        upload.save(force_insert=True)
    except BaseException:  # no file without its row
        path.unlink(missing_ok=True)
        raise
    log.info("soundtrack %s stored (%.1f s of AAC)", upload_id, seconds)
    return jsonify(id=upload_id, duration_ms=round(seconds * 1000), size=len(encoded)), 201


def reencode(data: bytes) -> tuple[bytes, float]:
    """AAC in MP4 from the audio in ``data`` (its first SOUNDTRACK_SECONDS), and its length in s;
    415 naming the file when it is not audio of an accepted kind, or does not decode."""
    try:
        source = av.open(io.BytesIO(data), "r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError):
        raise UnsupportedMediaType("The soundtrack is not an audio file.", details={"file": [NOT_AUDIO]}) from None
    out = io.BytesIO()
    samples = 0
    try:
        with source:
            if source.format.name not in ALLOWED_FORMATS or not source.streams.audio:
                raise UnsupportedMediaType("The soundtrack is not an audio file.", details={"file": [NOT_AUDIO]})
            with av.open(out, "w", format="mp4") as target:
                stream = target.add_stream("aac", rate=RATE, layout="stereo")
                stream.bit_rate = 128_000
                resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
                for frame in source.decode(source.streams.audio[0]):
                    for piece in resampler.resample(frame):
                        piece.pts = samples
                        samples += piece.samples
                        target.mux(stream.encode(piece))
                    if samples >= SOUNDTRACK_SECONDS * RATE:
                        break
                for piece in resampler.resample(None):
                    piece.pts = samples
                    samples += piece.samples
                    target.mux(stream.encode(piece))
                target.mux(stream.encode(None))
    except av.FFmpegError:
        samples = 0
    if samples == 0:
        raise UnsupportedMediaType("The soundtrack is damaged: no audio could be decoded from it.",
                                   details={"file": ["Could not be decoded."]})
    return out.getvalue(), samples / RATE
