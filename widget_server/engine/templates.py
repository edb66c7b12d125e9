"""Loading story templates: TOML in, validated ``StoryTemplate`` out, or a TemplateInvalid naming
the file, the key path (``frames[2].stat.value``) and the reason."""
from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError
from marshmallow import Schema, ValidationError

from . import arithmetic, experiments, expressions, locales, translations
from .errors import NotFound, TemplateInvalid, error_entry
from .template_schema import LATER_KINDS, NUMBER_KINDS, NUMBER_KINDS_TEXT, TEMPLATE_ID, TemplateSchema
from .translations import Translations

SHIPPED_DIR = Path(__file__).resolve().parents[2] / "story_templates"
# Names a text or expression may read besides the metrics (assemble.py, frames.py give them).
IN_SCOPE = set(expressions.story_globals()) | {"user", "period", "app", "template", "item"}
# Names a metric may not take: what texts already read by that name (a metric "range" would be
# Jinja's range in a frame, yet the metric in a derived expression).
RESERVED_NAMES = IN_SCOPE | {"loop", "true", "false", "none"}
MAX_TEMPLATE_BYTES = 256 * 1024
# Fields whose text is a Jinja template (rendered), as opposed to an expression (evaluated).
TEXT_KEYS = {"title", "subtitle", "body", "value", "unit", "caption", "label", "alt", "footer",
             "href", "src", "poster", "image"}
EXPRESSION_KEYS = {"when", "raw", "expr"}  # ("rules" hold "when" too)


@dataclass
class StoryTemplate:
    id: str
    file: str
    spec: dict[str, Any]
    # The content this template was parsed from, as a hash: a story built from other content
    # (the file was edited since) is never served for this one.
    version: str = ""
    # The app's version of it in the database (template_store); 0 for a default: a shipped
    # template, or an app's file not imported yet.
    number: int = 0
    sql_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    later_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Metrics the frames, card and rules actually read (with what those depend on): a story
    # computes only these, so a template can keep spare metrics at no cost.
    used: frozenset[str] = frozenset()
    plans: dict[frozenset[str] | None, Any] = field(default_factory=dict, repr=False)  # slice.Plan by metric subset

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        metrics: dict[str, dict[str, Any]] = self.spec["metrics"]
        return metrics



def flatten_errors(messages: Any, path: str, out: list[dict[str, str]]) -> None:
    """marshmallow's nested messages as entries of a key path and a reason (triggers use it too)."""
    if isinstance(messages, dict):
        for key, sub in messages.items():
            if isinstance(key, int):
                flatten_errors(sub, f"{path}[{key}]", out)
            elif key == "_schema":
                flatten_errors(sub, path, out)
            elif key == "value" and path.count(".") == 1 and path.split(".")[0] in ("metrics", "virtual_events"):
                flatten_errors(sub, path, out)  # marshmallow's Dict nests values under "value"
            elif key == "key" and path.count(".") == 1 and path.split(".")[0] in ("metrics", "virtual_events"):
                flatten_errors(sub, path, out)
            else:
                flatten_errors(sub, f"{path}.{key}" if path else str(key), out)
    elif isinstance(messages, list):
        for message in messages:
            if isinstance(message, (dict, list)):
                flatten_errors(message, path, out)
            else:
                out.append(error_entry(path, message))
    else:
        out.append(error_entry(path, messages))


FORMATS = ("toml", "json")  # what a template's source may be written in: TOML, or JSON of the same shape


def parse(source: str, file: str = "<template>", fmt: str = "toml") -> StoryTemplate:
    """Validate template text (``fmt``: "toml" or "json"); raise TemplateInvalid with every
    problem found."""
    try:
        return _parse(source, file, fmt)
    except RecursionError:  # the decoders and the checks walk the nesting (a body of 256 KiB of '[')
        raise TemplateInvalid(file, [error_entry("", "Arrays and tables are nested too deeply.")]) from None


def load_spec(source: str, file: str, fmt: str, schema: Schema, max_bytes: int,
              invalid: type[TemplateInvalid] = TemplateInvalid) -> dict[str, Any]:
    """A definition's text (a template's, a trigger's, an audience's) in a known format and size,
    decoded and loaded by ``schema``; else ``invalid`` naming the file, each key path and the reason."""
    if fmt not in FORMATS:
        raise invalid(file, [error_entry("", f"The format must be one of: {', '.join(FORMATS)}.")])
    if len(source.encode()) > max_bytes:
        raise invalid(file, [error_entry("", f"Larger than {max_bytes} bytes.")])
    try:
        raw = decode_source(source, file, fmt)
    except TemplateInvalid as exc:
        raise invalid(exc.file, exc.errors) from None
    try:
        spec: dict[str, Any] = schema.load(raw)
    except ValidationError as exc:
        errors: list[dict[str, str]] = []
        flatten_errors(exc.messages, "", errors)
        raise invalid(file, errors) from None
    return spec


def _parse(source: str, file: str, fmt: str) -> StoryTemplate:
    spec = load_spec(source, file, fmt, TemplateSchema(), MAX_TEMPLATE_BYTES)
    errors = _check_semantics(spec)
    if errors:
        raise TemplateInvalid(file, errors)
    return _with_metrics(StoryTemplate(id=spec["id"], file=file, spec=spec, version=content_version(source),
                                       used=_used_metrics(spec)))


def of_metrics(template_id: str, file: str, metrics: dict[str, dict[str, Any]],
               period: dict[str, Any]) -> StoryTemplate:
    """A template of metrics and a period alone, which the engine computes as any template's
    metrics (engine/metrics.py): what a trigger's and an audience's definitions read."""
    spec = {"id": template_id, "metrics": metrics, "period": period, "timezone": "user", "virtual_events": {}}
    return _with_metrics(StoryTemplate(id=template_id, file=file, spec=spec, used=frozenset(metrics)))


def _with_metrics(template: StoryTemplate) -> StoryTemplate:
    """``template`` with its metrics sorted into those that are SQL and those computed after."""
    for name, metric in template.spec["metrics"].items():
        target = template.later_metrics if metric["kind"] in LATER_KINDS else template.sql_metrics
        target[name] = metric
    return template


def decode_source(source: str, file: str, fmt: str) -> dict[str, Any]:
    """The table a TOML or JSON text holds, or TemplateInvalid naming the file (triggers use it too)."""
    if fmt == "json":
        try:
            raw = json.loads(source)
        except ValueError as exc:
            raise TemplateInvalid(file, [error_entry("", f"Not valid JSON: {exc}")]) from None
        if not isinstance(raw, dict):
            raise TemplateInvalid(file, [error_entry("", "Not a JSON object.")])
        return raw
    try:
        return tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateInvalid(file, [error_entry("", f"Not valid TOML: {exc}")]) from None


def content_version(source: str) -> str:
    """What names a template's content: a hash of its text (16 hex digits)."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _check_semantics(spec: dict[str, Any]) -> list[dict[str, str]]:
    """What the schema cannot see: names that refer to each other and expressions that compile."""
    errors = metric_errors(spec["metrics"])
    metrics = spec["metrics"]
    for i, rule in enumerate(spec["eligibility"]):
        if "metric" in rule and rule["metric"] not in metrics:
            errors.append(error_entry(f"eligibility[{i}].metric", f"No metric named {rule['metric']!r}."))
        elif "metric" in rule and metrics[rule["metric"]]["kind"] not in NUMBER_KINDS:
            errors.append(error_entry(f"eligibility[{i}].metric", f"'min' compares a number: {NUMBER_KINDS_TEXT}; "
                                                                  "or write the rule as 'when'."))
    seen: set[str] = set()
    for i, frame in enumerate(spec["frames"]):
        if frame["id"] in seen or frame["id"] == "card":
            errors.append(error_entry(f"frames[{i}].id", f"Frame id {frame['id']!r} is used twice."))
        seen.add(frame["id"])
        for part in ("list", "chart"):
            ref = frame.get(part, {}).get("metric")
            if ref is not None and ref not in metrics:
                errors.append(error_entry(f"frames[{i}].{part}.metric", f"No metric named {ref!r}."))
    card_list = spec["card"].get("list")
    if card_list and card_list["metric"] not in metrics:
        errors.append(error_entry("card.list.metric", f"No metric named {card_list['metric']!r}."))
    errors.extend(experiments.check(spec))
    check_expressions(spec, "", errors, set(metrics) | IN_SCOPE)
    default = spec["default_locale"]
    for path, value in translations.texts(spec):
        if isinstance(value, Translations) and not any(tag in value for tag in locales.chain(default)):
            errors.append(error_entry(path, f"A table of translations needs the text in the template's "
                                            f"default_locale, {default!r} (the last step of every fallback)."))
    return errors


def metric_errors(metrics: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """What the schema cannot see in the metrics: names, and the metrics each one reads."""
    errors: list[dict[str, str]] = []
    names = list(metrics)
    for name, metric in metrics.items():
        base = f"metrics.{name}"
        if name in RESERVED_NAMES:
            errors.append(error_entry(base, f"{name!r} is a reserved name."))
        if "event" in metric and "events" in metric:
            errors.append(error_entry(f"{base}.events", "Use 'event' or 'events', not both."))
        of = metric.get("of")
        if of is not None:
            if of not in metrics:
                errors.append(error_entry(f"{base}.of", f"No metric named {of!r}."))
            elif names.index(of) >= names.index(name):
                errors.append(error_entry(f"{base}.of", f"{of!r} must be defined before {name!r}."))
            elif metric["kind"] in ("percentile", "change") and arithmetic.scalar_inputs(metrics, of) is None:
                errors.append(error_entry(f"{base}.of", _not_rankable(metric["kind"], of, metrics[of]["kind"])))
            elif metric["kind"] == "peak_month" and metrics[of]["kind"] != "top":
                errors.append(error_entry(f"{base}.of", "peak_month needs a top metric."))
            elif metric["kind"] == "tier" and metrics[of]["kind"] not in NUMBER_KINDS:
                errors.append(error_entry(f"{base}.of", f"A tier needs a number: {NUMBER_KINDS_TEXT}."))
        if metric["kind"] in ("derived", "label"):
            later = [ref for ref in _referenced(metric) if ref in metrics and names.index(ref) > names.index(name)
                     and metrics[ref]["kind"] in LATER_KINDS]
            for ref in sorted(later):
                errors.append(error_entry(base, f"{ref!r} must be defined before {name!r}, which reads it."))
    return errors


def _not_rankable(kind: str, of: str, of_kind: str) -> str:
    reason = (f"A {kind} needs a count, sum, avg, min, max, distinct or share metric, or a derived metric "
              f"that is {arithmetic.RULE}")
    if of_kind == "derived":  # a percentile ranks every user of the app, a change reads the period before
        return (f"{reason}: {of!r} reads more than that, and a {kind} computes it "
                f"{'for every user of the app' if kind == 'percentile' else 'for the period before'} "
                "from scalar metrics alone.")
    return f"{reason}; {of!r} is a {of_kind} metric."


def check_expressions(node: Any, path: str, errors: list[dict[str, str]], known: set[str]) -> None:
    """Every text and expression compiles and reads only names in scope (``known``): a typo such
    as ``{{ plyas }}`` would otherwise skip its frame for every user, silently."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else str(key)
            if key in ("where", "part", "properties"):
                continue
            if key in EXPRESSION_KEYS and isinstance(value, str):
                compile_errors(expressions.compile_condition, value, "{{ " + value + " }}", sub, errors, known)
            elif key in TEXT_KEYS and isinstance(value, (str, list, Translations)):
                entries = value.items() if isinstance(value, Translations) else [("", value)]
                for tag, text in entries:
                    at = f"{sub}.{tag}" if tag else sub
                    for j, variant in enumerate(text if isinstance(text, list) else [text]):
                        if isinstance(variant, str):
                            compile_errors(expressions.compile_text, variant, variant,
                                           f"{at}[{j}]" if isinstance(text, list) else at, errors, known)
            else:
                check_expressions(value, sub, errors, known)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_expressions(value, f"{path}[{i}]", errors, known)


def compile_errors(compiler: Any, source: str, as_text: str, path: str, errors: list[dict[str, str]],
             known: set[str]) -> None:
    try:
        compiler(source)
    except TemplateSyntaxError as exc:
        errors.append(error_entry(path, f"Template syntax error: {exc.message}"))
        return
    for name in sorted(expressions.variables(as_text) - known):
        errors.append(error_entry(path, f"{name!r} is not a metric of this template nor a name in scope "
                                        "(user, period, app, template, item, MONTHS, WEEKDAYS…)."))


def _used_metrics(spec: dict[str, Any]) -> frozenset[str]:
    metrics = spec["metrics"]
    found = _referenced({k: v for k, v in spec.items() if k != "metrics"})
    pending = [name for name in found if name in metrics]
    used: set[str] = set()
    while pending:
        name = pending.pop()
        if name in used:
            continue
        used.add(name)
        refs = _referenced(metrics[name])
        if "of" in metrics[name]:
            refs.add(metrics[name]["of"])
        pending.extend(r for r in refs if r in metrics and r not in used)
    return frozenset(used)


def _referenced(node: Any) -> set[str]:
    found: set[str] = set()
    _references(node, found)
    return found


def _references(node: Any, found: set[str]) -> None:
    """Names a part of the template reads: Jinja variables, and ``metric = "…"`` references."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("where", "part", "properties"):
                continue
            if key == "metric" and isinstance(value, str):
                found.add(value)
            elif key in EXPRESSION_KEYS and isinstance(value, str):
                found |= expressions.variables("{{ " + value + " }}")
            elif key in TEXT_KEYS and isinstance(value, (str, list, Translations)):
                # (a table's every locale: a metric only its Spanish text reads is computed too)
                for text in value.values() if isinstance(value, Translations) else [value]:
                    for variant in text if isinstance(text, list) else [text]:
                        if isinstance(variant, str):
                            found |= expressions.variables(variant)
            else:
                _references(value, found)
    elif isinstance(node, list):
        for value in node:
            _references(value, found)


def is_template_id(value: object) -> bool:
    """Whether ``value`` has the form of a template id: only such a value may name a file."""
    return isinstance(value, str) and TEMPLATE_ID.fullmatch(value) is not None


def unknown_template(template_id: object) -> NotFound:
    shown = str(template_id)[:100]
    return NotFound(f"No story template named {shown!r}.", details={"template": shown})


def load_file(path: str | os.PathLike[str]) -> StoryTemplate:
    return read_file(path)[0]


def read_file(path: str | os.PathLike[str]) -> tuple[StoryTemplate, str]:
    """A template file, parsed, and its text (TemplateInvalid naming the file)."""
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateInvalid(str(path), [error_entry("", f"Cannot read the file: {exc}")]) from None
    template = parse(source, str(path))
    if path.stem not in (template.id, template.id.replace("-", "_")):
        raise TemplateInvalid(str(path), [error_entry("id", f"The id {template.id!r} must match the file "
                                                            f"name {path.stem!r}.")])
    return template, source
