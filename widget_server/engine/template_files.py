"""Templates as files: the shipped defaults (``story_templates/``), and an app's own files in
``<instance>/templates/<app id>/``, which the registry imports into the database the first time
it reads them (engine/registry.py). Files are re-read when they change (modification time, size
or inode: an editor that saves by renaming makes a new inode, and two saves in one clock tick
differ in size most often). A file found invalid is remembered as such until it changes, and
logged once, not on every request."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import TemplateInvalid
from .templates import SHIPPED_DIR, StoryTemplate, is_template_id, read_file, unknown_template

log = logging.getLogger("widget_server.engine.templates")  # where operators have always found these lines


@dataclass(frozen=True)
class DefaultTemplate:
    """A template as a file gives it: parsed, its text, and whether it is the app's own file."""

    template: StoryTemplate
    source: str
    apps_own: bool


class TemplateFiles:
    """The template files by id: the shipped ones, overridden per app by ``<app_root>/<app_id>/``."""

    def __init__(self) -> None:
        self.app_root: Path | None = None
        self._cache: dict[Path, tuple[tuple[int, int, int], DefaultTemplate | TemplateInvalid]] = {}
        self._lock = threading.Lock()

    def path_for(self, app_id: int | None, template_id: str) -> Path | None:
        """The file of a known template, or None; an id not of the id's form never reaches the disk."""
        if not is_template_id(template_id):
            return None
        own = self.app_folder(app_id)
        for folder in ([own] if own else []) + [SHIPPED_DIR]:
            # File names may use '_' where the id uses '-' (year_in_music.toml is year-in-music).
            for stem in (template_id, template_id.replace("-", "_")):
                candidate = folder / f"{stem}.toml"
                if candidate.is_file():
                    return candidate
        return None

    def default(self, app_id: int | None, template_id: str) -> DefaultTemplate:
        """The file's template, or TemplateInvalid (its file and reasons: for the log, the CLI and
        the secret key's callers, never for viewers) or NotFound."""
        path = self.path_for(app_id, template_id)
        if path is None:
            raise unknown_template(template_id)
        try:
            stat = path.stat()
        except OSError:  # removed since path_for looked
            raise unknown_template(template_id) from None
        key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        hit = self._cache.get(path)
        if hit is None or hit[0] != key:
            loaded: DefaultTemplate | TemplateInvalid
            try:
                loaded = DefaultTemplate(*read_file(path), apps_own=path.parent != SHIPPED_DIR)
            except TemplateInvalid as exc:
                loaded = exc
                log.error("story template %s is invalid: %s", path,
                          "; ".join(f"{e['path'] or '<root>'}: {e['reason']}" for e in loaded.errors))
            with self._lock:
                self._cache[path] = hit = (key, loaded)
        if isinstance(hit[1], TemplateInvalid):
            # A new exception each time: one raised again would carry every earlier traceback.
            raise TemplateInvalid(hit[1].file, hit[1].errors)
        return hit[1]

    def app_folder(self, app_id: int | None) -> Path | None:
        """Where an app's own template files live (they override the shipped ones of the same id)."""
        if self.app_root is None or app_id is None:
            return None
        return self.app_root / str(int(app_id))

    def files(self, app_id: int | None = None) -> list[Path]:
        """The template files: the shipped ones, then the app's own."""
        own = self.app_folder(app_id)
        return sorted(SHIPPED_DIR.glob("*.toml")) + (sorted(own.glob("*.toml")) if own else [])

    def ids(self, app_id: int | None = None) -> list[str]:
        return sorted({p.stem.replace("_", "-") for p in self.files(app_id)})


template_files = TemplateFiles()
