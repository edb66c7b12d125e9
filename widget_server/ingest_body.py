"""Reading an ingest body safely: media type, size before and after gzip, JSON."""
from __future__ import annotations

import zlib

from flask import request

from .errors import MalformedBody, PayloadTooLarge, UnsupportedMediaType

# sendBeacon can only send text/plain without a CORS preflight, so it is accepted as JSON.
JSON_TYPES = ("application/json", "text/plain")
GZIP_CORRUPT = "The gzip body is truncated or corrupt."


def read_body(limit: int) -> bytes:
    """The request body, un-gzipped, refused with 413 as soon as it passes ``limit`` bytes."""
    if request.mimetype not in JSON_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {request.mimetype or '(none)'} is not supported; send application/json.",
            details={"Content-Type": [f"Must be one of: {', '.join(JSON_TYPES)}."]})
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"The body is {length} bytes; the limit is {limit}.",
                              details={"limit": limit})
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(f"The body is over the {limit}-byte limit.", details={"limit": limit})
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding == "gzip":
        raw = _gunzip(raw, limit)
    elif encoding not in ("identity", ""):
        raise UnsupportedMediaType(f"Content-Encoding {encoding} is not supported; use gzip.",
                                   details={"Content-Encoding": ["Must be gzip or identity."]})
    try:
        # JSON is UTF-8 (RFC 8259); msgspec checks strings but passes properties, traits and
        # context through as bytes, which would fail later, when they are stored.
        raw.decode()
    except UnicodeDecodeError as exc:
        message = f"Not valid UTF-8 at byte {exc.start}."
        raise MalformedBody(f"The body is not valid UTF-8 (byte {exc.start}).", details={"_body": [message]}) from None
    return raw


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        # max_length stops the inflater itself: a bomb never grows past limit + 1 bytes in memory.
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise MalformedBody(GZIP_CORRUPT, details={"_body": [GZIP_CORRUPT]}) from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"The body inflates past the {limit}-byte limit.", details={"limit": limit})
    if not inflater.eof or inflater.unused_data:  # cut short, or followed by more bytes
        raise MalformedBody(GZIP_CORRUPT, details={"_body": [GZIP_CORRUPT]})
    return out
