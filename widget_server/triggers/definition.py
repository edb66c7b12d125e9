"""A trigger's definition (DESIGN.md "Triggers"): TOML or JSON in, a validated ``Trigger`` out, or
TriggerInvalid naming the file, each key path (``on.reaches``, ``message.title``) and the reason,
as templates are checked (the same decoder, the same metric schema and checks, the same
expression language)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from ..engine import expressions, filters, templates
from ..engine.errors import TemplateInvalid, error_entry
from ..engine.template_schema import (
    AUDIENCE_ID,
    AUDIENCE_ID_RULE,
    IDENT,
    LATER_KINDS,
    NUMBER_KINDS,
    NUMBER_KINDS_TEXT,
    TEMPLATE_ID,
    TEMPLATE_ID_RULE,
    FilterFields,
    MetricSchema,
    PeriodSchema,
    Strict,
    text,
)
from ..engine.templates import StoryTemplate
from . import webhook_urls

MAX_TRIGGER_BYTES = 64 * 1024
TRIGGER_ID_RULE = TEMPLATE_ID_RULE.replace("template", "trigger")
# What the audience and the texts may read besides the metrics: the triggering event, the user.
IN_SCOPE = templates.IN_SCOPE | {"event"}
# Kinds a trigger's metrics may not use: a percentile ranks against a template's population.
REFUSED_KINDS = ("percentile",)
STORY_PERIODS = ("year", "month")  # what a story trigger's story may cover: periods that become available
CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class TriggerInvalid(TemplateInvalid):
    status, code, message = 422, "trigger_invalid", "The trigger is invalid."


class OnSchema(FilterFields):
    """What starts the trigger: an event (``event``/``events``, ``type``, ``where`` as a
    metric's filter), a metric of the user's own reaching a number, or a story."""

    metric = fields.String(validate=validate.Regexp(IDENT, error="Not a metric name."))
    reaches = fields.Float()
    story = fields.String(validate=validate.Regexp(TEMPLATE_ID, error=TEMPLATE_ID_RULE))

    @validates_schema
    def _one_cause(self, data: dict[str, Any], **_: object) -> None:
        causes = [name for name, keys in CAUSE_KEYS.items() if keys[0] & set(data)]
        if len(causes) != 1:
            raise ValidationError("Name one cause: 'event' (or 'events'), 'metric' with 'reaches', or 'story'.")
        allowed, needed = CAUSE_KEYS[causes[0]][1:]
        errors = {key: [f"An {causes[0]} trigger has no {key!r}."] for key in sorted(set(data) - allowed)}
        errors.update({key: [f"An {causes[0]} trigger needs {key!r}."] for key in needed if key not in data})
        if "event" in data and "events" in data:
            errors["events"] = ["Use 'event' or 'events', not both."]
        if errors:
            raise ValidationError(errors)


# Each cause: the keys that name it, the keys it may have, and those it needs.
CAUSE_KEYS: dict[str, tuple[set[str], set[str], tuple[str, ...]]] = {
    "event": ({"event", "events"}, {"event", "events", "type", "where"}, ()),
    "metric": ({"metric"}, {"metric", "reaches"}, ("reaches",)),
    "story": ({"story"}, {"story"}, ()),
}


class MessageSchema(Strict):
    title = text(required=True)
    body = text()


class LimitsSchema(Strict):
    per_user_per_day = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100))
    quiet_hours = fields.List(fields.String(validate=validate.Regexp(CLOCK, error="Use HH:MM, e.g. 22:00.")),
                              validate=validate.Length(equal=2, error="From and until: two times, e.g. "
                                                                      "[\"22:00\", \"09:00\"]."))


class TriggerSchema(Strict):
    id = fields.String(validate=validate.Regexp(TEMPLATE_ID, error=TRIGGER_ID_RULE))
    description = fields.String(validate=validate.Length(max=2000))
    enabled = fields.Boolean(load_default=True)
    on = fields.Nested(OnSchema, required=True)
    period = fields.Nested(PeriodSchema, load_default=lambda: {"kind": "last_days", "days": 90})
    metrics = fields.Dict(keys=fields.String(validate=validate.Regexp(IDENT, error="Not a metric name.")),
                          values=fields.Nested(MetricSchema), load_default=dict)
    audience = fields.String(validate=validate.Length(min=1, max=2000))
    audience_ref = fields.String(validate=validate.Regexp(AUDIENCE_ID, error=AUDIENCE_ID_RULE))  # a saved audience
    message = fields.Nested(MessageSchema, required=True)
    webhook = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    limits = fields.Nested(LimitsSchema, load_default=lambda: {"per_user_per_day": 1})
    story = fields.String(validate=validate.Regexp(TEMPLATE_ID, error=TEMPLATE_ID_RULE))  # the story linked


@dataclass
class Trigger:
    id: str
    spec: dict[str, Any]
    number: int = 0  # the app's version of it (triggers/store.py); 0 before it is saved

    @property
    def cause(self) -> str:
        on = self.spec["on"]
        return "metric" if "metric" in on else "story" if "story" in on else "event"

    @property
    def events(self) -> list[str]:
        """The names of the events that start it (none for a story's trigger)."""
        on = self.spec["on"]
        return on.get("events") or ([on["event"]] if "event" in on else [])

    def milestone_events(self) -> list[str] | None:
        """The names of the user's own events that may move a milestone's metric (none for other
        causes); None when any event may (a metric built from others, or one without a name)."""
        if self.cause != "metric":
            return []
        metric = self.spec["metrics"][self.spec["on"]["metric"]]
        if metric["kind"] in LATER_KINDS:
            return None
        names = filters.event_names(filters.resolve(metric, {}))
        return None if names is None else sorted(names)

    @property
    def story(self) -> str | None:
        """The template whose story the notification links: ``story``, else the story that starts it."""
        story: str | None = self.spec.get("story") or self.spec["on"].get("story")
        return story

    @cached_property
    def metrics_template(self) -> StoryTemplate:
        """Its metrics and period as the engine computes a template's, made once per version (the
        template keeps its slice plans, so the chunks of a refresh or a fan-out plan once)."""
        return templates.of_metrics(f"trigger:{self.id}", f"trigger {self.id}", self.spec["metrics"],
                                    self.spec["period"])


def parse(trigger_id: str, source: str, fmt: str = "toml", file: str = "<request body>", *,
          allow_local: bool = False) -> Trigger:
    """Validate a trigger's text; TriggerInvalid with every problem found."""
    try:
        return _parse(trigger_id, source, fmt, file, allow_local)
    except RecursionError:
        raise TriggerInvalid(file, [error_entry("", "Arrays and tables are nested too deeply.")]) from None
    except TemplateInvalid as exc:
        if isinstance(exc, TriggerInvalid):
            raise
        raise TriggerInvalid(exc.file, exc.errors) from None


def _parse(trigger_id: str, source: str, fmt: str, file: str, allow_local: bool) -> Trigger:
    spec = templates.load_spec(source, file, fmt, TriggerSchema(), MAX_TRIGGER_BYTES, TriggerInvalid)
    errors = _check_semantics(trigger_id, spec, allow_local)
    if errors:
        raise TriggerInvalid(file, errors)
    spec.pop("id", None)
    return Trigger(id=trigger_id, spec=spec)


def _check_semantics(trigger_id: str, spec: dict[str, Any], allow_local: bool) -> list[dict[str, str]]:
    metrics = spec["metrics"]
    errors = templates.metric_errors(metrics)
    if spec.get("id", trigger_id) != trigger_id:
        errors.append(error_entry("id", f"The id {spec['id']!r} must be the trigger's, {trigger_id!r}."))
    for name, metric in metrics.items():
        if metric["kind"] in REFUSED_KINDS:
            errors.append(error_entry(f"metrics.{name}.kind", f"A trigger cannot use a {metric['kind']} metric."))
    on = spec["on"]
    if "metric" in on:
        if on["metric"] not in metrics:
            errors.append(error_entry("on.metric", f"No metric named {on['metric']!r}."))
        elif metrics[on["metric"]]["kind"] not in NUMBER_KINDS:
            errors.append(error_entry("on.metric", f"'reaches' compares a number: {NUMBER_KINDS_TEXT}."))
    reason = webhook_urls.refusal(spec["webhook"], allow_local=allow_local)
    if reason:
        errors.append(error_entry("webhook", reason))
    known = set(metrics) | IN_SCOPE
    templates.check_expressions({"metrics": metrics, "message": spec["message"]}, "", errors, known)
    if "audience" in spec:
        templates.compile_errors(expressions.compile_condition, spec["audience"],
                                 "{{ " + spec["audience"] + " }}", "audience", errors, known)
    return errors


def is_trigger_id(value: object) -> bool:
    return isinstance(value, str) and TEMPLATE_ID.fullmatch(value) is not None
