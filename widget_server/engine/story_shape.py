"""The story JSON's shape, defined once: what the engine assembles (``Renderer`` returns these),
what the share package draws a card from, what the player reads, and what the tests hold every
story to (tests/story_schema.py checks a story against these types at run time).

docs/STORIES.md describes each field. Every key is always present; ``None`` where a field does
not apply. Every string is plain text (the player and the card escape it).
"""
from __future__ import annotations

from typing import Any, Literal, TypedDict, get_args

FrameKind = Literal["text", "stat", "list", "image", "gif", "video", "chart", "card"]
FRAME_KINDS: tuple[str, ...] = get_args(FrameKind)


class Theme(TypedDict):
    background: str
    foreground: str
    accent: str


class Background(TypedDict):
    color: str | None
    gradient: list[str] | None
    image: str | None


class Stat(TypedDict):
    value: str
    raw: str | bool | int | float | None  # what the value shows, for the player's count-up
    unit: str | None
    caption: str | None


class Item(TypedDict):
    rank: int
    label: str
    value: str | None
    image: str | None


class Media(TypedDict):
    src: str
    alt: str
    poster: str | None


class Chart(TypedDict):
    type: Literal["bar", "line", "radial"]
    labels: list[str]
    values: list[float]
    highlight: int | None
    caption: str | None


class Button(TypedDict):
    id: str
    label: str
    action: Literal["deep_link", "url", "share", "event"]
    href: str | None
    event: str | None
    properties: dict[str, Any] | None


class Frame(TypedDict):
    id: str
    kind: FrameKind
    duration_ms: int | None
    background: Background
    title: str | None
    subtitle: str | None
    body: str | None
    stat: Stat | None
    items: list[Item] | None
    media: Media | None
    chart: Chart | None
    buttons: list[Button]


class CardStat(TypedDict):
    label: str
    value: str


class CardList(TypedDict):
    title: str
    items: list[str]


class Card(TypedDict):
    """The final card: the last frame shows it, and a share draws it as images."""

    title: str
    subtitle: str | None
    stats: list[CardStat]
    list: CardList | None
    image: str | None
    theme: Theme
    footer: str


class StoryPeriod(TypedDict):
    label: str
    start: str
    end: str


class AppInfo(TypedDict):
    name: str
    deep_link_scheme: str | None


class ExperimentArm(TypedDict):
    id: str  # the template's experiment
    variant: str  # the variant this user sees, the same on every load (engine/experiments.py)


class Story(TypedDict):
    template: str
    version: int  # the app's template version it was made from; 0: a default never saved
    title: str
    period: StoryPeriod
    locale: str  # BCP 47, as engine/locales.py decided it ('pt-BR')
    direction: Literal["ltr", "rtl"]  # how its texts run, for the player and the card
    generated_at: str
    source: Literal["on_demand", "precomputed"]
    app: AppInfo
    theme: Theme
    frames: list[Frame]
    card: Card
    experiment: ExperimentArm | None
