"""Whom the studio's preview plays a draft for: a user the author names, or samples it picks.

The samples come from the app's most recently seen users (``SAMPLED``), each given the draft's
story: the fullest story (most frames shown), the sparsest, one user who is not eligible (with
the template's own message), and for each frame that some of them do not see as written, one
user who gets its fallback or for whom it is skipped. Nothing is saved or built.
"""
from __future__ import annotations

from typing import Any

from ..engine.assemble import preview
from ..engine.errors import NotEligible
from ..engine.story_shape import Story
from ..engine.templates import StoryTemplate
from ..store.models import Profile

SAMPLED = 200


def preview_one(app_id: int, template: StoryTemplate, user_id: str) -> tuple[Story | NotEligible, list[dict[str, str]]]:
    return preview(app_id, template, [user_id])[user_id]


def pick(app_id: int, template: StoryTemplate) -> list[dict[str, Any]]:
    """Sample users for the draft: ``{"user_id", "label", "why"}``, the most telling first."""
    recent = [p.user_id for p in Profile.select(Profile.user_id).where(Profile.app_id == app_id)
              .order_by(Profile.last_seen.desc()).limit(SAMPLED)]
    if not recent:
        return []
    outcomes = preview(app_id, template, recent)
    eligible = {uid: (story, notes) for uid, (story, notes) in outcomes.items() if not isinstance(story, NotEligible)}
    out: list[dict[str, Any]] = []
    if eligible:
        shown = {uid: len(story["frames"]) for uid, (story, _) in eligible.items()}
        fullest = max(recent, key=lambda uid: shown.get(uid, -1))
        sparsest = min((uid for uid in recent if uid in shown), key=lambda uid: shown[uid])
        out.append({"user_id": fullest, "label": "Fullest story", "why": f"{shown[fullest]} frames shown"})
        if sparsest != fullest:
            out.append({"user_id": sparsest, "label": "Sparsest story", "why": f"{shown[sparsest]} frames shown"})
    ineligible = next((uid for uid in recent if isinstance(outcomes[uid][0], NotEligible)), None)
    if ineligible is not None:
        refused = outcomes[ineligible][0]
        assert isinstance(refused, NotEligible)
        out.append({"user_id": ineligible, "label": "Not eligible", "why": refused.message})
    seen: set[tuple[str, str]] = set()
    for uid in recent:
        for note in outcomes[uid][1]:
            kind = "fallback" if note["reason"].startswith("shown as its fallback") else "skipped"
            if (note["frame"], kind) in seen or note["reason"].startswith("turned off"):
                continue
            seen.add((note["frame"], kind))
            label = f"{note['frame']}: {'its fallback' if kind == 'fallback' else 'skipped'}"
            out.append({"user_id": uid, "label": label, "why": note["reason"]})
    return out
