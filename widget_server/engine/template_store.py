"""An app's story templates in the database: every save a new version, one version published.

What the HTTP API (stories/templates_api.py), the command line (``recap templates push|pull|
publish|rollback|history``) and the studio call; the registry (engine/registry.py) serves the
published version. All work the same on SQLite and PostgreSQL and across processes: the
database is the one truth, and a process only caches versions, which never change once written.

- ``check(template_id, source, fmt, file)`` → StoryTemplate: validate only, nothing saved
  (TemplateInvalid naming each key path and reason, as ``recap templates check`` does)
- ``save_draft(app_id, template_id, source, fmt, key_id=, publish=)`` → the new version number
- ``publish(app_id, template_id, version, key_id=)`` → the published number
- ``rollback(app_id, template_id, version, key_id=)`` → publishes an earlier version
- ``published(app_id, template_id)`` → the published StoryTemplate, or None
- ``head(app_id, template_id)`` → Head(published, latest), or None for a template never saved
- ``version(app_id, template_id, n)`` → that version parsed (a preview); ``source(...)`` its text
- ``versions(app_id, template_id)``, ``listing(app_id)``, ``audit(app_id, template_id)``
- ``import_default(app_id, default)``: an app's file becomes version 1, published (first read)

A template never saved is served from its default (template_files): the first save copies that
default in as version 1, published, so the draft is version 2 and rollback can go back to it.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any, NamedTuple

from peewee import IntegrityError

from ..errors import NotFound, ValidationFailed
from ..store.db import database, url, write_transaction
from ..store.models import ApiKey, StoredTemplate, TemplateAudit, TemplateVersion, now_ms
from . import card_layout, contrast
from .errors import TemplateInvalid, error_entry
from .template_files import DefaultTemplate, template_files
from .templates import FORMATS, StoryTemplate, parse

log = logging.getLogger("widget_server.engine.templates")  # beside the invalid files' lines

CACHED_VERSIONS = 256  # parsed versions a process keeps (a parse costs milliseconds; a lookup, one row)
REQUEST_BODY = "<request body>"


class Head(NamedTuple):
    published: int | None  # None: only drafts so far, the default serves
    latest: int


def check(template_id: str, source: str, fmt: str = "toml", file: str = REQUEST_BODY) -> StoryTemplate:
    """The template ``source`` holds, validated as ``recap templates check`` does (its format,
    its id, every text's contrast), or TemplateInvalid naming ``file``, each path and reason."""
    if fmt not in FORMATS:
        raise TemplateInvalid(file, [error_entry("", f"The format must be one of: {', '.join(FORMATS)}.")])
    template = parse(source, file, fmt)
    errors = []
    if template.id != template_id:
        errors.append(error_entry("id", f"The id {template.id!r} must be the template's, {template_id!r}."))
    errors += card_layout.check(template.spec) + contrast.errors(template.spec)
    if errors:
        raise TemplateInvalid(file, errors)
    return template


_head_sql: dict[str, str] = {}  # the lookup's statement by database URL (SQLite's and PostgreSQL's differ)


def head(app_id: int, template_id: str) -> Head | None:
    """One unique-index lookup: what each story request reads to follow a publish elsewhere.

    Its statement is made by peewee once per database and kept: making it cost ~290 µs a call,
    twenty times what SQLite takes to answer it (bench/story_bench.py)."""
    sql = _head_sql.get(url())
    if sql is None:
        sql = _head_sql[url()] = (StoredTemplate.select(StoredTemplate.published, StoredTemplate.latest)
                                  .where((StoredTemplate.app_id == 0) & (StoredTemplate.template_id == ""))
                                  .sql()[0])  # (one row at most: the key is unique)
    row = database.execute_sql(sql, (app_id, template_id)).fetchone()
    return Head(*row) if row else None


def published(app_id: int, template_id: str) -> StoryTemplate | None:
    """The app's published version of the template, parsed (cached), or None."""
    found = head(app_id, template_id)
    if found is None or found.published is None:
        return None
    return version(app_id, template_id, found.published)


_cache: OrderedDict[tuple[str, int, str, int], StoryTemplate | TemplateInvalid] = OrderedDict()
_cache_lock = threading.Lock()


def version(app_id: int, template_id: str, number: int) -> StoryTemplate:
    """Version ``number`` parsed, or NotFound, or TemplateInvalid. Versions never change: a
    process keeps the last CACHED_VERSIONS it parsed, and one it refuses is logged once."""
    key = (url(), app_id, template_id, number)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
    if hit is None:
        row = _version_row(app_id, template_id, number)
        # Saved only once valid; parsed again as the engine reads it now (a later engine may
        # refuse what an earlier one took: TemplateInvalid names the version).
        try:
            hit = parse(row.source, _label(app_id, template_id, number), row.format)
            hit.number = number
        except TemplateInvalid as exc:
            hit = exc
            log.error("story template %s is invalid: %s", exc.file,
                      "; ".join(f"{e['path'] or '<root>'}: {e['reason']}" for e in exc.errors))
        with _cache_lock:
            _cache[key] = hit
            while len(_cache) > CACHED_VERSIONS:
                _cache.popitem(last=False)
    if isinstance(hit, TemplateInvalid):
        raise TemplateInvalid(hit.file, hit.errors)  # a new one: one raised again keeps every traceback
    return hit


def _label(app_id: int, template_id: str, number: int) -> str:
    """How a stored version is named where a file's path would be (errors, the log)."""
    return f"app {app_id} template {template_id} version {number}"


def _version_row(app_id: int, template_id: str, number: int) -> TemplateVersion:
    row: TemplateVersion | None = TemplateVersion.get_or_none(
        (TemplateVersion.app_id == app_id) & (TemplateVersion.template_id == template_id)
        & (TemplateVersion.version == number))
    if row is None:
        raise NotFound(f"The template {template_id!r} has no version {number}.",
                       details={"template": template_id, "version": number})
    return row


def source(app_id: int, template_id: str, number: int | None = None) -> dict[str, Any]:
    """A version's text as saved (the published one without ``number``): id, version, format,
    source, created_at, key_id, status (published | draft)."""
    found = head(app_id, template_id)
    if found is None:
        raise NotFound(f"The app has no saved template {template_id!r}.", details={"template": template_id})
    if number is None:
        if found.published is None:
            raise NotFound(f"The template {template_id!r} has no published version.",
                           details={"template": template_id})
        number = found.published
    row = _version_row(app_id, template_id, number)
    return {"id": template_id, "version": number, "status": _status(number, found), "format": row.format,
            "source": row.source, "created_at": row.created_at, "key_id": row.key_id}


def _status(number: int, found: Head) -> str:
    return "published" if number == found.published else "draft"


def versions(app_id: int, template_id: str) -> list[dict[str, Any]]:
    """Every saved version, oldest first: version, status, format, created_at, key_id."""
    found = head(app_id, template_id)
    if found is None:
        return []
    rows = (TemplateVersion.select(TemplateVersion.version, TemplateVersion.format, TemplateVersion.created_at,
                                   TemplateVersion.key_id)
            .where((TemplateVersion.app_id == app_id) & (TemplateVersion.template_id == template_id))
            .order_by(TemplateVersion.version))
    return [{"version": r.version, "status": _status(r.version, found), "format": r.format,
             "created_at": r.created_at, "key_id": r.key_id} for r in rows]


def listing(app_id: int) -> list[dict[str, Any]]:
    """The app's templates, saved or default: id, published, latest (None and 0 for a default
    never saved), source ("database" or "default")."""
    saved = {row.template_id: row for row in StoredTemplate.select().where(StoredTemplate.app_id == app_id)}
    out = [{"id": tid, "published": row.published, "latest": row.latest, "source": "database"}
           for tid, row in saved.items()]
    out += [{"id": tid, "published": None, "latest": 0, "source": "default"}
            for tid in template_files.ids(app_id) if tid not in saved]
    return sorted(out, key=lambda entry: entry["id"])


def audit(app_id: int, template_id: str | None = None) -> list[dict[str, Any]]:
    """Who (which key, by id and prefix; None: the command line or an import) did what (put,
    publish, rollback, import) to which version when, oldest first."""
    query = TemplateAudit.select().where(TemplateAudit.app_id == app_id)
    if template_id is not None:
        query = query.where(TemplateAudit.template_id == template_id)
    rows = list(query.order_by(TemplateAudit.id))
    # The key's first characters, as `recap apps list` shows them: which key, without the key.
    keys = {r.key_id for r in rows if r.key_id is not None}
    prefixes: dict[int, str] = {k.id: k.prefix for k in ApiKey.select(ApiKey.id, ApiKey.prefix)
                                .where(ApiKey.id.in_(keys))} if keys else {}
    return [{"template": r.template_id, "action": r.action, "version": r.version, "key_id": r.key_id,
             "key_prefix": prefixes.get(r.key_id) if r.key_id is not None else None, "at": r.at} for r in rows]


def _audit(app_id: int, template_id: str, action: str, number: int, key_id: int | None) -> None:
    TemplateAudit.create(app_id=app_id, template_id=template_id, action=action, version=number, key_id=key_id)


def _add_version(app_id: int, template_id: str, number: int, text: str, fmt: str, key_id: int | None) -> None:
    TemplateVersion.create(app_id=app_id, template_id=template_id, version=number, format=fmt, source=text,
                           key_id=key_id)


def _default_of(app_id: int, template_id: str) -> DefaultTemplate | None:
    """The default a first save copies in: the app's file or the shipped template, if valid."""
    try:
        return template_files.default(app_id, template_id)
    except (NotFound, TemplateInvalid):  # none, or one that never served: nothing to go back to
        return None


def save_draft(app_id: int, template_id: str, text: str, fmt: str = "toml", *, key_id: int | None = None,
               publish: bool = False, file: str = REQUEST_BODY) -> int:
    """Save ``text`` as the template's next version (a draft, or published with ``publish``);
    its number. Invalid → TemplateInvalid and nothing saved. Two saves at once get two numbers."""
    check(template_id, text, fmt, file)
    default = _default_of(app_id, template_id)
    for attempt in range(2):
        try:
            with write_transaction():
                if head(app_id, template_id) is None:
                    _create(app_id, template_id, default)
                # An UPDATE first: on PostgreSQL it holds the row, so a second save waits for this one.
                (StoredTemplate.update(latest=StoredTemplate.latest + 1, updated_at=now_ms())
                 .where((StoredTemplate.app_id == app_id) & (StoredTemplate.template_id == template_id)).execute())
                found = head(app_id, template_id)
                assert found is not None  # made above, in this transaction
                number = found.latest
                _add_version(app_id, template_id, number, text, fmt, key_id)
                _audit(app_id, template_id, "put", number, key_id)
                if publish:
                    _set_published(app_id, template_id, number, "publish", key_id)
            return number
        except IntegrityError:  # another process made the template's first row meanwhile
            if attempt:
                raise
    raise AssertionError("unreachable")


def _create(app_id: int, template_id: str, default: DefaultTemplate | None) -> None:
    """The template's row; with a default, that default copied in as version 1, published."""
    StoredTemplate.create(app_id=app_id, template_id=template_id, published=1 if default else None,
                          latest=1 if default else 0)
    if default is not None:
        _add_version(app_id, template_id, 1, default.source, "toml", None)
        _audit(app_id, template_id, "import", 1, None)


def import_default(app_id: int, default: DefaultTemplate) -> StoryTemplate:
    """An app's own file, read for the first time, becomes version 1, published: from then on the
    database is the truth (the file is no longer read). What now serves."""
    template_id = default.template.id
    try:
        with write_transaction():
            if head(app_id, template_id) is None:
                _create(app_id, template_id, default)
    except IntegrityError:  # imported by another process meanwhile
        pass
    return published(app_id, template_id) or default.template


def publish(app_id: int, template_id: str, number: int, *, key_id: int | None = None) -> int:
    """Publish version ``number``: stories, shares and builds use it from the next request on,
    in every process; stories built from another version stop being served."""
    with write_transaction():
        _version_row(app_id, template_id, number)
        _set_published(app_id, template_id, number, "publish", key_id)
    return number


def rollback(app_id: int, template_id: str, number: int, *, key_id: int | None = None) -> int:
    """Publish an earlier version than the one published."""
    with write_transaction():
        _version_row(app_id, template_id, number)
        found = head(app_id, template_id)
        if found is not None and found.published is not None and number >= found.published:
            raise ValidationFailed(f"Roll back to a version before the published one, {found.published}.",
                                   details={"version": [f"Must be less than {found.published}."]})
        _set_published(app_id, template_id, number, "rollback", key_id)
    return number


def _set_published(app_id: int, template_id: str, number: int, action: str, key_id: int | None) -> None:
    (StoredTemplate.update(published=number, updated_at=now_ms())
     .where((StoredTemplate.app_id == app_id) & (StoredTemplate.template_id == template_id)).execute())
    _audit(app_id, template_id, action, number, key_id)
