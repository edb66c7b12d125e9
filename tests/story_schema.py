"""The story JSON, as a marshmallow schema: the documented shape every consumer relies on
(docs/STORIES.md). The server never loads stories back, so only the tests hold it."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from widget_server.engine.template_schema import FRAME_KINDS


class Theme(Schema):
    background = fields.String(required=True)
    foreground = fields.String(required=True)
    accent = fields.String(required=True)


class Background(Schema):
    color = fields.String(allow_none=True, required=True)
    gradient = fields.List(fields.String(), allow_none=True, required=True)
    image = fields.String(allow_none=True, required=True)


class Stat(Schema):
    value = fields.String(required=True)
    raw = fields.Raw(allow_none=True, required=True)
    unit = fields.String(allow_none=True, required=True)
    caption = fields.String(allow_none=True, required=True)


class Item(Schema):
    rank = fields.Integer(required=True)
    label = fields.String(required=True)
    value = fields.String(allow_none=True, required=True)
    image = fields.String(allow_none=True, required=True)


class Media(Schema):
    src = fields.String(required=True)
    alt = fields.String(required=True)
    poster = fields.String(allow_none=True, required=True)


class Chart(Schema):
    type = fields.String(required=True, validate=validate.OneOf(("bar", "line", "radial")))
    labels = fields.List(fields.String(), required=True)
    values = fields.List(fields.Float(), required=True)
    highlight = fields.Integer(allow_none=True, required=True)
    caption = fields.String(allow_none=True, required=True)


class Button(Schema):
    id = fields.String(required=True)
    label = fields.String(required=True)
    action = fields.String(required=True, validate=validate.OneOf(("deep_link", "url", "share", "event")))
    href = fields.String(allow_none=True, required=True)
    event = fields.String(allow_none=True, required=True)
    properties = fields.Dict(allow_none=True, required=True)


class Frame(Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(FRAME_KINDS))
    duration_ms = fields.Integer(allow_none=True, required=True)
    background = fields.Nested(Background, required=True)
    title = fields.String(allow_none=True, required=True)
    subtitle = fields.String(allow_none=True, required=True)
    body = fields.String(allow_none=True, required=True)
    stat = fields.Nested(Stat, allow_none=True, required=True)
    items = fields.List(fields.Nested(Item), allow_none=True, required=True)
    media = fields.Nested(Media, allow_none=True, required=True)
    chart = fields.Nested(Chart, allow_none=True, required=True)
    buttons = fields.List(fields.Nested(Button), required=True)


class CardStat(Schema):
    label = fields.String(required=True)
    value = fields.String(required=True)


class CardList(Schema):
    title = fields.String(required=True)
    items = fields.List(fields.String(), required=True)


class Card(Schema):
    title = fields.String(required=True)
    subtitle = fields.String(allow_none=True, required=True)
    stats = fields.List(fields.Nested(CardStat), required=True)
    list = fields.Nested(CardList, allow_none=True, required=True)
    image = fields.String(allow_none=True, required=True)
    theme = fields.Nested(Theme, required=True)
    footer = fields.String(required=True)


class Period(Schema):
    label = fields.String(required=True)
    start = fields.String(required=True)
    end = fields.String(required=True)


class AppInfo(Schema):
    name = fields.String(required=True)
    deep_link_scheme = fields.String(allow_none=True, required=True)


class StorySchema(Schema):
    template = fields.String(required=True)
    title = fields.String(required=True)
    period = fields.Nested(Period, required=True)
    generated_at = fields.String(required=True)
    source = fields.String(required=True, validate=validate.OneOf(("on_demand", "precomputed")))
    app = fields.Nested(AppInfo, required=True)
    theme = fields.Nested(Theme, required=True)
    frames = fields.List(fields.Nested(Frame), required=True, validate=validate.Length(min=1))
    card = fields.Nested(Card, required=True)
