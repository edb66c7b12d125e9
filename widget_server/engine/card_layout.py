"""What the final card can lay out legibly: the checks ``recap templates check`` adds for it.

The card's stats are drawn as one big stat and a row of the others on the share image (1080 ×
1920), and as a two-column grid in the player. A row of three still reads ("Art pop", "Top 2%",
"63 days" at the image's full size); with a fourth in the row values are cut to "Art p…", so a
card shows at most ``MAX_CARD_STATS``. Loading a template does not refuse more (an app's template
keeps being served while its author fixes it): the story's card keeps the first that render,
and the check refuses the file, naming the path and why.
"""
from __future__ import annotations

from typing import Any

from .errors import error_entry

MAX_CARD_STATS = 4


def check(spec: dict[str, Any]) -> list[dict[str, str]]:
    """Errors (``{path, reason}``) for what a validated template's card cannot show."""
    stats = spec["card"].get("stats", [])
    if len(stats) <= MAX_CARD_STATS:
        return []
    return [error_entry("card.stats", f"{len(stats)} stats, but the card shows at most {MAX_CARD_STATS} (one big "
                                      "stat and a row of three on the share image): the rest would never be seen. "
                                      "Keep the ones that matter; a stat with 'when' counts too.")]
