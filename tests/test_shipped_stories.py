"""The shipped templates read as written by a person: human dates, sentences that are English,
counts that agree with their lists, no list of one, no other company's trademark."""
from __future__ import annotations

import re

from story_schema import story_problems

from helpers.server import make_tenant
from helpers.story import NOW, identify, ms, send, track
from widget_server.engine import assemble_story
from widget_server.store.db import database

DAY = 86_400_000
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def texts(story: dict) -> list[str]:
    """Every string a viewer reads in the story: frames, their stats and items, the card."""
    out = [story["title"]]
    for frame in story["frames"]:
        out += [frame["title"], frame["subtitle"], frame["body"]]
        out += list((frame["stat"] or {}).values())
        out += [v for item in frame["items"] or [] for v in (item["label"], item["value"])]
        out += [(frame["chart"] or {}).get("caption")] + [b["label"] for b in frame["buttons"]]
    card = story["card"]
    out += [card["title"], card["subtitle"]] + [v for s in card["stats"] for v in s.values()]
    return [t for t in out if isinstance(t, str)]


def frame(story: dict, frame_id: str) -> dict:
    return next(f for f in story["frames"] if f["id"] == frame_id)


def test_year_in_music_reads_like_a_person_wrote_it(app, live_server):
    tenant = make_tenant("Soundwave", deep_link_scheme="soundwave")
    start = ms("2026-03-01T20:00:00")
    plays = [track("zara", "Song Played", start + d * DAY,  # every day from 1 March to 2 May: 63 days
                   {"song_id": "s1", "song": "Sunday Light", "artist": "The Lighthouse Keepers", "genre": "folk",
                    "ms_played": 180_000 if d < 31 else 60_000, "device": "ios"}) for d in range(63)]
    plays += [track("zara", "Song Played", ms("2026-06-10T20:00:00") + d * 3 * DAY,
                    {"song_id": "s2", "song": "Fever", "artist": "Ellis Marlow", "genre": "r&b",
                     "ms_played": 120_000, "device": "web"}) for d in range(5)]
    send(live_server, tenant.write_key, [identify("zara", {"name": "Zara Okafor"}, start), *plays])
    with database.connection_context():
        story = assemble_story(tenant.app_id, "year-in-music", "zara", now=NOW, fresh=True)
    assert story_problems(story) == []
    streak = frame(story, "streak")["stat"]
    assert (streak["value"], streak["unit"], streak["caption"]) == ("63", "days in a row", "From 1 March to 2 May.")
    assert frame(story, "peak-month")["title"] in ("Your March belonged to The Lighthouse Keepers.",
                                                    "The Lighthouse Keepers peaked in March.")
    assert frame(story, "record-day")["title"] == "Your biggest day: 1 March."
    assert [i["label"] for i in frame(story, "top-genres")["items"]] == ["Folk", "R&B"]
    assert story["card"]["title"] == "Zara's 2026 in Music"
    for text in texts(story):
        assert not ISO_DAY.search(text) and "Wrapped" not in text, text


def test_learning_recap_reads_like_a_person_wrote_it(app, live_server):
    tenant = make_tenant("Lingo")
    start = ms("2026-05-01T08:00:00")
    lessons = [track("pia", "Lesson Completed", start + d * DAY,
                     {"lesson_id": f"l{d}", "lesson": f"Lesson {d}", "course": "Spanish", "points": 20,
                      "duration_s": 600, "score": 80}) for d in range(6)]
    earned = ["First Steps", "Night Owl", "Perfect Score", "1,000 Points Club", "Early Bird", "Course Complete",
              "Week Warrior"]
    badges = [track("pia", "Badge Earned", start + d * DAY, {"badge": b}) for d, b in enumerate(earned)]
    milestones = [track("pia", "Milestone Reached", start + d * DAY, {"milestone": m})
                  for d, m in ((1, "10 lessons"), (4, "500 points"))]
    send(live_server, tenant.write_key, [identify("pia", {"name": "Pia"}, start), *lessons, *badges, *milestones])
    with database.connection_context():
        story = assemble_story(tenant.app_id, "learning-recap", "pia", now=NOW, fresh=True)
    assert story_problems(story) == []
    courses = frame(story, "courses")  # one course: no list of one, a sentence instead
    assert courses["kind"] == "text" and courses["items"] is None
    assert courses["title"] == "One course, all in: Spanish."
    shelf = frame(story, "badges")
    assert shelf["title"] in ("7 badges earned", "Your trophy shelf: 7 badges")
    assert shelf["subtitle"] == "Your six most recent."
    assert [i["label"] for i in shelf["items"]] == earned[::-1][:6]  # newest first, not alphabetical
    assert {"label": "Badges", "value": "7"} in story["card"]["stats"]
    assert story["card"]["list"]["title"] == "Your course"
    assert frame(story, "milestone")["body"] == "2 milestones this year, the latest on 5 May."
    streak = frame(story, "streak")["stat"]
    assert (streak["value"], streak["unit"], streak["caption"]) == ("6", "days in a row", "From 1 May to 6 May.")
    for text in texts(story):
        assert not ISO_DAY.search(text) and "Wrapped" not in text, text


def test_a_weekly_learner_gets_weeks_in_a_row_where_no_day_streak_shows(app, live_server):
    """A lesson every Monday and Thursday for five weeks: no two days in a row, but five weeks in
    a row (4 May was a Monday; the run's last week ends on Sunday 7 June)."""
    tenant = make_tenant("Lingo")
    start = ms("2026-05-04T18:00:00")
    lessons = [track("kai", "Lesson Completed", start + (week * 7 + day) * DAY,
                     {"lesson_id": f"l{week}{day}", "lesson": f"Lesson {week}", "course": "Spanish", "points": 20,
                      "duration_s": 600, "score": 80}) for week in range(5) for day in (0, 3)]
    send(live_server, tenant.write_key, [identify("kai", {"name": "Kai"}, start), *lessons])
    with database.connection_context():
        story = assemble_story(tenant.app_id, "learning-recap", "kai", now=NOW, fresh=True)
    assert story_problems(story) == []
    ids = [f["id"] for f in story["frames"]]
    assert "weeks" in ids and "streak" not in ids
    weeks = frame(story, "weeks")["stat"]
    assert (weeks["value"], weeks["unit"], weeks["caption"]) == (
        "5", "weeks in a row", "At least one lesson every week from 4 May to 7 June.")
