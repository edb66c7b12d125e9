"""The demo's users: who they are, where they live, the language they read, and the rhythm of their days."""
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
# By user id prefix (demo_app/instance.py): Lingo ("lg") teaches many Spanish and Turkish
# speakers, so this share of its users lives in one of these places instead.
HOMES = {"lg": (0.45, (("Europe/Madrid", "ES"), ("America/Mexico_City", "MX"), ("Europe/Istanbul", "TR")))}
_ZONES = {name: ZoneInfo(name) for name, _ in PLACES + tuple(p for _, places in HOMES.values() for p in places)}

# The language each country's users read the app in: their events' ``context.locale``, which
# the server takes as their story's locale (docs/STORIES.md, "Languages").
LOCALES = {"US": "en-US", "GB": "en-GB", "DE": "de-DE", "ES": "es-ES", "FR": "fr-FR", "JP": "ja-JP",
           "IN": "en-IN", "AU": "en-AU", "BR": "pt-BR", "MX": "es-MX", "TR": "tr-TR"}

FIRST = ("Alex", "Sam", "Maya", "Jonas", "Priya", "Leo", "Amara", "Kenji", "Sofia", "Noah", "Inès",
         "Mateo", "Chloé", "Aiko", "Omar", "Freya", "Lucas", "Zara", "Tomás", "Hannah", "Ravi",
         "Elif", "Björn", "Nia", "Diego", "Yuki", "Clara", "Kwame", "Lena", "Arjun")
LAST = ("Rivera", "Chen", "Okafor", "Müller", "Patel", "Rossi", "Nakamura", "García", "Dubois",
        "Kowalski", "Silva", "Johansson", "Haddad", "Kim", "O'Brien", "Novak", "Andersen", "Mensah")
# Names as people are called where the story is in their language (first names, family names).
LOCAL_NAMES = {
    "es": (("Lucía", "Mateo", "Valentina", "Santiago", "Sofía", "Alejandro", "Camila", "Javier", "Ximena",
            "Diego", "Carmen", "Pablo", "Guadalupe", "Andrés", "Renata", "Íñigo"),
           ("García", "Hernández", "Martínez", "López", "González", "Rodríguez", "Sánchez", "Pérez",
            "Fernández", "Ramírez", "Torres", "Núñez", "Muñoz", "Jiménez", "Castillo", "Ortega")),
    "tr": (("Zeynep", "Mehmet", "Elif", "Mustafa", "Ayşe", "Emre", "Büşra", "Oğuz", "İrem", "Çağla",
            "Burak", "Şule", "Kaan", "Gülşen", "Yiğit", "Ebru"),
           ("Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Öztürk", "Aydın", "Arslan", "Doğan",
            "Kılıç", "Aslan", "Çetin", "Koç", "Kurt", "Özdemir")),
}

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
    locale: str  # BCP 47, what their device says (context.locale on every event)
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
    showcase: bool = False  # printed by the demo: active all year, signed in, a heavy user

    @property
    def zone(self) -> ZoneInfo:
        return _ZONES[self.timezone]

    def hours(self) -> tuple[list[int], list[float]]:
        pairs = ARCHETYPES[self.archetype][1]
        return [h for h, _ in pairs], [float(w) for _, w in pairs]


@dataclass(frozen=True)
class Showcase:
    """A user the demo prints a story link and a share page for, and who they are."""

    index: int
    name: str
    timezone: str
    country: str
    locale: str
    caption: str  # what they write on their share


# User 0 of every app lives in Berlin and reads the app in English (its name is drawn as anyone's).
USER_ZERO = Showcase(0, "", "Europe/Berlin", "DE", "en-GB", "My year on {app}")
# By user id prefix (demo_app/instance.py): the others show the stories' translations.
SHOWCASES = {
    "sw": (USER_ZERO, Showcase(1, "佐藤 美咲", "Asia/Tokyo", "JP", "ja-JP", "Soundwaveで聴いた私の一年")),
    "lg": (USER_ZERO,
           Showcase(1, "Lucía Fernández", "Europe/Madrid", "ES", "es-ES", "Mi año en Lingo"),
           Showcase(2, "Zeynep Yıldız", "Europe/Istanbul", "TR", "tr-TR", "Lingo'da bir yılım")),
}


def showcases(prefix: str, count: int) -> tuple[Showcase, ...]:
    """The showcase users among an app's first ``count`` users."""
    return tuple(s for s in SHOWCASES.get(prefix, (USER_ZERO,)) if s.index < count)


def user_id(prefix: str, index: int) -> str:
    return f"{prefix}-{index:04d}"


CHURN_SHARE = 0.3  # of the users other than the showcases, who leave at some point
FADE_DAYS = 28  # a leaver uses the app less and less over this many days, then stops


def make_people(prefix: str, count: int, seed: int, start: date, end: date) -> list[Person]:
    """``count`` users; the showcase ones (``SHOWCASES``) are active all year, signed in, heavy
    users, the others drawn from the seed."""
    people = []
    span = (end - start).days
    names = list(ARCHETYPES)
    weights = [ARCHETYPES[a][0] for a in names]
    shown_ones = {s.index: s for s in showcases(prefix, count)}
    for i in range(count):
        rng = random.Random(f"{seed}:{prefix}:person:{i}")
        shown = shown_ones.get(i)
        zone, country = rng.choice(PLACES)
        archetype = rng.choices(names, weights)[0]
        # Most users were there on 1 January; the rest joined during the year.
        joined = start if rng.random() < 0.65 or i == 0 else start + timedelta(days=rng.randint(1, max(1, span - 30)))
        joined = start if shown else joined
        anonymous_until = None
        if i != 0 and rng.random() < 0.25 and not shown:
            anonymous_until = joined + timedelta(days=rng.randint(1, 21))
        anonymous_id = f"anon-{prefix}-{rng.getrandbits(48):012x}"
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        # Apart from ``rng``, so that a person's days and habits are the same wherever they live.
        local = random.Random(f"{seed}:{prefix}:home:{i}")
        share, places = HOMES.get(prefix, (0.0, ()))
        if places and local.random() < share:
            zone, country = local.choice(places)
        if shown:
            zone, country = shown.timezone, shown.country
        locale = shown.locale if shown else LOCALES[country]
        language = locale.split("-")[0]
        if shown and shown.name:
            name = shown.name
        elif language in LOCAL_NAMES:
            firsts, lasts = LOCAL_NAMES[language]
            name = f"{local.choice(firsts)} {local.choice(lasts)}"
        people.append(Person(
            index=i,
            user_id=user_id(prefix, i),
            anonymous_id=anonymous_id,
            name=name,
            timezone=zone,
            country=country,
            locale=locale,
            archetype="night_owl" if i == 0 else archetype,
            device=rng.choice(DEVICES[archetype]),
            plan="premium" if i == 0 or rng.random() < 0.4 or shown else "free",
            joined=joined,
            anonymous_until=anonymous_until,
            links_by_alias=rng.random() < 0.4,
            intensity=1.6 if i == 0 else max(1.3 if shown else 0.0, rng.lognormvariate(0, 0.45)),
            showcase=bool(shown),
        ))
        # Drawn last, so everything above is what it was before churn was planted. A leave day
        # after ``end`` is one still to come: the user is fading out as the data ends.
        if i != 0 and rng.random() < CHURN_SHARE and not shown:
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
        if not person.showcase and rng.random() < gap_chance:
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
