"""Holds a story to its documented shape at run time: the TypedDicts of
widget_server/engine/story_shape.py, the one definition the engine and the share package are
typed with (docs/STORIES.md). Every key present, none more, each value of its declared type."""
from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

from widget_server.engine.story_shape import Story


def story_problems(story: Any) -> list[str]:
    """Where ``story`` differs from ``Story``: one line per difference, empty when it fits."""
    return list(_problems(story, Story, "story"))


def _problems(value: Any, shape: Any, where: str) -> typing.Iterator[str]:
    origin = get_origin(shape)
    if is_typeddict(shape):
        if not isinstance(value, dict):
            yield f"{where}: {type(value).__name__}, not an object"
            return
        fields = get_type_hints(shape)
        for missing in fields.keys() - value.keys():
            yield f"{where}.{missing}: missing"
        for extra in value.keys() - fields.keys():
            yield f"{where}.{extra}: not part of the shape"
        for key in fields.keys() & value.keys():
            yield from _problems(value[key], fields[key], f"{where}.{key}")
    elif origin in (Union, types.UnionType):
        options = get_args(shape)
        if value is None and type(None) in options:
            return
        kinds = [option for option in options if option is not type(None)]
        if len(kinds) == 1:  # X | None holding something: what differs from X
            yield from _problems(value, kinds[0], where)
        elif not any(not list(_problems(value, option, where)) for option in kinds):
            yield f"{where}: {value!r} is none of {options}"
    elif origin is Literal:
        if value not in get_args(shape):
            yield f"{where}: {value!r} is not one of {get_args(shape)}"
    elif origin is list:
        if not isinstance(value, list):
            yield f"{where}: {type(value).__name__}, not a list"
            return
        for i, item in enumerate(value):
            yield from _problems(item, get_args(shape)[0], f"{where}[{i}]")
    elif origin is dict:
        if not isinstance(value, dict):
            yield f"{where}: {type(value).__name__}, not an object"
    elif shape is Any:
        return
    elif shape is type(None):
        if value is not None:
            yield f"{where}: {value!r}, not null"
    elif shape is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            yield f"{where}: {value!r}, not a number"
    elif shape is int:
        if isinstance(value, bool) or not isinstance(value, int):
            yield f"{where}: {value!r}, not an integer"
    elif not isinstance(value, shape):
        yield f"{where}: {value!r}, not a {shape.__name__}"

