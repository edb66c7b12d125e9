"""Which locale a user's story is in: their latest context.locale, else a locale trait, else the
app's default; ?locale= on the story and embed routes; the story's locale and direction."""
from __future__ import annotations

import pytest

from helpers.server import basic, http, make_tenant
from helpers.story import NOW, identify, ms, send, track, viewer_token
from widget_server.engine import assemble_story, locales
from widget_server.store.db import database

YEAR = NOW.year


def plays(user: str, count: int, *, locale: str | None = None, start: str = f"{YEAR}-03-01T12:00:00") -> list[dict]:
    first = ms(start)
    return [track(user, "Song Played", first + i * 90_000_000,
                  {"song_id": f"s{i % 5}", "song": f"Song {i % 5}", "artist": "Mitski", "genre": "pop",
                   "ms_played": 180_000, "device": "ios"}, locale=locale)
            for i in range(count)]


@pytest.fixture
def listeners(app, live_server):
    tenant = make_tenant("Soundwave", locale="es")
    send(live_server, tenant.write_key,
         # ana's last event says ja-JP, though an earlier batch said de-DE
         plays("ana", 20, locale="de-DE") + plays("ana", 2, locale="ja-JP", start=f"{YEAR}-06-01T12:00:00")
         + [identify("ben", {"name": "Ben", "locale": "tr"}, ms(f"{YEAR}-01-02T00:00:00"))] + plays("ben", 20)
         + plays("cy", 20) + plays("dee", 20, locale="ar-EG")
         + plays("eve", 20, locale="not a locale!"))
    return tenant


def story_of(server, tenant, user: str, query: str = ""):
    return http("GET", f"{server.url}/v1/stories/year-in-music?user_id={user}{query}", None, basic(tenant.secret_key))


def test_the_latest_context_locale_then_the_trait_then_the_apps_default(listeners, live_server, query):
    got = {user: story_of(live_server, listeners, user).json() for user in ("ana", "ben", "cy", "dee", "eve")}
    assert {u: (s["locale"], s["direction"]) for u, s in got.items()} == {
        "ana": ("ja-JP", "ltr"), "ben": ("tr", "ltr"), "cy": ("es", "ltr"), "dee": ("ar-EG", "rtl"),
        "eve": ("es", "ltr")}  # a context.locale that is no locale is as good as none
    # Kept on the profile at ingest: the story reads it with the profile, no scan of events.
    assert dict(query("SELECT user_id, locale FROM profile")) == {
        "ana": "ja-JP", "ben": None, "cy": None, "dee": "ar-EG", "eve": "not a locale!"}


def test_locale_in_the_query_overrides_the_users(listeners, live_server):
    story = story_of(live_server, listeners, "ana", "&locale=ar").json()
    assert (story["locale"], story["direction"]) == ("ar", "rtl")
    # canonical tags, whatever case or separator was sent
    assert story_of(live_server, listeners, "ana", "&locale=pt_br").json()["locale"] == "pt-BR"


@pytest.mark.parametrize("given", ["xx", "12", "en-" + "a" * 40, "", "fr;drop"])
def test_a_locale_that_is_no_locale_is_a_422_naming_it(listeners, live_server, given):
    reply = story_of(live_server, listeners, "ana", f"&locale={given}")
    assert reply.status == 422, reply.body
    assert list(reply.json()["error"]["details"]) == ["locale"]
    token = viewer_token(live_server, listeners.secret_key, "ana")
    page = http("GET", f"{live_server.url}/embed/year-in-music?token={token}&locale={given}")
    assert page.status == 422 and list(page.json()["error"]["details"]) == ["locale"]


def test_the_embed_page_is_in_the_storys_language_and_direction(listeners, live_server):
    token = viewer_token(live_server, listeners.secret_key, "dee")
    page = http("GET", f"{live_server.url}/embed/year-in-music?token={token}").body.decode()
    assert '<html lang="ar-EG" dir="rtl">' in page
    page = http("GET", f"{live_server.url}/embed/year-in-music?token={token}&locale=de").body.decode()
    assert '<html lang="de" dir="ltr">' in page and 'data-locale="de"' in page
    assert '"locale": "de"' in page or '"locale":"de"' in page  # the story in the page is in it too


def test_a_built_story_is_served_only_in_the_locale_its_user_has_now(listeners, live_server, runner):
    result = runner.invoke(args=["stories", "build", "--inline", "year-in-music", "--app", "Soundwave",
                                 "--now", NOW.date().isoformat()])
    assert result.exit_code == 0, result.output
    with database.connection_context():
        built = assemble_story(listeners.app_id, "year-in-music", "cy", now=NOW)
        assert (built["source"], built["locale"]) == ("precomputed", "es")
        assert assemble_story(listeners.app_id, "year-in-music", "cy", now=NOW, locale="fr")["locale"] == "fr"
    send(live_server, listeners.write_key, plays("cy", 1, locale="fr-CA", start=f"{YEAR}-07-01T12:00:00"))
    with database.connection_context():
        now = assemble_story(listeners.app_id, "year-in-music", "cy", now=NOW)
    assert (now["source"], now["locale"]) == ("on_demand", "fr-CA")


def test_the_apps_default_locale_is_a_setting(app, runner):
    assert runner.invoke(args=["apps", "create", "Lingo"]).exit_code == 0
    assert "locale: en-GB" in runner.invoke(args=["apps", "show", "--app", "Lingo"]).output
    result = runner.invoke(args=["apps", "update", "--app", "Lingo", "--locale", "tr_tr"])
    assert result.exit_code == 0, result.output
    assert "locale: tr-TR" in runner.invoke(args=["apps", "show", "--app", "Lingo"]).output
    refused = runner.invoke(args=["apps", "update", "--app", "Lingo", "--locale", "klingon"])
    assert refused.exit_code != 0 and "not a locale" in refused.output


@pytest.mark.parametrize(("tag", "chain"), [("pt-BR", ("pt-BR", "pt")), ("ja", ("ja",)),
                                            ("zh-Hant-TW", ("zh-Hant-TW", "zh-Hant", "zh"))])
def test_translations_are_looked_for_down_the_chain(tag, chain):
    assert locales.chain(tag) == chain
