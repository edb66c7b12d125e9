"""The story's locale: which one a user reads, its writing direction, and the one a story is being
made in (every formatting rule in the engine reads ``current()``; docs/STORIES.md, "Languages").

A user reads their latest event's ``context.locale`` (kept on their profile at ingest), else
their ``locale`` trait, else the app's default; ``?locale=`` overrides all three. Tags are BCP 47
as clients send them (``pt-BR``); a tag Babel's CLDR data does not know counts as not given.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, Literal

from babel import Locale, UnknownLocaleError

from ..errors import ValidationFailed

# What stories read before they had a locale (1 March, 12,345): the default of every app.
DEFAULT = "en-GB"
MAX_TAG = 35  # BCP 47's longest useful tags ("zh-Hant-TW-x-…") fit; longer is not a locale

Direction = Literal["ltr", "rtl"]

_current: ContextVar[str] = ContextVar("story_locale", default=DEFAULT)


@lru_cache(maxsize=1024)
def parse(tag: Any) -> str | None:
    """``tag`` as the canonical BCP 47 tag of a locale CLDR has ('pt-br' → 'pt-BR', 'iw' → 'he-IL'),
    or None when it is not one."""
    if not isinstance(tag, str) or not 0 < len(tag) <= MAX_TAG:
        return None
    try:
        return str(Locale.parse(tag.strip(), sep="-" if "-" in tag else "_")).replace("_", "-")
    except (ValueError, TypeError, UnknownLocaleError):
        return None


def checked(tag: str | None, field: str = "locale") -> str | None:
    """A locale given in a request or a command (None when not given); an unknown one is a 422
    naming ``field``."""
    if tag is None:
        return None
    known = parse(tag)
    if known is None:
        raise ValidationFailed(f"{field} must be a locale such as en, pt-BR or ar.",
                               details={field: ["Not a known locale."]})
    return known


def of_user(override: str | None, context_locale: str | None, traits: Any, app_default: str | None) -> str:
    """The locale a user's story is in: the override, their latest context.locale, their
    ``locale`` trait, the app's default, the first of them that is a known locale."""
    trait = traits.get("locale") if isinstance(traits, dict) else None
    for tag in (override, context_locale, trait, app_default):
        known = parse(tag) if tag is not None else None
        if known is not None:
            return known
    return DEFAULT


@lru_cache(maxsize=256)
def babel(tag: str) -> Locale:
    """The Babel locale of a canonical tag (``parse``'s answer)."""
    return Locale.parse(tag, sep="-")


def current() -> str:
    """The locale of the story being made (``DEFAULT`` outside one)."""
    return _current.get()


@contextmanager
def use(tag: str) -> Iterator[None]:
    """Make stories in ``tag`` inside the block."""
    token = _current.set(tag)
    try:
        yield
    finally:
        _current.reset(token)


@lru_cache(maxsize=256)
def direction(tag: str) -> Direction:
    """'rtl' for scripts written right to left (Arabic, Hebrew, Persian, Urdu), else 'ltr'."""
    return "rtl" if babel(tag).character_order == "right-to-left" else "ltr"


# CLDR's numbering systems that are a run of ten digits (numberingSystems.xml), by the name of
# their zero: the default of a locale such as ar-EG, fa, bn, mr, my. Babel formats with the
# system's symbols ("2٬963") but writes 0–9 in every locale; ``native_digits`` finishes the job.
ZEROS = {"arab": "ARABIC-INDIC", "arabext": "EXTENDED ARABIC-INDIC", "deva": "DEVANAGARI", "beng": "BENGALI",
         "mymr": "MYANMAR", "tibt": "TIBETAN", "olck": "OL CHIKI", "cakm": "CHAKMA", "adlm": "ADLAM",
         "nkoo": "NKO", "mtei": "MEETEI MAYEK", "hmnp": "NYIAKENG PUACHUE HMONG"}


@lru_cache(maxsize=256)
def _digit_table(tag: str) -> dict[int, str] | None:
    zero = ZEROS.get(babel(tag).default_numbering_system)
    if zero is None:
        return None
    first = ord(unicodedata.lookup(f"{zero} DIGIT ZERO"))
    return {ord("0") + n: chr(first + n) for n in range(10)}


def native_digits(text: str, tag: str) -> str:
    """``text`` (a number or date Babel formatted in ``tag``) with the digits of the locale's own
    numbering system, as CLDR writes it: '2٬963' → '٢٬٩٦٣' in ar-EG; unchanged where the digits
    are 0–9 (ar, which CLDR writes with Latin digits, among them)."""
    table = _digit_table(tag)
    return text if table is None else text.translate(table)


def chain(tag: str) -> tuple[str, ...]:
    """Where a translation for ``tag`` is looked for, most specific first: 'pt-BR' → ('pt-BR', 'pt');
    'zh-Hant-TW' → ('zh-Hant-TW', 'zh-Hant', 'zh')."""
    parts = tag.split("-")
    return tuple("-".join(parts[:n]) for n in range(len(parts), 0, -1))
