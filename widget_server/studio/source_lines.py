"""Where in a TOML source a refusal's key path is written, so the editor marks that line.

A refusal names a key path (``frames[2].stat.value``, ``card.stats``) or, for a syntax error,
the line in its reason ("at line 12, column 5"). The path is found by reading the source's
lines as TOML lays them out: table headers (``[card]``, ``[[frames]]``, ``[frames.stat]``,
``[[frames.buttons]]``) and keys (``title = …``, ``stat = { … }``), and taking the line whose
table and key match the longest beginning of the path. A path the source does not spell out
(a default, an inline array's item) is marked where its nearest written parent is.
"""
from __future__ import annotations

import re

HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*=")
AT_LINE = re.compile(r"at line (\d+)")
STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _steps(path: str) -> list[str]:
    """``frames[2].stat.value`` → ["frames", "2", "stat", "value"]."""
    return [name or index for name, index in STEP.findall(path)]


def _header_steps(dotted: str, counts: dict[tuple[str, ...], int], array: bool) -> list[str]:
    """A header's path with each array of tables' current index put in: ``frames.buttons`` →
    ["frames", "2", "buttons", "0"] while the third frame's first button is being read."""
    steps: list[str] = []
    names = [part.strip().strip("\"'") for part in dotted.split(".")]
    for i, name in enumerate(names):
        steps.append(name)
        key = tuple(steps)
        last = i == len(names) - 1
        if last and array:
            counts[key] = counts.get(key, -1) + 1
            # a new item of this array starts its sub-arrays afresh
            for other in [k for k in counts if len(k) > len(key) and k[:len(key)] == key]:
                del counts[other]
        if key in counts:
            steps.append(str(counts[key]))
    return steps


def line_of(source: str, path: str, reason: str = "") -> int | None:
    """The 1-based line a refusal is about, or None when the source does not say (JSON, or the
    path is the whole template)."""
    written = AT_LINE.search(reason)
    if written:
        return int(written.group(1))
    wanted = _steps(path)
    if not wanted:
        return None
    counts: dict[tuple[str, ...], int] = {}
    table: list[str] = []
    best, best_length = None, 0
    for number, text in enumerate(source.splitlines(), start=1):
        header = HEADER.match(text)
        if header:
            table = _header_steps(header.group(2), counts, header.group(1) == "[[")
            here = table
        else:
            key = KEY.match(text)
            if not key:
                continue
            here = table + [key.group(1).strip('"')]
        length = _common(here, wanted)
        if length == len(here) and length > best_length:
            best, best_length = number, length
    return best


def _common(here: list[str], wanted: list[str]) -> int:
    length = 0
    for a, b in zip(here, wanted, strict=False):
        if a != b:
            break
        length += 1
    return length
