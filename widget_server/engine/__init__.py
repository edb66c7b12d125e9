"""The story engine: templates in, personal stories out. Importable and testable without Flask.

``assemble_story(app_id, template_id, user_id, now=None, fresh=False)`` is the entry point the
HTTP layer, sharing and the player use; see docs/STORIES.md for the template format and the
story JSON.
"""
from __future__ import annotations

from . import locales, template_store
from .assemble import assemble_many, assemble_story
from .errors import NotEligible, TemplateInvalid
from .periods import Period
from .periods import resolve as resolve_period
from .registry import registry
from .templates import StoryTemplate, load_file, parse

__all__ = ["assemble_story", "assemble_many", "NotEligible", "TemplateInvalid", "Period",
           "resolve_period", "StoryTemplate", "load_file", "parse", "registry", "template_store",
           "locales"]
