"""Soundwave's tiny website, wrapped in the SDK's WSGI middleware: page views and clicks with no
tracking code in any view. The demo browses it through real WSGI calls."""
from __future__ import annotations

import random
import secrets

from flask import Flask, abort, redirect, render_template_string, request, session, url_for
from werkzeug.test import Client as WSGIClient
from werkzeug.wrappers import Response

from sdk import Client
from sdk.autocapture import WSGIMiddleware, from_flask_session

from .catalog import Catalog
from .people import Person

PAGE = """<!doctype html><title>{{ title }} · Soundwave</title>
<h1>{{ title }}</h1>{% for song in songs %}<p><a href="{{ url_for('song', song_id=song.song_id) }}">{{ song.title }}</a>
<form method="post" action="{{ url_for('play', song_id=song.song_id) }}"><button>Play</button></form>{% endfor %}"""


def create_site(catalog: Catalog, client: Client) -> Flask:
    """The website; ``site.wsgi_app`` records every request through ``client``."""
    site = Flask("soundwave_site")
    site.secret_key = secrets.token_hex(16)
    songs = {s.song_id: s for s in catalog.songs}
    artists = {s.artist.lower().replace(" ", "-"): s.artist for s in catalog.songs}

    @site.get("/")
    def home() -> str:
        return render_template_string(PAGE, title="Trending now", songs=catalog.songs[:5])

    @site.get("/artists/<slug>")
    def artist(slug: str) -> str:
        if slug not in artists:
            abort(404)
        return render_template_string(PAGE, title=artists[slug], songs=catalog.by_artist[artists[slug]][:5])

    @site.get("/songs/<song_id>")
    def song(song_id: str) -> str:
        if song_id not in songs:
            abort(404)
        return render_template_string(PAGE, title=songs[song_id].title, songs=[songs[song_id]])

    @site.post("/songs/<song_id>/play")
    def play(song_id: str) -> Response:  # the Play button: a click, captured as its request
        return redirect(url_for("song", song_id=song_id))

    @site.get("/pricing")
    def pricing() -> str:
        return render_template_string(PAGE, title="Go Premium", songs=[])

    @site.post("/login")
    def login() -> Response:
        session["user_id"] = request.form["user_id"]
        return redirect(url_for("home"))

    site.wsgi_app = WSGIMiddleware(site.wsgi_app, client,  # type: ignore[method-assign]
                                   user_resolver=from_flask_session(site))
    return site


def browse(client: Client, catalog: Catalog, people: list[Person], seed: int, share: float = 0.3) -> int:
    """Some listeners visit the website: anonymous first (recap.js's cookie), then signed in.
    Returns the number of requests made. Responses are buffered, which closes them: the
    middleware records a request when its response is closed, as a real server does."""
    site = create_site(catalog, client)
    requests = 0
    for person in people:
        rng = random.Random(f"{seed}:{person.user_id}:web")
        if person.index != 0 and rng.random() >= share:
            continue
        browser = WSGIClient(site)
        browser.set_cookie("recap_aid", person.anonymous_id)
        # Every request here is the browser opening a page or submitting a form: navigations,
        # which are what the middleware records (fetch/XHR calls are not page views).
        headers = {"User-Agent": "Mozilla/5.0 (demo) Soundwave-web", "Sec-Fetch-Mode": "navigate",
                   "Sec-Fetch-Dest": "document", "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        song = catalog.pick(rng)
        visit = ["/", "/artists/" + song.artist.lower().replace(" ", "-"), "/songs/" + song.song_id]
        referrer = "https://search.example/"
        for path in visit:
            browser.get(path, headers={**headers, "Referer": referrer}, buffered=True)
            referrer = "http://soundwave.example" + path
        browser.post(f"/songs/{song.song_id}/play", headers={**headers, "Referer": referrer}, buffered=True)
        browser.post("/login", data={"user_id": person.user_id}, headers=headers, buffered=True)
        requests += len(visit) + 2
        if rng.random() < 0.4:
            browser.get("/pricing", headers=headers, buffered=True)
            requests += 1
    return requests
