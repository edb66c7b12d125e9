"""The same story in English, German, Japanese and Arabic: numbers, percentages, compact numbers,
money, dates, date ranges, durations, plurals, month and weekday names as CLDR has them for each
locale, compared with Babel's own data rather than with strings written here. Babel writes the
digits 0–9 in every locale; where CLDR's numbering system for a locale has digits of its own
(Arabic-Indic in Egypt, Extended Arabic-Indic in Persian), the story writes those."""
from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from babel import Locale
from babel.dates import format_interval, format_skeleton, get_day_names, get_month_names
from babel.numbers import format_compact_decimal, format_currency, format_decimal, format_percent

from helpers.server import basic, http, make_tenant
from helpers.story import NOW, app_template, ms, send, track
from widget_server.engine import locales
from widget_server.engine.expressions import ExpressionFailed, render, story_globals

FORMS = "one='ONE', two='TWO', few='FEW', many='MANY', zero='ZERO', other='OTHER'"
NUMBERS = ("{{ (plays * 1234.5) | number(1) }}|{{ (plays / 11.82) | percent }}|{{ (plays * 2469) | compact }}"
           "|{{ (plays * 2.5) | currency('EUR') }}")
PLURALS = "{% for n in [1, 2, 3, 11, 100, plays] %}{{ n | plural(" + FORMS + ") }} {% endfor %}"
DATES = "{{ '2026-03-01' | date }}|{{ '2025-12-30' | date('short') }}|{{ '2026-03-01' | date_range('2026-03-05') }}"
TEMPLATE = f"""
id = "languages"
title = "{{{{ plays | number }}}} plays"
[period]
kind = "year"
cutoff = "11-15"
[metrics.plays]
kind = "count"
event = "Song Played"
[metrics.days]
kind = "series"
event = "Song Played"
by = "weekday"
[[frames]]
id = "numbers"
kind = "text"
title = "{NUMBERS}"
body = "{PLURALS}"
[[frames]]
id = "dates"
kind = "text"
title = "{DATES}"
body = "{{{{ MONTHS | join(',') }}}}|{{{{ period.label }}}}"
[[frames]]
id = "week"
kind = "chart"
chart = {{ metric = "days" }}
[card]
title = "{{{{ plays | number }}}}"
"""
LOCALES = ["en", "de", "ja", "ar", "ar-EG", "en-US"]
# CLDR's numberingSystems.xml: the digits of the locales below (every other one here writes 0–9)
NATIVE_DIGITS = {"ar-EG": "ARABIC-INDIC", "fa": "EXTENDED ARABIC-INDIC"}


def native(text: str, tag: str) -> str:
    """Babel's answer ``text`` written in the digits of ``tag``'s numbering system."""
    if tag not in NATIVE_DIGITS:
        return text
    return "".join(unicodedata.lookup(f"{NATIVE_DIGITS[tag]} DIGIT {unicodedata.name(c).split()[-1]}")
                   if "0" <= c <= "9" else c for c in text)


@pytest.fixture
def tenant(app, live_server):
    tenant = make_tenant("Soundwave")
    app_template(app.instance_path, tenant.app_id, "languages", TEMPLATE)
    start = ms(f"{NOW.year}-03-02T12:00:00")  # a Monday, then a play a day
    send(live_server, tenant.write_key, [track("ana", "Song Played", start + i * 86_400_000) for i in range(5)])
    return tenant


def story_in(live_server, tenant, locale: str) -> dict:
    reply = http("GET", f"{live_server.url}/v1/stories/languages?user_id=ana&locale={locale}", None,
                 basic(tenant.secret_key))
    assert reply.status == 200, reply.body
    return reply.json()


def frame(story: dict, frame_id: str) -> dict:
    return next(f for f in story["frames"] if f["id"] == frame_id)


@pytest.mark.parametrize("tag", LOCALES)
def test_a_story_formats_numbers_dates_plurals_and_names_as_cldr_has_them(tenant, live_server, tag):
    story = story_in(live_server, tenant, tag)
    loc = Locale.parse(tag, sep="-")
    digits = {"numbering_system": "default"}
    assert story["locale"] == tag and story["title"] == native(f"{format_decimal(5, locale=loc, **digits)} plays", tag)

    numbers = frame(story, "numbers")["title"].split("|")
    assert numbers == [native(text, tag) for text in (
        format_decimal(6172.5, locale=loc, **digits),  # (one decimal, as number(1) shows)
        format_percent(5 / 11.82, locale=loc, **digits),
        compact(12345, loc),
        format_currency(12.5, "EUR", locale=loc, **digits))]
    categories = [loc.plural_form(n) for n in (1, 2, 3, 11, 100, 5)]
    assert frame(story, "numbers")["body"].split() == [c.upper() for c in categories]

    day = date(2026, 3, 1)
    dates_shown = frame(story, "dates")["title"].split("|")
    assert dates_shown == [native(text, tag) for text in (
        format_skeleton("MMMMd", day, locale=loc),
        format_skeleton("yMMMd", date(2025, 12, 30), locale=loc),
        format_interval(day, date(2026, 3, 5), "MMMd", locale=loc))]
    months = get_month_names("wide", context="stand-alone", locale=loc)
    assert frame(story, "dates")["body"] == ",".join(months[m] for m in range(1, 13)) + "|" + native(str(NOW.year), tag)

    # the week starts on the locale's first day (Sunday in the US, Saturday in Egypt)
    first = loc.first_week_day
    names = get_day_names("abbreviated", context="stand-alone", locale=loc)
    chart = frame(story, "week")["chart"]
    assert chart["labels"] == [names[(first + i) % 7] for i in range(7)]
    monday_to_friday = [1, 1, 1, 1, 1, 0, 0]
    assert chart["values"] == [monday_to_friday[(first + i) % 7] for i in range(7)]


def compact(value: int, loc: Locale) -> str:
    """CLDR's short form; its pattern "0" (German thousands) means the number as it is written
    in full (Babel prints the bare digits: "12345")."""
    pattern = loc.compact_decimal_formats["short"]["other"][str(10 ** (len(str(value)) - 1))]
    if set(pattern.pattern) <= {"0"}:
        return format_decimal(value, locale=loc, numbering_system="default")
    return format_compact_decimal(value, locale=loc, numbering_system="default")


def test_polish_and_arabic_plurals_have_more_than_two_forms(tenant, live_server):
    seen = {tag: set(story_in(live_server, tenant, tag)["frames"][0]["body"].split()) for tag in ("pl", "ar", "en")}
    assert len(seen["pl"]) >= 3 and len(seen["ar"]) >= 4 and seen["en"] == {"ONE", "OTHER"}


def test_the_same_compiled_text_gives_each_locale_its_own_words():
    # Jinja folds filters of constants at compile time; the locale's filters must not be.
    text = "{{ 3 | plural(one='jeden', few='kilka', other='inne') }} {{ 1234 | number }} {{ 90 | duration('units') }}"
    shown = {}
    for tag in ("en", "pl", "de"):
        with locales.use(tag):
            shown[tag] = render(text, story_globals())
    assert shown["en"].startswith("inne 1,234") and shown["pl"].startswith("kilka 1") and "1.234" in shown["de"]
    assert len({s.split(" ", 2)[2] for s in shown.values()}) == 3  # "1 min 30 secs" in three languages


@pytest.mark.parametrize("text", ["{{ 5 | currency('XXQ') }}", "{{ 5 | currency }}", "{{ 'many' | compact }}",
                                  "{{ 5 | plural(lots='x') }}", "{{ 5 | number(99) }}",
                                  "{{ '2026-03-01' | date_range('soon') }}",
                                  "{{ '2026-03-01' | date_range('2026-03-02', 'x') }}"])
def test_what_cannot_be_formatted_fails_the_text_like_missing_data(text):
    with pytest.raises(ExpressionFailed):
        render(text, story_globals())


@pytest.mark.parametrize("tag", ["en", "en-IN", "hi", "de", "fr", "es", "pt-BR", "tr", "ja", "ar", "ar-EG", "pl", "sv",
                                 "de-CH", "fa", "he", "th", "ko", "zh-Hant"])
def test_whole_numbers_read_as_babel_writes_them(tag):
    loc = Locale.parse(tag, sep="-")
    values = [0, 7, 999, 1000, 12345, 999_999.5, 1_234_567, 2.5, 3.5, 10**12 + 0.4]
    with locales.use(tag):
        shown = [render("{{ v | number }}", {**story_globals(), "v": v}) for v in values]
    assert shown == [native(format_decimal(round(v), locale=loc, numbering_system="default"), tag) for v in values]
