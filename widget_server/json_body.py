"""A JSON object request body read through a marshmallow schema, with the project's errors."""
from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from .errors import MalformedBody, ValidationFailed


def load(schema: Schema, example: str, what: str) -> dict[str, Any]:
    """The body's fields as ``schema`` loads them; 400 if it is not a JSON object (``example``
    shows one), 422 naming each bad field otherwise."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise MalformedBody(f"Send a JSON object: {example}.")
    try:
        return schema.load(body)
    except ValidationError as exc:
        raise ValidationFailed(f"The {what} is invalid.", details=exc.messages) from None
