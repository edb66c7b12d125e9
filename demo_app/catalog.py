"""The demo's fictional worlds: a music catalogue with skewed popularity, and language courses.

Everything is built from a seed, so the same seed gives the same artists, songs and lessons.
Names are invented (no real artists), with a few accents and an ampersand so that escaping
and Unicode are exercised all the way to the card.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import accumulate

GENRES = ("pop", "indie", "hip-hop", "electronic", "rock", "jazz", "r&b", "folk", "latin", "classical")

# (artist, genre); the order is the global popularity rank before shuffling within genres.
ARTISTS = (
    ("Luna Park", "pop"), ("Neon Harbour", "electronic"), ("The Velvet Foxes", "indie"),
    ("Mara Solé", "latin"), ("Kofi Blaze", "hip-hop"), ("Åsa Nordlys", "folk"),
    ("Midnight Arcade", "electronic"), ("Juniper Vale", "pop"), ("Static Gardens", "rock"),
    ("Zoë & the Comets", "indie"), ("Ruby Okafor", "r&b"), ("The Quiet Hours", "jazz"),
    ("Paper Lanterns", "folk"), ("DJ Kestrel", "electronic"), ("Iron Tide", "rock"),
    ("Señorita Luz", "latin"), ("Blue Arbor", "jazz"), ("Tomasz Wren", "classical"),
    ("Glass Animals Club", "indie"), ("Nova Reyes", "pop"), ("Lil Orbit", "hip-hop"),
    ("Cellar Door", "rock"), ("Hana Mori", "pop"), ("The Lighthouse Keepers", "folk"),
    ("Velvetine", "r&b"), ("Orchestra of Small Rooms", "classical"), ("Baile Norte", "latin"),
    ("Sundial", "electronic"), ("Marlowe Fitz", "jazz"), ("Crown Street", "hip-hop"),
    ("Échos", "electronic"), ("Wildflower Motel", "indie"), ("Rosa Valdés", "latin"),
    ("Grey Cardinal", "rock"), ("Sable", "r&b"), ("Ivo Brandt", "classical"),
    ("Moth & Lantern", "folk"), ("Tidal Youth", "pop"), ("Kaito Sun", "electronic"),
    ("The Understudies", "indie"), ("MC Parallax", "hip-hop"), ("Amber Quay", "jazz"),
    ("Northbound", "rock"), ("Lotus Avenue", "r&b"), ("Cantina Azul", "latin"),
    ("Ellis Marlow", "folk"), ("Pixel Saints", "electronic"), ("Coral Days", "pop"),
)

_WORDS_A = ("Golden", "Electric", "Paper", "Silver", "Midnight", "Summer", "Broken", "Neon", "Quiet",
            "Wild", "Velvet", "Northern", "Lonely", "Crystal", "Burning", "Faded", "Secret", "Endless")
_WORDS_B = ("Hearts", "Skies", "Lights", "Rivers", "Dreams", "Streets", "Waves", "Echoes", "Roses",
            "Signals", "Horizons", "Shadows", "Letters", "Tides", "Mornings", "Machines", "Voices")
_SINGLE = ("Ocean Drive", "Stay", "Runaway", "Polaroid", "Afterglow", "Satellite", "Fever",
           "Holding On", "Better Days", "Home", "Slow Motion", "Gravity", "Wildfire", "Daydream",
           "Café Noir", "Mañana", "Overthinking", "Last Train", "Sunday Light", "Nightswim")


@dataclass(frozen=True)
class Song:
    song_id: str
    title: str
    artist: str
    album: str
    genre: str
    duration_ms: int


@dataclass
class Catalog:
    """Songs with Zipf-like popularity, overall and within each genre."""

    songs: list[Song]
    cum_weights: list[float]                 # over all songs, for random.choices
    by_genre: dict[str, tuple[list[Song], list[float]]]
    by_artist: dict[str, list[Song]]

    def pick(self, rng: random.Random, genre: str | None = None) -> Song:
        songs, cum = self.by_genre[genre] if genre else (self.songs, self.cum_weights)
        return rng.choices(songs, cum_weights=cum)[0]


def build_catalog(seed: int, songs_per_artist: int = 14) -> Catalog:
    """A catalogue whose artist and song popularity both fall off as 1/rank^s."""
    rng = random.Random(f"catalog:{seed}")
    artists = list(ARTISTS)
    # A light shuffle keeps the head stable but makes the seed matter.
    for i in range(len(artists) - 1):
        if rng.random() < 0.3:
            artists[i], artists[i + 1] = artists[i + 1], artists[i]

    songs: list[Song] = []
    weights: list[float] = []
    for rank, (artist, genre) in enumerate(artists, start=1):
        artist_weight = 1.0 / rank ** 1.05
        albums = [f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}" for _ in range(2)]
        titles = rng.sample(_SINGLE, 5) + [f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}"
                                           for _ in range(songs_per_artist - 5)]
        for n, title in enumerate(dict.fromkeys(titles), start=1):
            songs.append(Song(song_id=f"sw-{rank:02d}{n:02d}", title=title, artist=artist,
                              album=albums[n % 2], genre=genre,
                              duration_ms=rng.randint(140, 290) * 1000 + rng.randint(0, 999)))
            weights.append(artist_weight / n ** 0.9)

    by_genre: dict[str, tuple[list[Song], list[float]]] = {}
    for genre in GENRES:
        pairs = [(s, w) for s, w in zip(songs, weights, strict=True) if s.genre == genre]
        by_genre[genre] = ([s for s, _ in pairs], list(accumulate(w for _, w in pairs)))
    by_artist: dict[str, list[Song]] = {}
    for song in songs:
        by_artist.setdefault(song.artist, []).append(song)
    return Catalog(songs, list(accumulate(weights)), by_genre, by_artist)


PLAYLIST_NAMES = ("Morning Run", "Focus", "Rainy Day", "Road Trip", "Late Night", "Sunday Reset",
                  "Gym", "Dinner Party", "Throwbacks", "Chill", "Study Beats", "Summer 26")

# --- the learning app ---------------------------------------------------------------------------
COURSES = {
    "Spanish": ("Saludos", "En el café", "La familia", "De compras", "Viajar en tren", "El tiempo",
                "En el restaurante", "Pedir direcciones", "El trabajo", "Los verbos -ar", "Pasado simple",
                "Fiestas"),
    "French": ("Bonjour !", "Au café", "La famille", "Les nombres", "À la gare", "Le marché",
               "Les loisirs", "Le passé composé", "En ville", "Le week-end"),
    "Japanese": ("Hiragana 1", "Hiragana 2", "Greetings", "Katakana", "Numbers", "At the konbini",
                 "Counting things", "Train stations", "Polite forms", "Kanji basics"),
    "German": ("Hallo!", "Im Café", "Die Familie", "Zahlen", "Einkaufen", "Am Bahnhof", "Das Wetter",
               "Perfekt", "Freizeit"),
    "Italian": ("Ciao!", "Al bar", "La famiglia", "I numeri", "Al mercato", "In treno", "Il passato"),
    "Korean": ("Hangul 1", "Hangul 2", "Greetings", "Numbers", "At the café", "Family"),
}

BADGES = {
    "first_lesson": "First Steps",
    "streak_7": "Week Warrior",
    "streak_30": "Unstoppable (30-day streak)",
    "perfect": "Perfect Score",
    "night": "Night Owl",
    "early": "Early Bird",
    "points_1000": "1,000 Points Club",
    "course_done": "Course Complete",
    "polyglot": "Polyglot",
}

# Nobody takes a course in their own language: they learn English instead (the course they
# drew is swapped, so everyone else's draw stays as it was).
ENGLISH = ("Hello!", "At the café", "Family", "Numbers", "Shopping", "At the station", "The weather",
           "Past simple", "Free time", "Phrasal verbs")
LANGUAGE_OF_COURSE = {"Spanish": "es", "French": "fr", "Japanese": "ja", "German": "de", "Italian": "it",
                      "Korean": "ko"}

LESSON_MILESTONES = ((10, "10 lessons"), (50, "50 lessons"), (100, "100 lessons"), (250, "250 lessons"))
POINT_MILESTONES = ((500, "500 points"), (2500, "2,500 points"), (5000, "5,000 points"))

# Lingo names its courses, badges and milestones in the learner's language where it is
# translated, and sends them so (the story shows an event's property as it came): by language,
# the English name → theirs.
SHOWN_AS = {
    "es": {"Spanish": "Español", "French": "Francés", "Japanese": "Japonés", "German": "Alemán",
           "Italian": "Italiano", "Korean": "Coreano", "English": "Inglés",
           "First Steps": "Primeros pasos", "Week Warrior": "Semana completa",
           "Unstoppable (30-day streak)": "Imparable (racha de 30 días)", "Perfect Score": "Puntuación perfecta",
           "Night Owl": "Búho nocturno", "Early Bird": "Madrugador", "1,000 Points Club": "Club de los 1000 puntos",
           "Course Complete": "Curso completado", "Polyglot": "Políglota",
           "10 lessons": "10 lecciones", "50 lessons": "50 lecciones", "100 lessons": "100 lecciones",
           "250 lessons": "250 lecciones", "500 points": "500 puntos", "2,500 points": "2500 puntos",
           "5,000 points": "5000 puntos"},
    "tr": {"Spanish": "İspanyolca", "French": "Fransızca", "Japanese": "Japonca", "German": "Almanca",
           "Italian": "İtalyanca", "Korean": "Korece", "English": "İngilizce",
           "First Steps": "İlk Adımlar", "Week Warrior": "Haftanın Savaşçısı",
           "Unstoppable (30-day streak)": "Durdurulamaz (30 günlük seri)", "Perfect Score": "Tam Puan",
           "Night Owl": "Gece Kuşu", "Early Bird": "Erkenci Kuş", "1,000 Points Club": "1.000 Puan Kulübü",
           "Course Complete": "Kurs Tamamlandı", "Polyglot": "Çok Dilli",
           "10 lessons": "10 ders", "50 lessons": "50 ders", "100 lessons": "100 ders", "250 lessons": "250 ders",
           "500 points": "500 puan", "2,500 points": "2.500 puan", "5,000 points": "5.000 puan"},
}


def shown_as(name: str, locale: str) -> str:
    """A course's, badge's or milestone's name as a learner reading ``locale`` sees it."""
    return SHOWN_AS.get(locale.split("-")[0], {}).get(name, name)
