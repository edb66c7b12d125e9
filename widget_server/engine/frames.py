"""Turning a template's frames and final card into story JSON for one user.

A frame whose data is missing (an undefined metric, an empty list, a failed expression, a media
URL that is not a URL) is never sent half-filled: it falls back to its ``fallback`` table when it
has one, and is skipped otherwise.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Literal, overload

from .card_layout import MAX_CARD_STATS
from .expressions import ExpressionFailed, evaluate, is_number, pick_variant, render, truthy
from .locales import current
from .story_shape import Background, Button, Card, CardList, CardStat, Chart, Frame, Item, Media, Stat, Theme
from .template_schema import LIST_LIMIT
from .translations import DEFAULT_LOCALE, Translations, translated

log = logging.getLogger(__name__)

TextSpec = str | list[str] | dict[str, Any]  # a text field as the template has it (translations.py)
DEFAULT_DURATION_MS = 6000
CARD_DURATION_MS = 8000
# The card's button when the template names none, in the player's languages (its own label is
# a text like any other: a template's table of translations replaces this one).
SHARE_BUTTON = {"id": "share", "action": "share", "label": Translations({
    "en": "Share", "de": "Teilen", "fr": "Partager", "es": "Compartir", "pt": "Compartilhar", "tr": "Paylaş",
    "ja": "シェア", "ar": "مشاركة"})}
CONTENT_KEYS = ("title", "subtitle", "body", "stat", "list", "media", "chart")


def fallbacks(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """A frame's fallbacks in order, each a whole frame body: the frame's own id, background,
    buttons and duration, with the fallback's content and its own ``when`` over them."""
    listed = spec.get("fallback", [])
    shared = {k: v for k, v in spec.items() if k not in CONTENT_KEYS and k not in ("fallback", "when")}
    return [{**shared, **fallback} for fallback in (listed if isinstance(listed, list) else [listed])]


class Renderer:
    """Renders text for one user, choosing the same wording variant on every load."""

    def __init__(self, context: dict[str, Any], seed: str, deep_link_scheme: str | None,
                 notes: list[dict[str, str]] | None = None, default_locale: str = DEFAULT_LOCALE):
        self.context = context
        self.seed = seed
        self.scheme = deep_link_scheme
        self.notes = notes  # what happened to each frame not shown as written (the studio's preview)
        self.locale = current()  # the story's (engine/locales.py); texts are looked up in it
        self.default_locale = default_locale

    @overload
    def text(self, value: TextSpec | None, where: str, extra: dict[str, Any] | None = None, *,
             required: Literal[True]) -> str: ...

    @overload
    def text(self, value: TextSpec | None, where: str, extra: dict[str, Any] | None = None,
             required: bool = False) -> str | None: ...

    def text(self, value: TextSpec | None, where: str, extra: dict[str, Any] | None = None,
             required: bool = False) -> str | None:
        if value is None:
            if required:
                raise ExpressionFailed(f"{where} is missing")
            return None
        source = pick_variant(translated(value, self.locale, self.default_locale), f"{self.seed}|{where}")
        out = render(source, {**self.context, **extra} if extra else self.context)
        if not out:
            if required:
                raise ExpressionFailed(f"{where} rendered empty")
            return None
        return out

    def url(self, value: str | None, where: str, extra: dict[str, Any] | None = None) -> str | None:
        """A rendered http(s) or server-relative URL; anything else (javascript:, data:) fails."""
        if not value:
            return None
        out = self.text(value, where, extra)
        if out and (out.startswith(("https://", "http://")) or (out.startswith("/") and not out.startswith("//"))):
            return out
        raise ExpressionFailed(f"{where} is not an http(s) or site-relative URL")

    # --- frames ---

    def frame(self, spec: dict[str, Any]) -> Frame | None:
        """The frame for this user, its fallback, or None (skipped); why, in ``notes`` when kept."""
        if spec.get("enabled") is False:
            self._note(spec, "turned off (enabled = false)")
            return None
        if "when" in spec and not truthy(spec["when"], self.context):
            self._note(spec, f"its condition is false for this user: {spec['when']}")
            return None
        try:
            return self._frame(spec, spec["id"])
        except ExpressionFailed as exc:
            failure = exc
        # The first fallback whose ``when`` holds and whose data is there (a single fallback table
        # keeps the seed it always had, so its wording variant stays the user's).
        bodies = fallbacks(spec)
        for i, body in enumerate(bodies):
            if "when" in body and not truthy(body["when"], self.context):
                continue
            try:
                shown = self._frame(body, spec["id"] + ("|fallback" if len(bodies) == 1 else f"|fallback{i}"))
            except ExpressionFailed as again:
                failure = again
                continue
            self._note(spec, f"shown as its fallback{'' if len(bodies) == 1 else f' {i + 1}'}: {failure}")
            return shown
        log.debug("frame %s skipped: %s", spec["id"], failure)
        self._note(spec, f"skipped, its data is missing: {failure}")
        return None

    def _note(self, spec: dict[str, Any], reason: str) -> None:
        if self.notes is not None:
            self.notes.append({"frame": spec["id"], "reason": reason})

    def _frame(self, spec: dict[str, Any], seed: str) -> Frame:
        kind = spec["kind"]
        frame: Frame = {
            "id": spec["id"], "kind": kind,
            "duration_ms": spec.get("duration_ms", None if kind == "video" else DEFAULT_DURATION_MS),
            "background": self.background(spec.get("background"), seed),
            "title": self.text(spec.get("title"), f"{seed}.title", required=kind == "text"),
            "subtitle": self.text(spec.get("subtitle"), f"{seed}.subtitle"),
            "body": self.text(spec.get("body"), f"{seed}.body"),
            "stat": self.stat(spec["stat"], seed) if kind == "stat" else None,
            "items": self.items(spec["list"], seed) if kind == "list" else None,
            "media": self.media(spec["media"], seed) if kind in ("image", "gif", "video") else None,
            "chart": self.chart(spec["chart"], seed) if kind == "chart" else None,
            "buttons": self.buttons(spec.get("buttons", []), seed),
        }
        return frame

    def background(self, spec: dict[str, Any] | None, seed: str) -> Background:
        spec = spec or {}
        image = None
        if spec.get("image"):
            try:
                image = self.url(spec["image"], f"{seed}.background.image")
            except ExpressionFailed:
                image = None  # a missing background picture is not worth losing the frame
        return {"color": spec.get("color"), "gradient": spec.get("gradient"), "image": image}

    def stat(self, spec: dict[str, Any], seed: str) -> Stat:
        raw = None
        if "raw" in spec:
            raw = evaluate(spec["raw"], self.context)
            if raw is None:
                raise ExpressionFailed("stat.raw is missing")
            # The story is JSON: a method, a range or an infinity would fail it (Infinity is not
            # JSON a browser reads), for this user only, at serving or in a build.
            if not (isinstance(raw, (str, bool)) or (is_number(raw) and math.isfinite(raw))):
                raise ExpressionFailed(f"stat.raw is a {type(raw).__name__}, not a finite number or a text")
        return {"value": self.text(spec["value"], f"{seed}.stat.value", required=True),
                "raw": raw,
                "unit": self.text(spec.get("unit"), f"{seed}.stat.unit"),
                "caption": self.text(spec.get("caption"), f"{seed}.stat.caption")}

    def items(self, spec: dict[str, Any], seed: str) -> list[Item]:
        source = self.context.get(spec["metric"])
        if not isinstance(source, list) or not source:
            raise ExpressionFailed(f"list {spec['metric']} is empty")
        if len(source) < spec.get("min_items", 1):
            raise ExpressionFailed(f"list {spec['metric']} has {len(source)} items, under min_items")
        out: list[Item] = []
        for i, item in enumerate(source[:spec.get("limit", LIST_LIMIT)]):
            extra = {"item": item}
            label = self.text(spec.get("label", "{{ item.label }}"), f"{seed}.list.label", extra, required=True)
            value = self.text(spec.get("value"), f"{seed}.list.value", extra)
            image = None
            if spec.get("image"):
                try:
                    image = self.url(spec["image"], f"{seed}.list.image", extra)
                except ExpressionFailed:
                    image = None
            out.append({"rank": i + 1, "label": label, "value": value, "image": image})
        return out

    def media(self, spec: dict[str, Any], seed: str) -> Media:
        src = self.url(spec["src"], f"{seed}.media.src")
        if not src:
            raise ExpressionFailed("media.src is missing")
        poster = None
        if spec.get("poster"):
            poster = self.url(spec["poster"], f"{seed}.media.poster")
        return {"src": src, "alt": self.text(spec.get("alt"), f"{seed}.media.alt") or "", "poster": poster}

    def chart(self, spec: dict[str, Any], seed: str) -> Chart:
        series = self.context.get(spec["metric"])
        if not isinstance(series, dict) or not series.get("total"):
            raise ExpressionFailed(f"chart {spec['metric']} has no data")
        return {"type": spec.get("type", "bar"), "labels": list(series["labels"]), "values": list(series["values"]),
                "highlight": series.get("peak_index"),
                "caption": self.text(spec.get("caption"), f"{seed}.chart.caption")}

    def buttons(self, specs: list[dict[str, Any]], seed: str) -> list[Button]:
        out: list[Button] = []
        for spec in specs:
            try:
                out.append(self.button(spec, f"{seed}.buttons.{spec['id']}"))
            except ExpressionFailed as exc:
                log.debug("button %s dropped: %s", spec["id"], exc)
        return out

    def button(self, spec: dict[str, Any], seed: str) -> Button:
        action = spec["action"]
        href = None
        if action == "deep_link":
            href = self.text(spec["href"], f"{seed}.href", required=True)
            if not self.scheme or not href.startswith(f"{self.scheme}://"):
                raise ExpressionFailed("deep link does not use the app's scheme")
        elif action == "url":
            href = self.text(spec["href"], f"{seed}.href", required=True)
            if not href.startswith("https://") and not href.startswith("http://"):
                raise ExpressionFailed("url button needs an http(s) URL")
        return {"id": spec["id"], "label": self.text(spec["label"], f"{seed}.label", required=True),
                "action": action, "href": href,
                "event": spec.get("event") if action == "event" else None,
                "properties": spec.get("properties") if action == "event" else None}

    # --- the final card ---

    def card(self, spec: dict[str, Any], theme: Theme, footer: str) -> Card:
        stats: list[CardStat] = []
        for i, stat in enumerate(spec.get("stats", [])):
            if len(stats) == MAX_CARD_STATS:  # what the card can show (engine/card_layout.py)
                break
            if "when" in stat and not truthy(stat["when"], self.context):
                continue
            try:
                stats.append({"label": self.text(stat["label"], f"card.stats.{i}.label", required=True),
                              "value": self.text(stat["value"], f"card.stats.{i}.value", required=True)})
            except ExpressionFailed:
                continue
        card_list: CardList | None = None
        if spec.get("list"):
            source = self.context.get(spec["list"]["metric"])
            shown = source[:spec["list"]["limit"]] if isinstance(source, list) else []
            # A top list's items by their label; a derived list of names as they are.
            items = [str(item.get("label") if isinstance(item, dict) else item) for item in shown
                     if not isinstance(item, dict) or item.get("label") is not None]
            if items:
                card_list = {"title": self._optional(spec["list"]["title"], "card.list.title") or "", "items": items}
        image = None
        if spec.get("image"):
            try:
                image = self.url(spec["image"], "card.image")
            except ExpressionFailed:
                image = None
        return {"title": self.text(spec["title"], "card.title", required=True),
                "subtitle": self._optional(spec.get("subtitle"), "card.subtitle"),
                "stats": stats, "list": card_list, "image": image, "theme": theme,
                "footer": self._optional(spec.get("footer"), "card.footer") or footer}

    def _optional(self, value: TextSpec | None, where: str) -> str | None:
        """A field the card can do without: left out when it cannot be rendered for this user."""
        try:
            return self.text(value, where)
        except ExpressionFailed:
            return None

    def card_frame(self, spec: dict[str, Any], card: Card) -> Frame:
        buttons = spec.get("buttons") or [SHARE_BUTTON]
        return {"id": "card", "kind": "card", "duration_ms": spec.get("duration_ms", CARD_DURATION_MS),
                "background": self.background(spec.get("background"), "card"),
                "title": card["title"], "subtitle": card["subtitle"], "body": None, "stat": None,
                "items": None, "media": None, "chart": None, "buttons": self.buttons(buttons, "card")}
