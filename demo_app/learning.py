"""Lingo, the demo learning app: lessons, points, badges and milestones over a year."""
from __future__ import annotations

import random
from datetime import date, timedelta

from .catalog import BADGES, COURSES, ENGLISH, LANGUAGE_OF_COURSE, LESSON_MILESTONES, POINT_MILESTONES, shown_as
from .emitter import Emitter, Tracker
from .people import Person, active_days

APP_NAME = "Lingo"
TEMPLATE = "learning-recap"
DEEP_LINK_SCHEME = "lingo"
BRAND = {"accent": "#ffb020", "background": "#1b1f3b", "foreground": "#ffffff"}


class Progress:
    """What a learner has done so far, to award badges and milestones exactly once."""

    def __init__(self) -> None:
        self.lessons = 0
        self.points = 0
        self.streak = 0
        self.last_day: date | None = None
        self.badges: set[str] = set()
        self.milestones: set[str] = set()
        self.courses_done: set[str] = set()

    def new_day(self, day: date) -> None:
        self.streak = self.streak + 1 if self.last_day == day - timedelta(days=1) else 1
        self.last_day = day


def generate(person: Person, seed: int, end: date, client: Tracker, photo_url: str | None = None) -> int:
    """Send one learner's year; returns how many events were sent."""
    rng = random.Random(f"{seed}:{person.user_id}:learning")
    out = Emitter(client, person, seed)
    language = person.locale.split("-")[0]
    courses = ["English" if LANGUAGE_OF_COURSE[c] == language else c
               for c in rng.sample(sorted(COURSES), 2 if rng.random() < 0.2 or person.showcase else 1)]
    lessons = {**COURSES, "English": ENGLISH}
    next_lesson = {c: 0 for c in courses}
    hours, hour_weights = person.hours()
    skill = rng.uniform(0.55, 0.95) if person.index else 0.9
    done = Progress()
    signed_up = False
    sign_up_day = person.anonymous_until or person.joined
    traits = {"name": person.name, **({"photo_url": photo_url} if photo_url else {})}

    def award(badge: str, when) -> None:
        if badge not in done.badges:
            done.badges.add(badge)
            out.track("Badge Earned", {"badge": shown_as(BADGES[badge], person.locale)}, when)

    def milestone(label: str, when) -> None:
        if label not in done.milestones:
            done.milestones.add(label)
            out.track("Milestone Reached", {"milestone": shown_as(label, person.locale)}, when)

    for day in active_days(person, seed, end, gap_chance=0.006):
        if not signed_up and day >= sign_up_day:
            out.sign_up(traits, out.at(day, 0, 0, 1))
            signed_up = True
        done.new_day(day)
        hour = rng.choices(hours, hour_weights)[0]
        when = out.at(day, hour, rng.randint(0, 30), rng.randint(0, 59))
        for _ in range(1 + (rng.random() < 0.3 * person.intensity) + (rng.random() < 0.1)):
            course = courses[0] if len(courses) == 1 or rng.random() < 0.7 else courses[1]
            titles = lessons[course]
            n = next_lesson[course]
            next_lesson[course] += 1
            score = max(40, min(100, round(rng.gauss(skill * 100, 9))))
            duration = rng.randint(180, 840)
            points = 10 + score // 10 + (5 if score == 100 else 0)
            when += timedelta(seconds=duration)
            unit = n // len(titles) + 1
            out.track("Lesson Completed", {
                "lesson_id": f"{course[:2].lower()}-{n + 1:03d}",
                "lesson": titles[n % len(titles)] + (f" (review {unit - 1})" if unit > 1 else ""),
                "course": shown_as(course, person.locale), "points": points, "duration_s": duration,
                "score": score}, when)
            done.lessons += 1
            done.points += points
            after = when + timedelta(seconds=2)
            if done.lessons == 1:
                award("first_lesson", after)
            if score == 100:
                award("perfect", after)
            if hour >= 22 or hour < 4:
                award("night", after)
            if 4 <= hour < 7:
                award("early", after)
            if done.streak >= 7:
                award("streak_7", after)
            if done.streak >= 30:
                award("streak_30", after)
            if done.points >= 1000:
                award("points_1000", after)
            if n + 1 == len(titles):
                done.courses_done.add(course)
                award("course_done", after)
                if len(done.courses_done) >= 2:
                    award("polyglot", after)
            for count, label in LESSON_MILESTONES:
                if done.lessons >= count:
                    milestone(label, after + timedelta(seconds=1))
            for total, label in POINT_MILESTONES:
                if done.points >= total:
                    milestone(label, after + timedelta(seconds=1))
            when += timedelta(seconds=rng.randint(20, 300))
    if not signed_up:
        out.sign_up(traits, out.at(min(sign_up_day, end), 12, 0))
    return out.count
