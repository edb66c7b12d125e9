"""What the public share page shows: texts, links and colours taken from the frozen card."""
from __future__ import annotations

from typing import Any

from ..engine.card_layout import MAX_CARD_STATS
from ..store.models import App, Share
from . import shares
from .cards import OG_SIZE, Palette
from .drawing import hex_color, mix, readable_on
from .words import words

# Inline styles are allowed for the theme's colour variables (checked hex values only) and the
# page's stylesheet (our own file, inlined); scripts, fonts, images and the video come from this
# server alone.
CSP = ("default-src 'none'; img-src 'self'; media-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def description(card: dict[str, Any], caption: str | None, top: str = "Top") -> str:
    """One sentence for link previews: the headline stat and the top of the list."""
    parts = []
    stats = [s for s in card.get("stats") or [] if isinstance(s, dict)]
    if stats:
        parts.append(f"{stats[0].get('value', '')} {str(stats[0].get('label', '')).lower()}".strip())
    listing = card.get("list") if isinstance(card.get("list"), dict) else None
    if listing and listing.get("items"):
        parts.append(f"{listing.get('title') or top}: {', '.join(map(str, listing['items'][:3]))}")
    text = " · ".join(p for p in parts if p) or str(card.get("subtitle") or "")
    return f"“{caption}” — {text}" if caption else text


# The stores' names as their badges say them, in the order a page lists them.
STORES = (("ios", "App Store"), ("android", "Google Play"))


def store_links(app_id: int) -> list[tuple[str, str, str]]:
    """(platform, store name, URL) of the stores the app is in: the app's current settings, not
    the frozen ones, so a share made before the app was in a store still invites to it."""
    app = App.get_or_none(App.id == app_id)
    links = app.store_links if app is not None and isinstance(app.store_links, dict) else {}
    return [(platform, name, links[platform]) for platform, name in STORES if isinstance(links.get(platform), str)]


def context(share: Share) -> dict[str, Any]:
    frozen = share.card
    card = frozen.get("card") or {}
    app = frozen.get("app") or {}
    links = shares.links(share)
    pal = Palette.from_theme(card.get("theme"))
    token = share.url.rsplit("/", 1)[1]
    said = words(frozen.get("locale"))
    summary = description(card, frozen.get("caption"), said["top"])
    listing = card.get("list") if isinstance(card.get("list"), dict) else None
    fallback = shares.website(app)
    return {
        "lang": frozen.get("locale") or "en",
        "direction": frozen.get("direction") or "ltr",
        "words": said,
        "title": str(card.get("title") or frozen.get("story_title") or said["a_story"]),
        "subtitle": str(card.get("subtitle") or ""),
        "description": summary,
        "app_name": app.get("name") or "Recap",
        "period": frozen.get("period") or "",
        "stats": [s for s in card.get("stats") or [] if isinstance(s, dict)][:MAX_CARD_STATS],
        "list_title": (listing or {}).get("title") or "",
        "items": [str(i) for i in (listing or {}).get("items") or []][:5],
        "caption": frozen.get("caption"),
        "footer": card.get("footer") or "",
        "url": share.url,
        "og_image": links["images"]["og"],
        "og_size": OG_SIZE,
        "story_src": f"/s/{token}/story.png",
        # The story's video once it is drawn (the page is cached for minutes: one made before shows the card).
        "video_src": f"/s/{token}/story.mp4" if share.video_status == "ready" else None,
        "deep_link": links["deep_link"],
        "custom_scheme": not links["deep_link"].startswith(("https://", "http://")),
        "fallback_url": fallback,
        "stores": store_links(share.app_id),
        "colors": {"bg": hex_color(pal.background), "fg": hex_color(pal.foreground),
                   "accent": hex_color(pal.accent), "muted": hex_color(pal.muted),
                   "glow": hex_color(pal.glow), "bottom": hex_color(mix(pal.background, pal.accent, 0.22)),
                   "on_accent": hex_color(readable_on(pal.accent, (0, 0, 0)))},
    }
