"""An experiment's variants side by side: completion and share rates with 95% confidence
intervals, and a verdict that says "not enough data yet" until every variant has been seen by
enough viewers.

The intervals are Wilson score intervals: unlike the normal approximation they stay inside
[0, 1] and hold up for rates near 0 or 1 and for small counts, which is where a new variant
starts. A variant *leads* only when its interval lies wholly above every other's: a conservative
reading (non-overlapping 95% intervals), so a dashboard never calls a winner from noise.
"""
from __future__ import annotations

import math
from typing import Any

Z_95 = 1.959963984540054  # the normal quantile of 0.975
MIN_VIEWERS = 100  # per variant, before any comparison is offered


def wilson(successes: int, n: int) -> list[float] | None:
    """The 95% Wilson score interval of ``successes`` in ``n``, rounded to 4 places; None for n = 0."""
    if n <= 0:
        return None
    p = successes / n
    z2 = Z_95 * Z_95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def compare(experiment_id: str, counts: dict[str, tuple[int, int, int]]) -> dict[str, Any]:
    """The report of one experiment from ``counts``: variant id → (viewers, completers,
    sharers), in the template's order of variants."""
    variants: list[dict[str, Any]] = []
    for variant_id, (viewers, completers, sharers) in counts.items():
        variants.append({
            "id": variant_id, "viewers": viewers,
            "completions": completers, "completion_rate": _rate(completers, viewers),
            "completion_ci": wilson(completers, viewers),
            "sharers": sharers, "share_rate": _rate(sharers, viewers), "share_ci": wilson(sharers, viewers),
        })
    short = [v for v in variants if v["viewers"] < MIN_VIEWERS]
    return {"id": experiment_id, "variants": variants, "enough_data": not short,
            "verdict": _verdict(variants, short)}


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _verdict(variants: list[dict[str, Any]], short: list[dict[str, Any]]) -> str:
    if short:
        fewest = min(short, key=lambda v: v["viewers"])
        return (f"Not enough data yet: each variant needs {MIN_VIEWERS} viewers, "
                f"and {fewest['id']!r} has {fewest['viewers']}.")
    found = []
    for measure, verb in (("completion", "is completed"), ("share", "is shared")):
        leader = _leader(variants, f"{measure}_ci")
        if leader is not None:
            found.append(f"{leader['id']!r} {verb} more ({leader[measure + '_rate']:.0%}, "
                         f"95% interval {leader[measure + '_ci'][0]:.0%}–{leader[measure + '_ci'][1]:.0%}).")
    return " ".join(found) or "No clear difference yet: the variants' 95% intervals overlap."


def _leader(variants: list[dict[str, Any]], interval: str) -> dict[str, Any] | None:
    """The variant whose interval lies above every other's, if one does."""
    best = max(variants, key=lambda v: v[interval][0])
    if all(best[interval][0] > other[interval][1] for other in variants if other is not best):
        return best
    return None
