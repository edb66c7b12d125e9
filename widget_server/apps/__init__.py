"""The apps that send events: ``recap apps|keys|db`` (``cli``), the options every feature's
commands share (``cli.app_option``, ``cli.find_app``), and the deep-link scheme rule
(``link_schemes``)."""
from __future__ import annotations

from flask import Flask

from . import cli


def init_app(app: Flask) -> None:
    cli.init_app(app)
