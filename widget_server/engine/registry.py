"""Which template serves an app's stories, shares and builds: the app's published version in the
database (template_store), else its default (template_files: the app's own file, imported into
the database the first time it is read, or the shipped template)."""
from __future__ import annotations

from pathlib import Path

from . import template_store
from .template_files import template_files
from .templates import StoryTemplate, is_template_id, unknown_template


class Registry:
    """Templates by app and id. Each ``get`` reads the app's template row (one unique-index
    lookup), so a publish in any process is seen by the next request in every process; the
    parsed versions are kept per process (they never change)."""

    @property
    def app_root(self) -> Path | None:
        """Where apps' own template files are (``<instance>/templates``)."""
        return template_files.app_root

    @app_root.setter
    def app_root(self, root: Path | None) -> None:
        template_files.app_root = root

    def get(self, app_id: int | None, template_id: str) -> StoryTemplate:
        """The template that serves, or TemplateInvalid (a default file that is invalid, or a
        stored version the engine now refuses: for the log, the CLI and the secret key's
        callers, never for viewers) or NotFound."""
        if not is_template_id(template_id):
            raise unknown_template(template_id)
        if app_id is None:
            return template_files.default(None, template_id).template
        found = template_store.head(app_id, template_id)
        if found is not None and found.published is not None:
            return template_store.version(app_id, template_id, found.published)
        default = template_files.default(app_id, template_id)
        if found is None and default.apps_own:
            return template_store.import_default(app_id, default)
        return default.template

    def path_for(self, app_id: int | None, template_id: str) -> Path | None:
        return template_files.path_for(app_id, template_id)

    def app_folder(self, app_id: int | None) -> Path | None:
        return template_files.app_folder(app_id)

    def files(self, app_id: int | None = None) -> list[Path]:
        return template_files.files(app_id)


registry = Registry()
