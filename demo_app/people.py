"""The demo's users: who they are, where they live, and the rhythm of their days."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

# (IANA zone, country); several continents so local hours and days differ from UTC.
PLACES = (
    ("America/New_York", "US"), ("America/Los_Angeles", "US"), ("America/Chicago", "US"),
    ("Europe/London", "GB"), ("Europe/Berlin", "DE"), ("Europe/Madrid", "ES"), ("Europe/Paris", "FR"),
    ("Asia/Tokyo", "JP"), ("Asia/Kolkata", "IN"), ("Australia/Sydney", "AU"),
    ("America/Sao_Paulo", "BR"), ("America/Mexico_City", "MX"),
)
_ZONES = {name: ZoneInfo(name) for name, _ in PLACES}

FIRST = ("Alex", "Sam", "Maya", "Jonas", "Priya", "Leo", "Amara", "Kenji", "Sofia", "Noah", "Inès",
         "Mateo", "Chloé", "Aiko", "Omar", "Freya", "Lucas", "Zara", "Tomás", "Hannah", "Ravi",
         "Elif", "Björn", "Nia", "Diego", "Yuki", "Clara", "Kwame", "Lena", "Arjun")
LAST = ("Rivera", "Chen", "Okafor", "Müller", "Patel", "Rossi", "Nakamura", "García", "Dubois",
        "Kowalski", "Silva", "Johansson", "Haddad", "Kim", "O'Brien", "Novak", "Andersen", "Mensah")

# Archetype → (weight among users, listening hours with weights, chance of a weekday / weekend
# being active when the user is "in a streak").
ARCHETYPES: dict[str, tuple[float, tuple[tuple[int, float], ...], float, float]] = {
    "night_owl": (0.22, ((21, 1), (22, 3), (23, 4), (0, 4), (1, 3), (2, 1)), 0.80, 0.85),
    "commuter": (0.28, ((7, 4), (8, 5), (17, 4), (18, 5), (12, 1), (20, 1)), 0.90, 0.35),
    "weekender": (0.18, ((10, 1), (11, 2), (13, 3), (15, 3), (16, 2), (19, 1)), 0.25, 0.95),
    "desk": (0.20, ((9, 3), (10, 4), (11, 3), (14, 4), (15, 4), (16, 2)), 0.85, 0.30),
    "early_bird": (0.12, ((5, 3), (6, 5), (7, 3), (19, 1)), 0.80, 0.70),
}
DEVICES = {"night_owl": ("iPhone", "Desktop"), "commuter": ("iPhone", "Android"),
           "weekender": ("Smart speaker", "Android"), "desk": ("Desktop", "Web"),
           "early_bird": ("Android", "Smart speaker")}


@dataclass
class Person:
    """One demo user. ``anonymous_until`` is the day they sign up (events before it are anonymous)."""

    index: int
    user_id: str
    anonymous_id: str
    name: str
    timezone: str
    country: str
    archetype: str
    device: str
    plan: str
    joined: date
    anonymous_until: date | None
    links_by_alias: bool
    intensity: float  # scales how much they use the app
    # The day they stop using the app, having faded out over the FADE_DAYS before it (None: they
    # stay). Planted so churn prediction can be checked against the truth (docs/PREDICT.md).
    leaves_on: date | None = None

    @property
    def zone(self) -> ZoneInfo:
        return _ZONES[self.timezone]

    def hours(self) -> tuple[list[int], list[float]]:
        pairs = ARCHETYPES[self.archetype][1]
        return [h for h, _ in pairs], [float(w) for _, w in pairs]


CHURN_SHARE = 0.3  # of the users other than the showcase, who leave at some point
FADE_DAYS = 28  # a leaver uses the app less and less over this many days, then stops


def make_people(prefix: str, count: int, seed: int, start: date, end: date) -> list[Person]:
    """``count`` users; user 0 is the showcase: active all year, signed in, a heavy user."""
    people = []
    span = (end - start).days
    names = list(ARCHETYPES)
    weights = [ARCHETYPES[a][0] for a in names]
    for i in range(count):
        rng = random.Random(f"{seed}:{prefix}:person:{i}")
        zone, country = rng.choice(PLACES)
        archetype = rng.choices(names, weights)[0]
        # Most users were there on 1 January; the rest joined during the year.
        joined = start if rng.random() < 0.65 or i == 0 else start + timedelta(days=rng.randint(1, max(1, span - 30)))
        anonymous_until = None
        if i != 0 and rng.random() < 0.25:
            anonymous_until = joined + timedelta(days=rng.randint(1, 21))
        people.append(Person(
            index=i,
            user_id=f"{prefix}-{i:04d}",
            anonymous_id=f"anon-{prefix}-{rng.getrandbits(48):012x}",
            name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            timezone="Europe/Berlin" if i == 0 else zone,
            country="DE" if i == 0 else country,
            archetype="night_owl" if i == 0 else archetype,
            device=rng.choice(DEVICES[archetype]),
            plan="premium" if i == 0 or rng.random() < 0.4 else "free",
            joined=joined,
            anonymous_until=anonymous_until,
            links_by_alias=rng.random() < 0.4,
            intensity=1.6 if i == 0 else rng.lognormvariate(0, 0.45),
        ))
        # Drawn last, so everything above is what it was before churn was planted. A leave day
        # after ``end`` is one still to come: the user is fading out as the data ends.
        if i != 0 and rng.random() < CHURN_SHARE:
            earliest = joined + timedelta(days=FADE_DAYS + 30)
            people[-1].leaves_on = earliest + timedelta(days=rng.randint(0, max(0, (end - earliest).days + 30)))
    return people


def active_days(person: Person, seed: int, end: date, gap_chance: float = 0.004) -> list[date]:
    """The days a person used the app: streaks and gaps from a two-state chain, weekday-aware,
    plus an occasional holiday break of one to three weeks."""
    rng = random.Random(f"{seed}:{person.user_id}:days")
    weekday_p, weekend_p = ARCHETYPES[person.archetype][2:]
    days: list[date] = []
    engaged = True
    day = person.joined
    while day <= end:
        if person.index != 0 and rng.random() < gap_chance:
            day += timedelta(days=rng.randint(7, 21))
            continue
        # Engagement persists: streaks and lulls come in runs rather than coin flips per day.
        engaged = rng.random() < (0.93 if engaged else 0.25)
        base = weekend_p if day.weekday() >= 5 else weekday_p
        chance = min(0.98, base * (1.0 if engaged else 0.15) * min(1.3, 0.7 + 0.3 * person.intensity))
        if person.leaves_on is not None:
            if day >= person.leaves_on:
                break
            chance *= min(1.0, (person.leaves_on - day).days / FADE_DAYS)
        if rng.random() < chance:
            days.append(day)
        day += timedelta(days=1)
    return days
