"""One end user of an app: viewer tokens for them (``POST /v1/viewer-tokens``), and their data
exported or erased (``POST /v1/users/export|erase``, ``recap users``)."""
from __future__ import annotations

from flask import Flask

from . import data, viewer_tokens


def init_app(app: Flask) -> None:
    viewer_tokens.init_app(app)
    data.init_app(app)
