"""A static file as served: its bytes compressed once (brotli, gzip), its content hash, and the
answer to a request for it (the encoding the client takes, an ETag per encoding, 304s)."""
from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field

import brotli
from flask import Response, request

# A fingerprinted URL names one content forever; an un-fingerprinted one (kept for hosts that
# wrote /widget/player.js into their pages) is checked again after five minutes, a 304 thanks
# to the ETag.
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
# Scripts and stylesheets; WOFF2 and the icon's PNGs are compressed already.
COMPRESSIBLE = ("text/",)


@dataclass(frozen=True)
class Encoded:
    """One file's bytes with the smaller encodings of them, made once."""

    body: bytes
    mimetype: str
    digest: str = field(init=False)
    encodings: dict[str, bytes] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", hashlib.sha256(self.body).hexdigest()[:16])
        encodings: dict[str, bytes] = {}
        if self.mimetype.startswith(COMPRESSIBLE):
            # mtime=0: the same gzip bytes, so the same ETag, from every server process.
            for name, packed in (("br", brotli.compress(self.body, quality=11)),
                                 ("gzip", gzip.compress(self.body, compresslevel=9, mtime=0))):
                if len(packed) < len(self.body):
                    encodings[name] = packed
        object.__setattr__(self, "encodings", encodings)

    def fingerprint(self, name: str) -> str:
        """``name`` with the content hash before its extension: player.js -> player.<hash>.js."""
        stem, dot, ext = name.rpartition(".")
        return f"{stem}.{self.digest}.{ext}" if dot else f"{name}.{self.digest}"


def chosen_encoding(encodings: dict[str, bytes]) -> str | None:
    """brotli if the client takes it, else gzip, else none."""
    accepted = request.accept_encodings
    return next((name for name in ("br", "gzip") if name in encodings and accepted.quality(name) > 0), None)


def answer(asset: Encoded, cache_control: str) -> Response:
    encoding = chosen_encoding(asset.encodings)
    # Each encoding is a different byte sequence, so each gets its own strong ETag.
    etag = asset.digest + (f"-{encoding}" if encoding else "")
    headers = {"Cache-Control": cache_control, "ETag": f'"{etag}"', "X-Content-Type-Options": "nosniff"}
    if asset.encodings:
        headers["Vary"] = "Accept-Encoding"
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    if encoding:
        headers["Content-Encoding"] = encoding
    body = asset.encodings[encoding] if encoding else asset.body
    return Response(body, headers=headers, mimetype=asset.mimetype)


def compressed(response: Response) -> Response:
    """An answer made for one request (a page, a story), compressed as the client accepts;
    quick levels: a few KB take well under a millisecond."""
    encoding = chosen_encoding({"br": b"", "gzip": b""})
    response.vary.add("Accept-Encoding")
    if encoding == "br":
        response.set_data(brotli.compress(response.get_data(), quality=5))
    elif encoding == "gzip":
        response.set_data(gzip.compress(response.get_data(), compresslevel=6, mtime=0))
    if encoding:
        response.headers["Content-Encoding"] = encoding
    return response
