"""Frames: sandboxed expressions, plain-text output, missing data, fallbacks, stable variants,
buttons and media URLs — assembled from events sent through the real ingest."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from story_schema import story_problems

from helpers.server import make_tenant
from helpers.story import NOW, app_template, identify, ms, send, track
from widget_server.engine import assemble_story
from widget_server.store.db import database

HEADER = """
id = "probe"
title = "Probe"
[period]
kind = "year"
cutoff = "11-15"
[metrics.plays]
kind = "count"
event = "Song Played"
[metrics.top]
kind = "top"
event = "Song Played"
property = "artist"
[metrics.likes]
kind = "top"
event = "Song Liked"
property = "artist"
[card]
title = "Card for {{ user.id }}"
"""

XSS = '<img src=x onerror="alert(1)">'


@pytest.fixture
def soundwave(app, live_server):
    tenant = make_tenant("Soundwave", deep_link_scheme="soundwave")
    start = ms("2026-02-01T12:00:00")
    send(live_server, tenant.write_key, [
        identify("ana", {"name": "Ana <b>Lima</b>", "photo_url": "javascript:alert(1)"}, start),
        *[track("ana", "Song Played", start + i * 86_400_000, {"artist": XSS if i % 2 else "Mitski"})
          for i in range(6)],
    ])
    return tenant


def story_with(app, tenant, frames: str, user: str = "ana", header: str = HEADER) -> dict:
    app_template(app.instance_path, tenant.app_id, "probe", header + frames)
    with database.connection_context():
        story = assemble_story(tenant.app_id, "probe", user, now=NOW, fresh=True)
    assert story_problems(story) == []
    return story


def frame_ids(story: dict) -> list[str]:
    return [f["id"] for f in story["frames"]]


@pytest.mark.parametrize("expression", [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ plays.__class__.__base__ }}",
    "{{ top.__class__.__init__.__globals__ }}",
    "{{ user.traits.__class__.__dict__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ self._TemplateReference__context }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{% for k in range(10**9) %}{% endfor %}",
    "{{ ('x' * 10**7) | length }}",  # work and memory are bounded: no 10 MB string for one title
    "{{ ([0] * 10**7) | length }}",
    "{{ (7 ** 100000) % 10 }}",
])
def test_expressions_cannot_reach_python_internals(app, soundwave, expression):
    story = story_with(app, soundwave, f'[[frames]]\nid = "evil"\nkind = "text"\ntitle = "{expression}"\n'
                                       '[[frames]]\nid = "fine"\nkind = "text"\ntitle = "{{ plays }} plays"\n')
    assert frame_ids(story) == ["fine", "card"]
    text = json.dumps(story)
    assert "class" not in text and "globals" not in text


def test_unsafe_condition_counts_as_false(app, soundwave):
    story = story_with(app, soundwave, '[[frames]]\nid = "x"\nkind = "text"\nwhen = "\'\'.__class__"\ntitle = "hi"\n')
    assert frame_ids(story) == ["card"]


def test_text_is_plain_and_markup_from_events_stays_text(app, soundwave):
    story = story_with(app, soundwave, '[[frames]]\nid = "who"\nkind = "list"\ntitle = "Hi {{ user.name }} & co"\n'
                                       'list = { metric = "top" }\n')
    frame = story["frames"][0]
    assert frame["title"] == "Hi Ana <b>Lima</b> & co"  # plain text, not &lt;b&gt; nor markup
    assert XSS in [item["label"] for item in frame["items"]]


def test_missing_data_skips_the_frame_or_uses_its_fallback(app, soundwave):
    story = story_with(app, soundwave, """
[[frames]]
id = "liked"
kind = "list"
title = "You liked"
list = { metric = "likes" }
[[frames]]
id = "undefined"
kind = "text"
title = "{{ likes[0].label }}"
[[frames]]
id = "liked-or-not"
kind = "list"
title = "You liked"
list = { metric = "likes" }
  [frames.fallback]
  kind = "text"
  title = "No likes yet. Tap the heart next time!"
""")
    assert frame_ids(story) == ["liked-or-not", "card"]
    assert story["frames"][0]["kind"] == "text" and story["frames"][0]["items"] is None
    assert story["frames"][0]["title"].startswith("No likes yet")


def test_the_first_fallback_whose_when_holds_and_whose_data_is_there_is_shown(app, soundwave):
    """Ana played 6 songs and liked none: not a heavy listener (the first fallback's when), the
    second's data is missing (a like she never gave), the third reads her plays."""
    story = story_with(app, soundwave, """
[[frames]]
id = "liked"
kind = "list"
title = "You liked"
list = { metric = "likes" }
  [[frames.fallback]]
  kind = "text"
  when = "plays >= 100"
  title = "{{ plays }} plays and not one like?"
  [[frames.fallback]]
  kind = "text"
  title = "Your one like: {{ likes[0].label }}"
  [[frames.fallback]]
  kind = "stat"
  when = "plays > 0"
  title = "No likes yet"
  stat = { value = "{{ plays }}", unit = "plays" }
  [[frames.fallback]]
  kind = "text"
  title = "Nothing to see"
[[frames]]
id = "quiet"
kind = "list"
list = { metric = "likes" }
  [frames.fallback]
  kind = "text"
  when = "plays == 0"
  title = "Press play!"
""")
    assert frame_ids(story) == ["liked", "card"]
    frame = story["frames"][0]
    assert (frame["kind"], frame["title"], frame["stat"]["value"]) == ("stat", "No likes yet", "6")


def test_a_missing_value_skips_the_text_instead_of_printing_none(app, soundwave):
    story = story_with(app, soundwave, """
[[frames]]
id = "first-like"
kind = "text"
title = "First like on {{ first_like }}"
[[frames]]
id = "first-play"
kind = "text"
title = "First play on {{ first_play.date }}"
[metrics.first_like]
kind = "first"
event = "Song Liked"
[metrics.first_play]
kind = "first"
event = "Song Played"
""")
    assert frame_ids(story) == ["first-play", "card"]
    assert "None" not in json.dumps(story)


def test_top_by_sum_leaves_out_events_without_the_summed_property(app, soundwave, live_server):
    send(live_server, soundwave.write_key, [track("ana", "Song Played", ms("2026-03-01T12:00:00"),
                                                  {"artist": "Mitski", "ms_played": 90_000})])
    story = story_with(app, soundwave, """
[[frames]]
id = "time"
kind = "list"
list = { metric = "top_time" }
[metrics.top_time]
kind = "top"
event = "Song Played"
property = "artist"
by = "sum"
sum_property = "ms_played"
""")
    assert [i["label"] for i in story["frames"][0]["items"]] == ["Mitski"]


def test_a_tier_or_rule_over_a_value_that_is_not_a_number_does_not_fail_the_story(app, soundwave):
    story = story_with(app, soundwave, """
[[frames]]
id = "level"
kind = "text"
title = "{{ level }}"
[metrics.mood]
kind = "derived"
expr = "'calm'"
[metrics.level]
kind = "tier"
of = "mood"
tiers = [{ min = 1, label = "fan" }]
""")
    assert frame_ids(story) == ["card"]


@pytest.mark.parametrize("raw", ["user.name.upper", "range(plays)", "plays * 1e308 * 10", "top"])
def test_a_stat_whose_raw_value_is_not_json_falls_back(app, soundwave, raw):
    """A raw value no JSON holds (a method, a range, an infinity, a list that is fine but not a
    stat) fails the frame, not the story: it answered 500 for this user, and failed their build."""
    story = story_with(app, soundwave, f"""
[[frames]]
id = "odd"
kind = "stat"
stat = {{ value = "{{{{ plays }}}}", raw = "{raw}" }}
fallback = {{ kind = "text", title = "Plenty" }}
""")
    frame = next(f for f in story["frames"] if f["id"] == "odd")
    assert frame["kind"] == "text" and frame["title"] == "Plenty"
    json.loads(json.dumps(story, allow_nan=False))


def test_the_card_keeps_the_first_four_stats_that_render(app, soundwave):
    """What the share image and the player's card both show: a stat whose when fails makes room."""
    stats = ([f'{{ label = "s{i}", value = "{i}" }}' for i in range(2)]
             + ['{ label = "no", value = "x", when = "plays > 99" }']
             + [f'{{ label = "s{i}", value = "{i}" }}' for i in range(2, 5)])
    header = HEADER.replace('title = "Card for {{ user.id }}"', f'title = "Card"\nstats = [{", ".join(stats)}]')
    story = story_with(app, soundwave, '[[frames]]\nid = "a"\nkind = "text"\ntitle = "a"\n', header=header)
    assert [s["label"] for s in story["card"]["stats"]] == ["s0", "s1", "s2", "s3"]


def test_card_fields_that_cannot_be_rendered_are_left_out(app, soundwave):
    header = HEADER.replace('[card]\n', '[card]\nsubtitle = "Loved: {{ likes[0].label }}"\n'
                                         'footer = "{{ likes[0].label }}"\n'
                                         'list = { title = "{{ likes[0].label }}", metric = "names" }\n')
    story = story_with(app, soundwave, '[[frames]]\nid = "plays"\nkind = "text"\ntitle = "{{ plays }} plays"\n'
                                       '[metrics.names]\nkind = "derived"\nexpr = "[\'Mitski\', \'Björk\']"\n',
                       header=header)
    card = story["card"]
    assert card["title"] == "Card for ana" and card["subtitle"] is None and card["footer"] == "Soundwave"
    assert card["list"] == {"title": "", "items": ["Mitski", "Björk"]}


def test_media_and_buttons_only_carry_safe_urls(app, soundwave):
    story = story_with(app, soundwave, """
[[frames]]
id = "photo"
kind = "image"
title = "You"
media = { src = "{{ user.traits.photo_url }}", alt = "you" }
[[frames]]
id = "gif"
kind = "gif"
title = "Party"
media = { src = "https://media.example/party.gif", alt = "party" }
  [[frames.buttons]]
  id = "deep"
  label = "Open {{ top[0].label }}"
  action = "deep_link"
  href = "soundwave://artist/{{ top[0].label | urlencode }}"
  [[frames.buttons]]
  id = "wrong-scheme"
  label = "Bad"
  action = "deep_link"
  href = "javascript:alert(1)"
  [[frames.buttons]]
  id = "js"
  label = "Bad"
  action = "url"
  href = "javascript:alert(1)"
  [[frames.buttons]]
  id = "log"
  label = "Save"
  action = "event"
  event = "Story Saved"
  properties = { from = "story" }
""")
    assert frame_ids(story) == ["gif", "card"]  # the javascript: photo is not a picture
    buttons = {b["id"]: b for b in story["frames"][0]["buttons"]}
    assert set(buttons) == {"deep", "log"}
    # A tie (3 plays each) goes to the label that sorts first; the markup is URL-encoded.
    assert buttons["deep"]["href"] == "soundwave://artist/" + quote(XSS, safe="")
    assert buttons["log"] == {"id": "log", "label": "Save", "action": "event", "href": None,
                              "event": "Story Saved", "properties": {"from": "story"}}
    assert story["frames"][-1]["buttons"][0]["action"] == "share"


def test_variants_are_stable_per_user_and_vary_between_users(app, soundwave, live_server):
    send(live_server, soundwave.write_key,
         [track(f"user{i}", "Song Played", ms("2026-03-01T10:00:00"), {"artist": "A"}) for i in range(12)])
    frames = '[[frames]]\nid = "v"\nkind = "text"\ntitle = ["one", "two", "three", "four"]\n'
    first = story_with(app, soundwave, frames, "user1")["frames"][0]["title"]
    assert all(story_with(app, soundwave, frames, "user1")["frames"][0]["title"] == first for _ in range(3))
    seen = {story_with(app, soundwave, frames, f"user{i}")["frames"][0]["title"] for i in range(12)}
    assert len(seen) >= 2


def test_learning_recap_shows_the_users_photo_or_falls_back(app, live_server):
    tenant = make_tenant("Lingo")
    start = ms("2026-05-01T08:00:00")
    lessons = [track(u, "Lesson Completed", start + i * 86_400_000,
                     {"lesson_id": f"l{i}", "lesson": f"Lesson {i}", "course": "Spanish", "points": 10,
                      "duration_s": 300, "score": 90}) for u in ("pia", "raj") for i in range(4)]
    send(live_server, tenant.write_key, lessons + [
        identify("pia", {"name": "Pia", "photo_url": "/v1/uploads/abc.jpg"}, start),
        identify("raj", {"name": "Raj"}, start)])
    with database.connection_context():
        pia = assemble_story(tenant.app_id, "learning-recap", "pia", now=NOW)
        raj = assemble_story(tenant.app_id, "learning-recap", "raj", now=NOW)
    assert pia["frames"][0]["kind"] == "image" and pia["frames"][0]["media"]["src"] == "/v1/uploads/abc.jpg"
    assert pia["card"]["image"] == "/v1/uploads/abc.jpg"
    assert raj["frames"][0]["kind"] == "text" and raj["frames"][0]["id"] == "intro"
    assert raj["card"]["image"] is None
    assert story_problems(pia) == [] and story_problems(raj) == []


def test_a_list_under_its_min_items_uses_its_fallback_or_is_skipped(app, soundwave, live_server):
    send(live_server, soundwave.write_key, [
        track("ana", "Song Liked", ms("2026-03-01T10:00:00"), {"artist": "Mitski"}),
        *[track("bo", "Song Played", ms("2026-03-01T10:00:00"), {"artist": "Björk"}) for _ in range(2)]])
    frames = """
[[frames]]
id = "artists"
kind = "list"
title = "Your top artists"
list = { metric = "top", min_items = 2 }
  [frames.fallback]
  kind = "text"
  title = "All {{ plays }} plays, one artist: {{ top[0].label }}."
[[frames]]
id = "liked"
kind = "list"
title = "You liked"
list = { metric = "likes", min_items = 2 }
"""
    ana = story_with(app, soundwave, frames)  # two artists: a list; one liked artist: no list
    assert frame_ids(ana) == ["artists", "card"] and len(ana["frames"][0]["items"]) == 2
    bo = story_with(app, soundwave, frames, user="bo")
    assert frame_ids(bo) == ["artists", "card"]
    assert bo["frames"][0]["kind"] == "text" and bo["frames"][0]["title"] == "All 2 plays, one artist: Björk."


def test_a_top_list_in_order_recent_ranks_the_latest_first(app, soundwave, live_server):
    earned = ["First Steps", "Night Owl", "1,000 Points Club", "Week Warrior"]  # in the order earned
    send(live_server, soundwave.write_key, [
        track("cy", "Badge Earned", ms("2026-03-01T10:00:00") + i * 86_400_000, {"badge": badge})
        for i, badge in enumerate(earned)])
    header = HEADER + """
[metrics.held]
kind = "distinct"
event = "Badge Earned"
property = "badge"
[metrics.newest]
kind = "top"
event = "Badge Earned"
property = "badge"
order = "recent"
n = 3
"""
    story = story_with(app, soundwave, """
[[frames]]
id = "badges"
kind = "list"
title = "{{ held }} badges"
list = { metric = "newest", limit = 3 }
""", user="cy", header=header)
    frame = story["frames"][0]
    assert frame["title"] == "4 badges"  # not alphabetical ("1,000 Points Club" first), not by count (all 1)
    assert [item["label"] for item in frame["items"]] == ["Week Warrior", "1,000 Points Club", "Night Owl"]


def test_a_record_days_label_is_the_day_as_the_date_filter_writes_it(app, soundwave):
    header = HEADER + '[metrics.best]\nkind = "record_day"\nevent = "Song Played"\n'
    story = story_with(app, soundwave, """
[[frames]]
id = "best"
kind = "text"
title = "{{ best.label }}, a {{ best.weekday }}: {{ best.date | date }}"
""", header=header)
    # Six plays, one a day from 1 February: the earliest of the equal days is the record.
    assert story["frames"][0]["title"] == "1 February, a Sunday: 1 February"  # was "February 1"
