"""Errors the story engine raises; both are APIErrors so the HTTP layer answers them as JSON."""
from __future__ import annotations

from typing import Any

from ..errors import APIError, NotFound

__all__ = ["NotEligible", "TemplateInvalid", "StoryUnavailable", "NotFound"]


class NotEligible(APIError):
    """The user has no story for this template yet; ``details`` names the rule and what is missing."""

    status, code, message = 404, "not_eligible", "This user has no story for this template yet."


class TemplateInvalid(APIError):
    """A template file failed validation; ``details`` holds the file and each key path with its reason."""

    status, code, message = 422, "template_invalid", "The story template is invalid."

    def __init__(self, file: str, errors: list[dict[str, str]]):
        self.file = file
        self.errors = errors
        first = errors[0] if errors else {"path": "", "reason": "invalid"}
        super().__init__(f"{file}: {first['path'] or '<root>'}: {first['reason']}",
                         details={"file": file, "errors": errors})

    @property
    def paths(self) -> list[str]:
        return [e["path"] for e in self.errors]


class StoryUnavailable(APIError):
    """What a viewer is told when their story cannot be made for a reason only the app's operator
    can fix (an invalid template): never the file or the reason, which go to the log, the command
    line and the secret key's callers."""

    status, code, message = 503, "story_unavailable", "This story is unavailable."


def error_entry(path: str, reason: Any) -> dict[str, str]:
    return {"path": path, "reason": str(reason)}
