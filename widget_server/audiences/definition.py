"""An audience's definition (docs/AUDIENCES.md): TOML or JSON of ``metrics``, a ``period`` and a
``when`` condition in the template language, validated as templates and triggers are (the same
decoder, metric schema and checks), or AudienceInvalid naming each key path and reason."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from marshmallow import fields, validate

from ..engine import expressions, templates
from ..engine.errors import TemplateInvalid, error_entry
from ..engine.template_schema import AUDIENCE_ID, IDENT, MetricSchema, PeriodSchema, Strict
from ..engine.templates import StoryTemplate

MAX_AUDIENCE_BYTES = 64 * 1024
# What ``when`` may read besides the metrics: the user, the period, and ``days_ago(n)``.
IN_SCOPE = templates.IN_SCOPE | {"days_ago"}
REFUSED_KINDS = ("percentile",)  # a percentile ranks against a template's population


class AudienceInvalid(TemplateInvalid):
    status, code, message = 422, "audience_invalid", "The audience is invalid."


class AudienceSchema(Strict):
    id = fields.String(validate=validate.Regexp(AUDIENCE_ID, error="Not an audience id."))
    description = fields.String(validate=validate.Length(max=2000))
    period = fields.Nested(PeriodSchema, load_default=lambda: {"kind": "last_days", "days": 365})
    metrics = fields.Dict(keys=fields.String(validate=validate.Regexp(IDENT, error="Not a metric name.")),
                          values=fields.Nested(MetricSchema), load_default=dict)
    when = fields.String(required=True, validate=validate.Length(min=1, max=2000))


@dataclass
class Audience:
    id: str
    spec: dict[str, Any]
    number: int = 0  # the app's version of it (audiences/store.py); 0 before it is saved

    @cached_property
    def metrics_template(self) -> StoryTemplate:
        """Its metrics and period as the engine computes a template's, made once per version (the
        template keeps its slice plans, so the chunks of a refresh or a fan-out plan once)."""
        return templates.of_metrics(f"audience:{self.id}", f"audience {self.id}", self.spec["metrics"],
                                    self.spec["period"])


def parse(audience_id: str, source: str, fmt: str = "toml", file: str = "<request body>") -> Audience:
    """Validate an audience's text; AudienceInvalid with every problem found."""
    try:
        return _parse(audience_id, source, fmt, file)
    except RecursionError:
        raise AudienceInvalid(file, [error_entry("", "Arrays and tables are nested too deeply.")]) from None
    except TemplateInvalid as exc:
        if isinstance(exc, AudienceInvalid):
            raise
        raise AudienceInvalid(exc.file, exc.errors) from None


def _parse(audience_id: str, source: str, fmt: str, file: str) -> Audience:
    spec = templates.load_spec(source, file, fmt, AudienceSchema(), MAX_AUDIENCE_BYTES, AudienceInvalid)
    metrics = spec["metrics"]
    errors = templates.metric_errors(metrics)
    if spec.get("id", audience_id) != audience_id:
        errors.append(error_entry("id", f"The id {spec['id']!r} must be the audience's, {audience_id!r}."))
    for name, metric in metrics.items():
        if metric["kind"] in REFUSED_KINDS:
            errors.append(error_entry(f"metrics.{name}.kind", f"An audience cannot use a {metric['kind']} metric."))
    known = set(metrics) | IN_SCOPE
    templates.check_expressions({"metrics": metrics}, "", errors, known)
    templates.compile_errors(expressions.compile_condition, spec["when"], "{{ " + spec["when"] + " }}", "when",
                             errors, known)
    if errors:
        raise AudienceInvalid(file, errors)
    spec.pop("id", None)
    return Audience(id=audience_id, spec=spec)


def is_audience_id(value: object) -> bool:
    return isinstance(value, str) and AUDIENCE_ID.fullmatch(value) is not None
