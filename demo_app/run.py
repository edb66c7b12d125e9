"""Serving the demo: the widget server, the host page, shares of the showcase users' stories."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .host import create_host, mint_viewer_token
from .instance import DemoApp, read_state, write_state
from .people import showcases, user_id
from .server import ServerError
from .serving import WSGIInThread, port_is_free


@dataclass
class Share:
    url: str
    images: dict[str, str]


class HostSite(WSGIInThread):
    """The host page under werkzeug's threaded server (a stand-in app's site; one thread each
    request is plenty for a demo), in a daemon thread of this process."""

    def __init__(self, widget_url: str, apps: dict[str, DemoApp], users: dict[str, list[str]], year: int,
                 port: int = 0) -> None:
        if port and not port_is_free(port):
            raise ServerError(f"port {port} on 127.0.0.1 is in use; pick another with --port")
        super().__init__(create_host(widget_url, apps, users, year), port, name="demo-host")


def story_url(host_url: str, app: DemoApp, user_id: str | None = None) -> str:
    return f"{host_url}/{app.kind}/{user_id or app.showcase_user}"


def _still_served(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def share_story(widget_url: str, app: DemoApp, user_id: str, caption: str | None = None) -> Share:
    """What the player's Share button does: freeze the user's card into a public share page."""
    token = mint_viewer_token(widget_url, app, user_id)
    body = {"template": app.template, **({"caption": caption} if caption else {})}
    request = urllib.request.Request(widget_url + "/v1/shares", method="POST", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        answer = json.loads(reply.read())
    return Share(answer["url"], answer["images"])


def showcase_shares(instance: Path, widget_url: str, apps: dict[str, DemoApp], users: int) -> dict[str, Share]:
    """A share for each showcase user (demo_app/people.py) among an app's first ``users``, by user
    id, each with its caption in its user's language; reused across runs while its page still answers."""
    state = read_state(instance)
    saved = state.get("shares", {})
    shares: dict[str, Share] = {}
    for app in apps.values():
        for shown in showcases(app.prefix, users):
            uid = user_id(app.prefix, shown.index)
            known = saved.get(uid)
            if known and known.get("url", "").startswith(widget_url + "/") and _still_served(known["url"]):
                shares[uid] = Share(known["url"], known.get("images", {}))
                continue
            shares[uid] = share_story(widget_url, app, uid, caption=shown.caption.format(app=app.name))
    state["shares"] = {uid: {"url": s.url, "images": s.images} for uid, s in shares.items()}
    write_state(instance, state)
    return shares
