"""The demo host: a stand-in for each app's own web front end, embedding its users' stories.

It does what an app's back end does: it holds the secret key, swaps it server-side for a
short-lived viewer token for the signed-in user (``POST /v1/viewer-tokens``) and puts only that
token in the page, in the embed URL of an iframe (the WebView way). The secret key never
reaches the browser.
"""
from __future__ import annotations

import json
import urllib.request

from flask import Flask, abort, render_template_string

from . import learning, music
from .instance import DemoApp

BRANDS = {"music": music.BRAND, "learning": learning.BRAND}

INDEX = """<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Recap demo</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}</style>
<h1>Recap demo</h1>
<p>Two apps, one story engine. Pick a user to open their story as the app would show it.</p>
{% for app in apps %}<h2>{{ app.name }} <small>({{ app.template }})</small></h2><ul>
{% for user in users[app.kind] %}<li><a href="{{ url_for('story', kind=app.kind, user_id=user) }}">{{ user }}</a></li>
{% endfor %}</ul>{% endfor %}
"""

PAGE = """<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ app.name }}</title>
<style>
  html,body{margin:0;height:100%;background:{{ brand.background }};color:{{ brand.foreground }};
    font:16px/1.4 system-ui,sans-serif}
  header{display:flex;align-items:center;justify-content:space-between;padding:.75rem 1rem}
  header b{color:{{ brand.accent }};font-size:1.2rem}
  button{font:inherit;border:0;border-radius:2rem;padding:.5rem 1rem;background:{{ brand.accent }};color:#111}
  #story{position:fixed;inset:0;border:0;width:100%;height:100%;background:#000}
  #story[hidden]{display:none}
</style>
<header><b>{{ app.name }}</b><button id="open">Your {{ year }} recap</button></header>
<main style="padding:0 1rem"><p>Signed in as {{ user_id }}.</p></main>
<iframe id="story" title="{{ app.name }} story" src="{{ embed_url }}"
        allow="web-share; clipboard-write; autoplay"></iframe>
<script>
  // The player posts a message to its host when it closes; the app then shows its own screen.
  const frame = document.getElementById('story');
  addEventListener('message', (e) => {
    if (e.source === frame.contentWindow && e.data && /close/.test(String(e.data.type || e.data))) frame.hidden = true;
  });
  document.getElementById('open').onclick = () => { frame.src = frame.src; frame.hidden = false; };
</script>
"""


def mint_viewer_token(widget_url: str, app: DemoApp, user_id: str) -> str:
    """Server to server, with the secret key: a token that shows ``user_id`` their own story only."""
    request = urllib.request.Request(
        widget_url + "/v1/viewer-tokens", method="POST", data=json.dumps({"user_id": user_id}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {app.secret_key}"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())["token"]


def create_host(widget_url: str, apps: dict[str, DemoApp], users: dict[str, list[str]], year: int) -> Flask:
    """The host site: ``/`` lists users, ``/<kind>/<user_id>`` opens that user's story."""
    host = Flask("recap_demo_host")

    @host.get("/")
    def index() -> str:
        return render_template_string(INDEX, apps=apps.values(), users=users)

    @host.get("/<kind>/<user_id>")
    def story(kind: str, user_id: str) -> tuple[str, int, dict[str, str]]:
        app = apps.get(kind)
        if app is None or len(user_id) > 200:
            abort(404)
        token = mint_viewer_token(widget_url, app, user_id)
        embed_url = f"{widget_url}/embed/{app.template}?token={token}"
        brand = BRANDS[kind]
        html = render_template_string(PAGE, app=app, brand=brand, user_id=user_id, year=year, embed_url=embed_url)
        # The page holds a token for one user: never cache it, never leak it through a Referer.
        return html, 200, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

    return host
