"""Soundwave, the demo music app: a year of listening, one person at a time."""
from __future__ import annotations

import random
from datetime import date, timedelta
from itertools import accumulate

from .catalog import GENRES, PLAYLIST_NAMES, Catalog, Song
from .emitter import Emitter, Tracker
from .people import Person, active_days

APP_NAME = "Soundwave"
TEMPLATE = "year-in-music"
DEEP_LINK_SCHEME = "soundwave"
BRAND = {"accent": "#1ed760", "background": "#121212", "foreground": "#ffffff"}


class Taste:
    """A listener's favourite genres and artists: most plays come from a small personal core."""

    def __init__(self, catalog: Catalog, rng: random.Random) -> None:
        self.catalog = catalog
        self.genres = rng.sample(GENRES, 3)
        self.genre_weights = [6.0, 3.0, 1.0]
        pool = [s for g in self.genres for s in catalog.by_genre[g][0]]
        artists = list(dict.fromkeys(s.artist for s in rng.sample(pool, min(len(pool), 40))))[:7]
        # The personal core: a few artists, the first much more than the rest.
        self.core: list[Song] = [s for a in artists for s in catalog.by_artist[a][:8]]
        self.core_cum = list(accumulate(1.0 / (1 + artists.index(s.artist)) ** 1.3 / (1 + n % 8) ** 0.8
                                        for n, s in enumerate(self.core)))

    def pick(self, rng: random.Random) -> Song:
        if rng.random() < 0.6:
            return rng.choices(self.core, cum_weights=self.core_cum)[0]
        if rng.random() < 0.85:
            return self.catalog.pick(rng, rng.choices(self.genres, self.genre_weights)[0])
        return self.catalog.pick(rng)


def generate(person: Person, catalog: Catalog, seed: int, end: date, client: Tracker) -> int:
    """Send one listener's year: sessions at their hours, songs, likes, playlists. Returns the count."""
    rng = random.Random(f"{seed}:{person.user_id}:music")
    out = Emitter(client, person, seed)
    taste = Taste(catalog, rng)
    hours, hour_weights = person.hours()
    liked: set[str] = set()
    signed_up = False
    sign_up_day = person.anonymous_until or person.joined

    for day in active_days(person, seed, end):
        if not signed_up and day >= sign_up_day:
            out.sign_up({"name": person.name, "plan": person.plan, "country": person.country},
                        out.at(day, 0, 0, 1))
            signed_up = True
        sessions = 1 + (rng.random() < 0.25 * person.intensity) + (rng.random() < 0.05 * person.intensity)
        for hour in sorted(rng.choices(hours, hour_weights, k=sessions)):
            when = out.at(day, hour, int(rng.random() * 40), int(rng.random() * 60))
            for _ in range(max(2, int((2 + rng.random() * 3.5) * person.intensity))):
                song = taste.pick(rng)
                skipped = rng.random() < 0.18
                played = (4_000 + int(rng.random() * 36_000) if skipped
                          else song.duration_ms - int(rng.random() * 3_000))
                out.track("Song Played", {"song_id": song.song_id, "song": song.title, "artist": song.artist,
                                          "album": song.album, "genre": song.genre, "ms_played": played,
                                          "device": person.device}, when)
                if not skipped and song.song_id not in liked and rng.random() < 0.03:
                    liked.add(song.song_id)
                    out.track("Song Liked", {"song_id": song.song_id, "song": song.title,
                                             "artist": song.artist}, when + timedelta(milliseconds=played - 500))
                when += timedelta(milliseconds=played + 200 + int(rng.random() * 3_800))
        if rng.random() < 0.012 * person.intensity:
            out.track("Playlist Created", {"playlist": rng.choice(PLAYLIST_NAMES)},
                      out.at(day, hours[0], 59, 30))
    if not signed_up:
        # Signed up but never listened: still a user with traits.
        out.sign_up({"name": person.name, "plan": person.plan, "country": person.country},
                    out.at(min(sign_up_day, end), 12, 0))
    return out.count
