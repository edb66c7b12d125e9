"""Template texts per locale: a text field as a table of locale → text (or variants), looked up
down the story locale's chain (pt-BR → pt → the template's default), refused without the default's
text, and what each declared locale is missing listed by ``recap templates check``."""
from __future__ import annotations

import pytest

from helpers.server import make_tenant
from helpers.story import NOW, app_template, ms, send, track
from widget_server.engine import TemplateInvalid, assemble_story, parse
from widget_server.engine.translations import missing
from widget_server.store.db import database

TEMPLATE = """
id = "translated"
title = { en = "Your year", pt = "Seu ano", pt-BR = "Seu ano, brasileiro", de = ["Dein Jahr", "Dein Jahr!"] }
locales = ["pt-BR", "pt-PT", "de", "ja", "en-US"]
[period]
kind = "year"
cutoff = "11-15"
[metrics.plays]
kind = "count"
event = "Song Played"
[[frames]]
id = "plays"
kind = "text"
title = { en = "{{ plays | number }} plays", pt = "{{ plays | number }} músicas", ja = "{{ plays | number }} 回" }
body = "Thanks for listening"
[[frames]]
id = "count"
kind = "stat"
stat = { value = "{{ plays | number }}", unit = { en = "plays", de = "Wiedergaben" } }
[card]
title = { en = "{{ plays }} plays", de = "{{ plays }} Wiedergaben" }
"""


@pytest.fixture
def tenant(app, live_server):
    tenant = make_tenant("Soundwave")
    app_template(app.instance_path, tenant.app_id, "translated", TEMPLATE)
    start = ms(f"{NOW.year}-03-02T12:00:00")
    send(live_server, tenant.write_key, [track("ana", "Song Played", start + i * 3_600_000) for i in range(1234)])
    return tenant


def texts_in(tenant, locale: str) -> tuple[str, str, str | None, str]:
    with database.connection_context():
        story = assemble_story(tenant.app_id, "translated", "ana", now=NOW, locale=locale)
    plays, count = story["frames"][0], story["frames"][1]
    return story["title"], plays["title"], count["stat"]["unit"], story["card"]["title"]


def test_a_text_is_looked_up_down_the_locales_chain_then_in_the_default(tenant):
    assert texts_in(tenant, "pt-BR") == ("Seu ano, brasileiro", "1.234 músicas", "plays", "1234 plays")
    assert texts_in(tenant, "pt-PT")[:2] == ("Seu ano", "1\xa0234 músicas")  # pt-PT → pt (and pt-PT numbers)
    assert texts_in(tenant, "ja") == ("Your year", "1,234 回", "plays", "1234 plays")
    german = texts_in(tenant, "de")
    assert german[0] in ("Dein Jahr", "Dein Jahr!") and german[1:] == ("1.234 plays", "Wiedergaben",
                                                                       "1234 Wiedergaben")
    assert texts_in(tenant, "en-US")[0] == "Your year"


def test_templates_check_lists_what_each_declared_locale_is_missing(tenant, runner, app):
    result = runner.invoke(args=["templates", "check", "--app", "Soundwave"])
    assert result.exit_code == 0, result.output
    # the lines under this template's own "ok" line (the shipped templates are checked too)
    out = next(part for part in result.output.split("\nok ") if "(translated:" in part)
    assert "  pt-BR: missing 3 texts: frames[0].body, frames[1].stat.unit, card.title" in out
    assert "  de: missing 2 texts: frames[0].title, frames[0].body" in out
    assert "  ja: missing 4 texts: title, frames[0].body, frames[1].stat.unit, card.title" in out
    assert "  en-US: complete" in out  # its chain reaches the default, en
    # a text with no words of its own ("{{ plays | number }}") needs no translation
    assert "stat.value" not in out


@pytest.mark.parametrize(("title", "path", "reason"), [
    ('{ de = "Dein Jahr" }', "title", "default_locale, 'en'"),
    ('{ en = "Year", klingon = "x" }', "title.klingon", "Not a known locale"),
    ('{ en = "Year", pt_BR = "a", pt-BR = "b" }', "title.pt-BR", "given twice"),
    ('{ en = 5 }', "title.en", "Must be a string"),
    ('{}', "title", "1–100 locales"),
    ('{ en = "{{ plyas }}" }', "title.en", "'plyas' is not a metric"),
])
def test_a_table_of_translations_is_checked_like_any_text(title, path, reason):
    source = TEMPLATE.replace(TEMPLATE.splitlines()[2], f"title = {title}")
    with pytest.raises(TemplateInvalid) as refused:
        parse(source)
    assert any(e["path"] == path and reason in e["reason"] for e in refused.value.errors), refused.value.errors


def test_locales_and_default_locale_are_made_canonical():
    spec = parse(TEMPLATE.replace('locales = ["pt-BR"', 'default_locale = "EN"\nlocales = ["pt_br"')).spec
    assert spec["default_locale"] == "en" and spec["locales"][0] == "pt-BR"
    assert missing(spec)["pt-BR"] == ["frames[0].body", "frames[1].stat.unit", "card.title"]
    with pytest.raises(TemplateInvalid):
        parse(TEMPLATE.replace('locales = ["pt-BR"', 'locales = ["xx-notreal"'))


LABELS = """
id = "labelled"
title = "Your year"
locales = ["pt-BR", "de"]
[period]
kind = "year"
cutoff = "11-15"
[metrics.plays]
kind = "count"
event = "Song Played"
[metrics.likes]
kind = "count"
event = "Song Liked"
[metrics.level]
kind = "tier"
of = "plays"
tiers = [
  { min = 0, label = { en = "Newcomer", pt = "Novato" } },
  { min = 1000, label = { en = "Superfan", pt = "Superfã", de = "Superfan" } },
]
[metrics.kind_of_fan]
kind = "label"
rules = [{ when = "plays > 100000", label = "Curator" }]
default = { en = "Listener", pt = "Ouvinte", de = "Hörerin" }
[[frames]]
id = "level"
kind = "text"
title = "{{ level }}"
body = "{{ kind_of_fan }}"
[[frames]]
id = "likes"
kind = "text"
title = { en = "Thanks for listening", de = "{{ likes | number }} Likes" }
[card]
title = "{{ level }}"
"""


@pytest.fixture
def labelled(app, live_server):
    tenant = make_tenant("Labels")
    app_template(app.instance_path, tenant.app_id, "labelled", LABELS)
    start = ms(f"{NOW.year}-03-02T12:00:00")
    send(live_server, tenant.write_key, [track("ana", "Song Played", start + i * 3_600_000) for i in range(1234)]
         + [track("ana", "Song Liked", start + i * 3_600_000 + 1) for i in range(5)])
    return tenant


def labelled_story(tenant, locale: str):
    with database.connection_context():
        return assemble_story(tenant.app_id, "labelled", "ana", now=NOW, locale=locale)


def test_tier_and_label_metrics_are_in_the_story_locale(labelled):
    by_id = {f["id"]: f for f in labelled_story(labelled, "pt-BR")["frames"]}
    assert (by_id["level"]["title"], by_id["level"]["body"]) == ("Superfã", "Ouvinte")
    by_id = {f["id"]: f for f in labelled_story(labelled, "en-US")["frames"]}
    assert (by_id["level"]["title"], by_id["level"]["body"]) == ("Superfan", "Listener")
    by_id = {f["id"]: f for f in labelled_story(labelled, "ja")["frames"]}   # no Japanese: the default's
    assert (by_id["level"]["title"], by_id["level"]["body"]) == ("Superfan", "Listener")


def test_a_metric_only_a_translation_reads_is_computed(labelled):
    """`likes` is read by the German title alone: the German story has it, the frame is not lost."""
    frames = {f["id"]: f for f in labelled_story(labelled, "de")["frames"]}
    assert frames["likes"]["title"] == "5 Likes" and frames["level"]["body"] == "Hörerin"


def test_labels_count_as_texts_to_translate():
    spec = parse(LABELS).spec
    assert missing(spec)["de"] == ["title", "metrics.level.tiers[0].label", "metrics.kind_of_fan.rules[0].label"]
    assert missing(spec)["pt-BR"] == ["title", "metrics.kind_of_fan.rules[0].label", "frames[1].title"]
    with pytest.raises(TemplateInvalid) as refused:
        parse(LABELS.replace('label = { en = "Newcomer", pt = "Novato" }', 'label = { pt = "Novato" }'))
    assert any(e["path"] == "metrics.level.tiers[0].label" for e in refused.value.errors), refused.value.errors


def test_the_cards_own_share_button_speaks_the_storys_language(tenant):
    # It said "Share" on every card, a Japanese one too.
    def button(locale: str) -> str:
        with database.connection_context():
            story = assemble_story(tenant.app_id, "translated", "ana", now=NOW, locale=locale)
        return story["frames"][-1]["buttons"][0]["label"]
    assert (button("de"), button("ja"), button("pt-BR"), button("en-US"), button("ko")) == (
        "Teilen", "シェア", "Compartilhar", "Share", "Share")
