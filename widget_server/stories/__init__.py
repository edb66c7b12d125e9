"""Stories over HTTP and the command line: ``GET /v1/stories/<template>`` (``routes``) and
``recap templates|stories|population`` (``cli``). The engine (``engine/``) builds them."""
from __future__ import annotations

from flask import Flask

from . import cli, routes


def init_app(app: Flask) -> None:
    routes.init_app(app)
    cli.init_app(app)
