"""The player's words by language: the JSON tables in static/strings/, which js/player/strings.js
reads too (English is built into player.js; another language is fetched, or put in the embed page
by ``page_table`` so that its first screen needs no request)."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from ..engine.locales import table_for

FOLDER = Path(__file__).resolve().parent / "static" / "strings"
LANGUAGES = tuple(sorted(path.stem for path in FOLDER.glob("*.json")))


def language_for(tag: str) -> str:
    """The table for a locale, as the player picks it (``locales.table_for``)."""
    return table_for(tag, LANGUAGES)


@cache
def _table(language: str) -> dict[str, Any]:
    table: dict[str, Any] = json.loads((FOLDER / f"{language}.json").read_text("utf-8"))
    return table


def page_table(tag: str) -> dict[str, Any] | None:
    """The table the embed page carries for a story in ``tag``; None for English (in player.js)."""
    language = language_for(tag)
    return None if language == "en" else _table(language)
