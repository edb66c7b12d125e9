"""The player's words by language: the JSON tables in static/strings/, which js/player/strings.js
reads too (English is built into player.js; another language is fetched, or put in the embed page
by ``page_table`` so that its first screen needs no request)."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent / "static" / "strings"
LANGUAGES = tuple(sorted(path.stem for path in FOLDER.glob("*.json")))


def language_for(tag: str) -> str:
    """The table for a locale, as the player picks it: down the tag's chain ('de-AT' → 'de'), else
    a regional table of its language ('pt-PT' → 'pt-BR'), else English."""
    parts = [p for p in tag.replace("_", "-").split("-") if p]
    by_lower = {language.lower(): language for language in LANGUAGES}
    for n in range(len(parts), 0, -1):
        found = by_lower.get("-".join(parts[:n]).lower())
        if found:
            return found
    language = parts[0].lower() if parts else ""
    regional = [name for lower, name in by_lower.items() if language and lower.startswith(language + "-")]
    return regional[0] if regional else "en"


@cache
def _table(language: str) -> dict[str, Any]:
    table: dict[str, Any] = json.loads((FOLDER / f"{language}.json").read_text("utf-8"))
    return table


def page_table(tag: str) -> dict[str, Any] | None:
    """The table the embed page carries for a story in ``tag``; None for English (in player.js)."""
    language = language_for(tag)
    return None if language == "en" else _table(language)
