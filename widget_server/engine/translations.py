"""Template texts in several languages: a text field may be a table of locale → text (or a list of
wording variants), looked up down the story locale's chain ('pt-BR' → 'pt') and then in the
template's ``default_locale``; and what each locale a template declares is still missing.

The template schema marks every text field it loads (``Text``, ``Variants``, ``Translations``), so
the texts of a template are found by their type, wherever the format puts them.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .locales import chain

DEFAULT_LOCALE = "en"  # the language of a template's plain texts unless it says otherwise


class Text(str):
    """A text field written once, in the template's default locale."""


class Variants(list[str]):
    """A text field's wording variants, in the template's default locale."""


class Translations(dict[str, "str | list[str]"]):
    """A text field's table: canonical locale tag → text or variants."""


def translated(value: Any, tag: str, default_locale: str) -> Any:
    """What a text field says in ``tag``: its table's entry for the first of ``tag``'s chain it
    has, else its default locale's; a field that is no table as it is."""
    if not isinstance(value, Translations):
        return value
    for candidate in chain(tag) + chain(default_locale):
        if candidate in value:
            return value[candidate]
    return next(iter(value.values()))  # (the schema requires the default's entry: not reached)


def texts(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every text field of a loaded template, with its key path ('frames[2].title')."""
    if isinstance(node, (Text, Variants, Translations)):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from texts(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from texts(value, f"{path}[{i}]")


_CODE = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)


def has_words(text: str) -> bool:
    """Whether a text has words of its own to translate ('{{ plays | number }}' has none)."""
    return any(ch.isalpha() for ch in _CODE.sub("", text))


def missing(spec: dict[str, Any]) -> dict[str, list[str]]:
    """For each locale the template declares (``locales``), the key paths of the texts it has no
    translation for (none down its chain; a plain text counts only for its default locale)."""
    default = spec.get("default_locale", DEFAULT_LOCALE)
    found: dict[str, list[str]] = {}
    fields = list(texts(spec))  # (a metric's only texts are its labels: tiers', label rules')
    for tag in spec.get("locales", []):
        wanted = chain(tag)
        if default in wanted:
            found[tag] = []
            continue
        found[tag] = [path for path, value in fields if _lacks(value, wanted)]
    return found


def _lacks(value: Any, wanted: tuple[str, ...]) -> bool:
    if isinstance(value, Translations):
        return not any(tag in value for tag in wanted)
    words = [value] if isinstance(value, str) else value
    return any(has_words(w) for w in words)
