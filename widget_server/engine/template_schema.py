"""Marshmallow schemas for the TOML story template format (documented in docs/STORIES.md)."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from . import locales
from .expressions import is_number
from .story_shape import FRAME_KINDS
from .translations import DEFAULT_LOCALE, Text, Translations, Variants

IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
# The one rule for a template id, read by the schema and by every route that takes one (stories,
# embed, shares, stats): a file name and a URL segment, so nothing else may get in. ``\Z``, not
# ``$``, which also matches before a final newline under ``re.match``.
TEMPLATE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}\Z")
TEMPLATE_ID_RULE = "A template id: 1-64 of a-z, 0-9 and '-', not starting with '-'."
# An audience's id (audiences/): a URL segment too; '_' allowed for the built-in likely_to_churn.
AUDIENCE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")
AUDIENCE_ID_RULE = "An audience id: 1-64 of a-z, 0-9, '_' and '-', starting with a letter or digit."
# Dotted property names only: they end up inside SQL JSON paths, so nothing else may get in.
PROPERTY_PATH = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]{0,63}(\.[A-Za-z_$][A-Za-z0-9_$]{0,63}){0,4}$")
COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
EVENT_TYPES = ("track", "page", "screen", "identify", "group", "alias")

SQL_KINDS = ("count", "sum", "avg", "min", "max", "distinct", "top", "share", "first", "last",
             "streak", "series", "record_day")
LATER_KINDS = ("peak_month", "percentile", "change", "tier", "derived", "label")
METRIC_KINDS = SQL_KINDS + LATER_KINDS
SCALAR_KINDS = ("count", "sum", "avg", "min", "max", "distinct", "share")
NUMBER_KINDS = SCALAR_KINDS + ("derived",)  # what a tier or an eligibility 'min' can compare
NUMBER_KINDS_TEXT = "use a count, sum, avg, min, max, distinct, share or derived metric"

MAX_TRANSLATIONS = 100  # locales in one text's table


def _text_or_variants(value: object) -> Text | Variants:
    if isinstance(value, str):
        if len(value) > 2000:
            raise ValidationError("Longer than 2000 characters.")
        return Text(value)
    if (isinstance(value, list) and 0 < len(value) <= 20
            and all(isinstance(v, str) and len(v) <= 2000 for v in value)):
        return Variants(value)
    raise ValidationError("Must be a string, a list of 1–20 string variants, or a table of them by locale.")


class TextField(fields.Field[Any]):
    """A text: a string, its wording variants, or a table of either by locale
    (``{ en = "Your year", de = "Dein Jahr" }``, engine/translations.py), its keys made canonical."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            return _text_or_variants(value)
        if not 0 < len(value) <= MAX_TRANSLATIONS:
            raise ValidationError(f"A table of translations holds 1–{MAX_TRANSLATIONS} locales.")
        table, errors = Translations(), {}
        for key, text in value.items():
            tag = locales.parse(key)
            try:
                if tag is None:
                    raise ValidationError("Not a known locale (a BCP 47 tag such as 'de' or 'pt-BR').")
                if tag in table:
                    raise ValidationError(f"{tag!r} is given twice.")
                table[tag] = _text_or_variants(text)
            except ValidationError as exc:
                errors[str(key)] = exc.messages
        if errors:
            raise ValidationError(errors)
        return table


def text(required: bool = False) -> fields.Field[Any]:
    return TextField(required=required)


MAX_LABEL = 200


class LabelField(TextField):
    """A tier's or a label rule's label: one wording (a metric has one value), or a table of them
    by locale; the story's metric is the entry for its locale (engine/metrics.py)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        loaded = super()._deserialize(value, attr, data, **kwargs)
        for entry in loaded.values() if isinstance(loaded, Translations) else [loaded]:
            if not isinstance(entry, str) or not 0 < len(entry) <= MAX_LABEL:
                raise ValidationError(f"A label is a text of 1–{MAX_LABEL} characters, or a table of them by locale.")
        return loaded


def locale_tag(value: Any) -> str:
    tag = locales.parse(value)
    if tag is None:
        raise ValidationError("Not a known locale (a BCP 47 tag such as 'de' or 'pt-BR').")
    return tag


class LocaleField(fields.String):
    """A locale tag, made canonical ('pt_br' → 'pt-BR')."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return locale_tag(super()._deserialize(value, attr, data, **kwargs))


class Strict(Schema):
    class Meta:
        unknown = "raise"


_SCALAR = (str, int, float, bool)


def _is_values(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, _SCALAR) for v in value)


# What each operator compares with: (test, what to say when the value fails it).
OPERATORS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "eq": (lambda v: isinstance(v, _SCALAR), "a value"),
    "ne": (lambda v: isinstance(v, _SCALAR), "a value"),
    "in": (lambda v: isinstance(v, _SCALAR) or _is_values(v), "a value or a list of values"),
    "glob": (lambda v: isinstance(v, str), "a string pattern"),
    "contains": (lambda v: isinstance(v, str), "a string"),
    "gt": (is_number, "a number"),
    "gte": (is_number, "a number"),
    "lt": (is_number, "a number"),
    "lte": (is_number, "a number"),
    "exists": (lambda v: isinstance(v, bool), "true or false"),
}


def _where_value(value: object) -> None:
    if isinstance(value, _SCALAR) or _is_values(value):
        return
    if isinstance(value, dict) and value:
        unknown = set(value) - set(OPERATORS)
        if unknown:
            raise ValidationError(f"Unknown operator {sorted(unknown)[0]!r}; use one of {sorted(OPERATORS)}.")
        for op, operand in value.items():
            accepts, wanted = OPERATORS[op]
            if not accepts(operand):
                raise ValidationError(f"{op!r} compares with {wanted}, not {operand!r}.")
        return
    raise ValidationError("Must be a value, a list of values or a table of operators.")


class FilterFields(Strict):
    event = fields.String(validate=validate.Length(min=1, max=200))
    events = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                         validate=validate.Length(min=1, max=50))
    type = fields.String(validate=validate.OneOf(EVENT_TYPES))
    where = fields.Dict(keys=fields.String(validate=validate.Regexp(PROPERTY_PATH, error="Not a property path.")),
                        values=fields.Raw(validate=_where_value))


class VirtualEventSchema(FilterFields):
    description = fields.String()


class TierSchema(Strict):
    min = fields.Float(required=True)
    label = LabelField(required=True)


class LabelRuleSchema(Strict):
    when = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    label = LabelField(required=True)


FILTER_KEYS = ("event", "events", "type", "where")
# Every key a metric kind reads besides ``kind``, and which of them it needs. A key another kind
# reads means nothing here and is refused, naming it (a streak with ``by = "month"`` was a daily
# streak). One table: the schema's checks and the docs' table of kinds follow it.
METRIC_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "count": (FILTER_KEYS + ("scale",), ()),
    "sum": (FILTER_KEYS + ("property", "scale"), ("property",)),
    "avg": (FILTER_KEYS + ("property", "scale"), ("property",)),
    "min": (FILTER_KEYS + ("property", "scale"), ("property",)),
    "max": (FILTER_KEYS + ("property", "scale"), ("property",)),
    "distinct": (FILTER_KEYS + ("property", "scale"), ("property",)),
    "share": (FILTER_KEYS + ("part", "property"), ("part",)),
    "top": (FILTER_KEYS + ("property", "n", "by", "sum_property", "scale", "order"), ("property",)),
    "first": (FILTER_KEYS + ("property",), ()),
    "last": (FILTER_KEYS + ("property",), ()),
    "streak": (FILTER_KEYS + ("mode", "unit"), ()),
    "series": (FILTER_KEYS + ("by", "property", "scale"), ("by",)),
    "record_day": (FILTER_KEYS + ("property", "scale"), ()),
    "peak_month": (("of",), ("of",)),
    "percentile": (("of",), ("of",)),
    "change": (("of",), ("of",)),
    "tier": (("of", "tiers"), ("of", "tiers")),
    "derived": (("expr",), ("expr",)),
    "label": (("rules", "default"), ("rules",)),
}
# The values of ``by`` for each kind that reads it.
STREAK_UNITS = ("day", "week", "month")  # what a streak counts in a row
BY_VALUES = {"top": ("count", "sum"), "series": ("hour", "weekday", "month", "day")}


class MetricSchema(FilterFields):
    kind = fields.String(required=True, validate=validate.OneOf(METRIC_KINDS))
    property = fields.String(validate=validate.Regexp(PROPERTY_PATH, error="Not a property path."))
    by = fields.String()  # its values depend on the kind: checked in _keys
    sum_property = fields.String(validate=validate.Regexp(PROPERTY_PATH, error="Not a property path."))
    n = fields.Integer(validate=validate.Range(min=1, max=50))
    mode = fields.String(validate=validate.OneOf(("longest", "current")))
    unit = fields.String(validate=validate.OneOf(STREAK_UNITS))
    order = fields.String(validate=validate.OneOf(("value", "recent")))
    part = fields.Dict(keys=fields.String(validate=validate.Regexp(PROPERTY_PATH, error="Not a property path.")),
                       values=fields.Raw(validate=_where_value))
    scale = fields.Float()
    of = fields.String(validate=validate.Regexp(IDENT, error="Not a metric name."))
    tiers = fields.List(fields.Nested(TierSchema), validate=validate.Length(min=1, max=20))
    expr = fields.String(validate=validate.Length(min=1, max=2000))
    rules = fields.List(fields.Nested(LabelRuleSchema), validate=validate.Length(min=1, max=30))
    default = LabelField()

    @validates_schema
    def _keys(self, data: dict[str, Any], **_: object) -> None:
        kind = data.get("kind")
        if kind not in METRIC_KEYS:
            return  # (the kind's own error says why)
        reads, needs = METRIC_KEYS[kind]
        errors: dict[str, list[str]] = {}
        for key in sorted(set(data) - {"kind"} - set(reads)):
            errors[key] = [f"A {kind} metric has no {key!r} (it reads {_listed(reads)})."]
        for key in needs:
            if key not in data:
                errors[key] = [f"A {kind} metric needs {key!r}."]
        if kind in BY_VALUES and "by" in data and data["by"] not in BY_VALUES[kind]:
            errors["by"] = [f"A {kind} metric is by {_listed(BY_VALUES[kind], 'or')}, not {data['by']!r}."]
        if kind == "top":
            ranked_by_sum = data.get("by") == "sum"
            if ranked_by_sum and "sum_property" not in data:
                errors["sum_property"] = ["Ranking by sum needs 'sum_property'."]
            elif not ranked_by_sum and "sum_property" in data:
                errors["sum_property"] = ["Only a top list ranked by sum (by = \"sum\") reads 'sum_property'."]
        if errors:
            raise ValidationError(errors)


def _listed(keys: tuple[str, ...], last: str = "and") -> str:
    quoted = [repr(k) for k in keys]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} {last} {quoted[-1]}"


class PeriodSchema(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(("year", "last_days", "month")))
    cutoff = fields.String(validate=validate.Regexp(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
                                                    error="Use MM-DD, e.g. 11-15."))
    year = fields.Integer(validate=validate.Range(min=1970, max=2200))
    days = fields.Integer(validate=validate.Range(min=1, max=366))
    current = fields.Boolean()

    @validates_schema
    def _days(self, data: dict[str, Any], **_: object) -> None:
        if data.get("kind") == "last_days" and "days" not in data:
            raise ValidationError("A last_days period needs 'days'.", "days")
        month, _, day = data.get("cutoff", "01-01").partition("-")
        try:
            date(2001, int(month), int(day))  # 2001: not a leap year, so 02-29 is refused too
        except ValueError:
            raise ValidationError("Not a day every year has (02-29 is not one).", "cutoff") from None


class ThemeSchema(Strict):
    background = fields.String(validate=validate.Regexp(COLOR, error="Not a #rrggbb colour."))
    foreground = fields.String(validate=validate.Regexp(COLOR, error="Not a #rrggbb colour."))
    accent = fields.String(validate=validate.Regexp(COLOR, error="Not a #rrggbb colour."))


class VideoSchema(Strict):
    """A share's video (widget_server/video/): drawn unless ``enabled = false``, with the app's
    uploaded ``soundtrack`` (POST /v1/soundtracks) when one is named."""

    enabled = fields.Boolean(load_default=True)
    soundtrack = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]{22}$", error="Not a soundtrack's id."))


class EligibilitySchema(Strict):
    metric = fields.String(validate=validate.Regexp(IDENT, error="Not a metric name."))
    min = fields.Float()
    when = fields.String(validate=validate.Length(min=1, max=2000))
    audience = fields.String(validate=validate.Regexp(AUDIENCE_ID, error=AUDIENCE_ID_RULE))
    message = fields.String(required=True, validate=validate.Length(min=1, max=500))

    @validates_schema
    def _rule(self, data: dict[str, Any], **_: object) -> None:
        if "when" not in data and "audience" not in data and not ("metric" in data and "min" in data):
            raise ValidationError("A rule needs 'metric' and 'min', 'when', or 'audience'.", "metric")


class BackgroundSchema(Strict):
    color = fields.String(validate=validate.Regexp(COLOR, error="Not a #rrggbb colour."))
    gradient = fields.List(fields.String(validate=validate.Regexp(COLOR, error="Not a #rrggbb colour.")),
                           validate=validate.Length(min=2, max=5))
    image = fields.String(validate=validate.Length(max=2000))


class ButtonSchema(Strict):
    id = fields.String(required=True, validate=validate.Regexp(TEMPLATE_ID, error="Use a-z, 0-9 and '-'."))
    label = text(required=True)
    action = fields.String(required=True, validate=validate.OneOf(("deep_link", "url", "share", "event")))
    href = fields.String(validate=validate.Length(max=2000))
    event = fields.String(validate=validate.Length(min=1, max=200))
    properties = fields.Dict()

    @validates_schema
    def _target(self, data: dict[str, Any], **_: object) -> None:
        if data.get("action") in ("deep_link", "url") and "href" not in data:
            raise ValidationError(f"A {data['action']} button needs 'href'.", "href")
        if data.get("action") == "event" and "event" not in data:
            raise ValidationError("An event button needs 'event'.", "event")


class StatSchema(Strict):
    value = text(required=True)
    raw = fields.String(validate=validate.Length(max=500))
    unit = text()
    caption = text()


LIST_LIMIT = 5  # items a list frame shows without a ``limit``


class ListSchema(Strict):
    metric = fields.String(required=True, validate=validate.Regexp(IDENT, error="Not a metric name."))
    limit = fields.Integer(validate=validate.Range(min=1, max=50))
    # Fewer items than this and the frame is not a list worth showing: its fallback shows, or
    # it is skipped (a one-item "top courses").
    min_items = fields.Integer(validate=validate.Range(min=1, max=50))
    label = text()
    value = text()
    image = fields.String(validate=validate.Length(max=2000))

    @validates_schema
    def _min_items(self, data: dict[str, Any], **_: object) -> None:
        limit = data.get("limit", LIST_LIMIT)
        if data.get("min_items", 1) > limit:
            raise ValidationError(f"More than the {limit} items the list shows (limit): it would never show.",
                                  "min_items")


class MediaSchema(Strict):
    src = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    alt = text()
    poster = fields.String(validate=validate.Length(max=2000))


class ChartSchema(Strict):
    metric = fields.String(required=True, validate=validate.Regexp(IDENT, error="Not a metric name."))
    type = fields.String(load_default="bar", validate=validate.OneOf(("bar", "line", "radial")))
    caption = text()


class FrameBody(Strict):
    title = text()
    subtitle = text()
    body = text()
    stat = fields.Nested(StatSchema)
    list = fields.Nested(ListSchema)
    media = fields.Nested(MediaSchema)
    chart = fields.Nested(ChartSchema)
    duration_ms = fields.Integer(validate=validate.Range(min=1000, max=60_000))
    background = fields.Nested(BackgroundSchema)
    buttons = fields.List(fields.Nested(ButtonSchema), validate=validate.Length(max=4))


def _needs_content(data: dict[str, Any]) -> None:
    kind: str | None = data.get("kind")
    need = {"stat": "stat", "list": "list", "chart": "chart", "image": "media", "gif": "media",
            "video": "media", "text": "title"}.get(kind or "")
    if need and need not in data:
        raise ValidationError(f"A {kind} frame needs '{need}'.", need)


class FallbackSchema(FrameBody):
    """What a frame shows instead when its data is missing: a whole frame body of its own, shown
    when its ``when`` holds (or always)."""

    kind = fields.String(required=True, validate=validate.OneOf(FRAME_KINDS[:-1]))
    when = fields.String(validate=validate.Length(min=1, max=2000))

    @validates_schema
    def _content(self, data: dict[str, Any], **_: object) -> None:
        _needs_content(data)


MAX_FALLBACKS = 5


class Fallbacks(fields.Field[dict[str, Any] | list[dict[str, Any]]]):
    """``fallback``: one table, or a list of them tried in order (the first whose ``when`` holds
    and whose data is there). Errors keep the author's shape: ``fallback.title``, ``fallback[1].title``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, dict):
            return FallbackSchema().load(value)
        if isinstance(value, list) and 1 <= len(value) <= MAX_FALLBACKS and all(isinstance(v, dict) for v in value):
            return FallbackSchema(many=True).load(value)
        raise ValidationError(f"A fallback table, or a list of 1–{MAX_FALLBACKS} of them.")


class FrameSchema(FrameBody):
    id = fields.String(required=True, validate=validate.Regexp(TEMPLATE_ID, error="Use a-z, 0-9 and '-'."))
    kind = fields.String(required=True, validate=validate.OneOf(FRAME_KINDS[:-1]))
    when = fields.String(validate=validate.Length(min=1, max=2000))
    enabled = fields.Boolean(truthy={True}, falsy={False})  # false: kept in the template, shown to no one
    fallback = Fallbacks()

    @validates_schema
    def _content(self, data: dict[str, Any], **_: object) -> None:
        _needs_content(data)


class CardStatSchema(Strict):
    label = text(required=True)
    value = text(required=True)
    when = fields.String()


class CardListSchema(Strict):
    title = text(required=True)
    metric = fields.String(required=True, validate=validate.Regexp(IDENT, error="Not a metric name."))
    limit = fields.Integer(load_default=5, validate=validate.Range(min=1, max=10))


class CardSchema(Strict):
    title = text(required=True)
    subtitle = text()
    stats = fields.List(fields.Nested(CardStatSchema), load_default=list, validate=validate.Length(max=6))
    list = fields.Nested(CardListSchema)
    image = fields.String(validate=validate.Length(max=2000))
    footer = text()
    duration_ms = fields.Integer(validate=validate.Range(min=1000, max=60_000))
    background = fields.Nested(BackgroundSchema)
    buttons = fields.List(fields.Nested(ButtonSchema), validate=validate.Length(max=4))


class WordingSchema(Strict):
    """The texts an experiment's variant writes differently in one frame (or the card)."""

    title = text()
    subtitle = text()
    body = text()


MAX_VARIANTS = 5


class VariantSchema(Strict):
    id = fields.String(required=True, validate=validate.Regexp(TEMPLATE_ID, error="Use a-z, 0-9 and '-'."))
    percent = fields.Integer(required=True, validate=validate.Range(min=1, max=99))
    frames = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=64)),
                         values=fields.Nested(WordingSchema), load_default=dict)
    card = fields.Nested(WordingSchema)
    order = fields.List(fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=40))
    hide = fields.List(fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=40))


class ExperimentSchema(Strict):
    """``[experiment]``: variants of texts, frame order or a frame's presence, each shown to a
    stable share of users (engine/experiments.py)."""

    id = fields.String(required=True, validate=validate.Regexp(TEMPLATE_ID, error="Use a-z, 0-9 and '-'."))
    variants = fields.List(fields.Nested(VariantSchema), required=True,
                           validate=validate.Length(min=2, max=MAX_VARIANTS))

    @validates_schema
    def _split(self, data: dict[str, Any], **_: object) -> None:
        total = sum(v["percent"] for v in data["variants"])
        if total != 100:
            raise ValidationError(f"The variants' percents add up to {total}, not 100.", "variants")
        ids = [v["id"] for v in data["variants"]]
        if len(set(ids)) != len(ids):
            raise ValidationError("Two variants have the same id.", "variants")


class TemplateSchema(Strict):
    id = fields.String(required=True, validate=validate.Regexp(TEMPLATE_ID, error=TEMPLATE_ID_RULE))
    title = text(required=True)
    description = fields.String()
    # The language of the plain texts, and the locales the template is translated into.
    default_locale = LocaleField(load_default=DEFAULT_LOCALE)
    locales = fields.List(LocaleField(), load_default=list, validate=validate.Length(max=MAX_TRANSLATIONS))
    period = fields.Nested(PeriodSchema, required=True)
    timezone = fields.String(load_default="user", validate=validate.OneOf(("user", "utc")))
    theme = fields.Nested(ThemeSchema, load_default=dict)
    video = fields.Nested(VideoSchema, load_default=dict)
    virtual_events = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=200)),
                                 values=fields.Nested(VirtualEventSchema), load_default=dict)
    eligibility = fields.List(fields.Nested(EligibilitySchema), load_default=list)
    metrics = fields.Dict(keys=fields.String(validate=validate.Regexp(IDENT, error="Not a metric name.")),
                          values=fields.Nested(MetricSchema), required=True)
    frames = fields.List(fields.Nested(FrameSchema), required=True, validate=validate.Length(min=1, max=40))
    card = fields.Nested(CardSchema, required=True)
    experiment = fields.Nested(ExperimentSchema)
