"""The share blueprint: the routes of ``share/`` are added to it by its modules."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("share", __name__, template_folder="templates", static_folder="static",
               static_url_path="/s/_static")


