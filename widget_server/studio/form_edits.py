"""The studio's form view writes the template's own TOML: each change in the form is an edit
(set a value, remove it, move a frame) applied to the source with tomlkit, which keeps the rest
of the file as it was written (comments, order, spacing). The result is checked like any
other source before it can be saved.
"""
from __future__ import annotations

from typing import Any

import tomlkit
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Array, InlineTable, Table

from ..errors import ValidationFailed

MAX_EDITS = 200
Container = dict[str, Any] | list[Any]


def _step(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError("Each step is a key or an index.")


def _value(value: Any) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, list) and len(value) <= 20 and all(isinstance(v, str) for v in value):
        return
    raise ValidationError("A value is text, a number, true/false, a list of texts (variants), or null to remove.")


class Edit(Schema):
    op = fields.String(required=True, validate=validate.OneOf(("set", "move")))
    path = fields.List(fields.Raw(validate=_step), required=True, validate=validate.Length(min=1, max=8))
    value = fields.Raw(validate=_value, allow_none=True)
    to = fields.Integer(validate=validate.Range(min=0, max=100))

    @validates_schema
    def _move(self, data: dict[str, Any], **_: object) -> None:
        if data["op"] == "move" and (not isinstance(data["path"][-1], int) or "to" not in data):
            raise ValidationError("A move names an item by its index (the path's last step) and where it goes (to).")


class EditsRequest(Schema):
    source = fields.String(required=True, validate=validate.Length(max=256 * 1024))
    edits = fields.List(fields.Nested(Edit), required=True, validate=validate.Length(min=1, max=MAX_EDITS))


def _refuse(i: int, reason: str) -> ValidationFailed:
    return ValidationFailed(f"edits[{i}]: {reason}", details={"errors": [{"path": f"edits[{i}]", "reason": reason}]})


def _child(container: Any, step: str | int, create: bool) -> Any:
    if isinstance(container, AoT | Array | list):
        if not isinstance(step, int) or not 0 <= step < len(container):
            raise KeyError(step)
        return container[step]
    if not isinstance(step, str):
        raise KeyError(step)
    if step not in container:
        if not create:
            raise KeyError(step)
        container[step] = tomlkit.inline_table()
    return container[step]


def _apply(document: Any, edit: dict[str, Any]) -> None:
    *parents, last = edit["path"]
    container = document
    for step in parents:
        container = _child(container, step, create=edit["op"] == "set")
    if edit["op"] == "move":
        item = _child(container, last, create=False)
        del container[last]
        container.insert(min(edit["to"], len(container)), item)
    elif edit.get("value") is None:
        if isinstance(container, Table | InlineTable | dict) and last in container:
            del container[last]
    elif isinstance(container, Table | InlineTable | dict) and isinstance(last, str):
        container[last] = edit["value"]
    else:
        raise KeyError(last)


def apply(source: str, edits: list[dict[str, Any]]) -> str:
    """``source`` with ``edits`` made, in order; 422 naming the edit that cannot be made."""
    try:
        document = tomlkit.parse(source)
    except TOMLKitError as exc:
        raise ValidationFailed(f"The TOML cannot be read: {exc}. Fix it in the TOML view first.",
                               details={"errors": [{"path": "source", "reason": str(exc)}]}) from None
    for i, edit in enumerate(edits):
        try:
            _apply(document, edit)
        except (KeyError, IndexError, TypeError, ValueError, TOMLKitError):
            raise _refuse(i, f"The template has no {'.'.join(map(str, edit['path']))} to change.") from None
    return tomlkit.dumps(document)
