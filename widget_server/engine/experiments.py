"""Experiments: a template's variants of texts, frame order or a frame's presence, each shown to a
stable share of its users, so the story dashboard can tell which one is completed and shared more.

A user's variant is a hash of the template, the experiment and the user id, taken as a point in
[0, 100) and matched against the variants' cumulative percents: the same user sees the same
variant on every load, on every machine, in a built story as in one assembled on demand, and
renaming another variant moves no one. The story JSON names it (``"experiment": {"id",
"variant"}``) and the player records it on every engagement event it sends (docs/STORIES.md
"Experiments").
"""
from __future__ import annotations

import hashlib
from typing import Any

from .errors import error_entry


def assign(experiment: dict[str, Any], template_id: str, user_id: str) -> dict[str, Any]:
    """The variant of ``experiment`` that ``user_id`` sees."""
    digest = hashlib.sha256(f"{template_id}|{experiment['id']}|{user_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * 100
    variants: list[dict[str, Any]] = experiment["variants"]
    reached = 0
    for variant in variants:
        reached += variant["percent"]
        if point < reached:
            return variant
    return variants[-1]  # (the percents add up to 100: only rounding reaches here)


def apply(spec: dict[str, Any], variant: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The template's frames and card as ``variant`` shows them: its wording over the frames'
    own, its order (frames it does not list follow, in the template's order), its hidden frames
    turned off."""
    wording = variant.get("frames", {})
    hidden = set(variant.get("hide", ()))
    frames = []
    for frame in spec["frames"]:
        changed = {**frame, **wording.get(frame["id"], {})}
        if frame["id"] in hidden:
            changed["enabled"] = False
        frames.append(changed)
    rank = {frame_id: i for i, frame_id in enumerate(variant.get("order", ()))}
    frames.sort(key=lambda f: rank.get(f["id"], len(rank)))  # (a stable sort keeps the rest's order)
    return frames, {**spec["card"], **variant.get("card", {})}


def check(spec: dict[str, Any]) -> list[dict[str, str]]:
    """What the schema cannot see: the frames a variant names are the template's."""
    experiment = spec.get("experiment")
    if experiment is None:
        return []
    frame_ids = {frame["id"] for frame in spec["frames"]}
    errors = []
    for i, variant in enumerate(experiment["variants"]):
        base = f"experiment.variants[{i}]"
        for frame_id in variant.get("frames", {}):
            if frame_id not in frame_ids:
                errors.append(error_entry(f"{base}.frames.{frame_id}", f"No frame with id {frame_id!r}."))
        for part in ("order", "hide"):
            listed = variant.get(part, [])
            for j, frame_id in enumerate(listed):
                if frame_id not in frame_ids:
                    errors.append(error_entry(f"{base}.{part}[{j}]", f"No frame with id {frame_id!r}."))
                elif listed.index(frame_id) != j:
                    errors.append(error_entry(f"{base}.{part}[{j}]", f"Frame {frame_id!r} is listed twice."))
        if frame_ids <= set(variant.get("hide", [])):
            errors.append(error_entry(f"{base}.hide", "A variant must show at least one frame."))
    return errors
