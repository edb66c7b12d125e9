"""``recap shares``: pre-render share cards so the first viewer never waits for Pillow."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..apps.cli import find_app
from ..store.models import Share
from . import images
from .shares import now_ms

shares = AppGroup("shares", help="Work with shared cards.")


@shares.command("render")
@click.argument("template")
@click.option("--app", "app_name", help="Only this app's shares (name or id).")
@click.option("--force", is_flag=True, help="Render again even when an image is cached.")
def render(template: str, app_name: str | None, force: bool) -> None:
    """Render the images of every live share of TEMPLATE into the cache.

    Useful after a deploy that changed the card design (a new render version) or after the
    cache folder was cleared: each user's shared card is drawn before anyone asks for it.
    """
    query = Share.select().where((Share.template_id == template) & Share.revoked_at.is_null()
                                 & (Share.expires_at > now_ms()))
    if app_name:
        query = query.where(Share.app == find_app(app_name))
    found = list(query.order_by(Share.created_at))
    if not found:
        click.echo(f"No live shares of {template!r}.")
        return
    rendered = 0
    with click.progressbar(found, label=f"Rendering {len(found)} shares", show_pos=True) as bar:
        for share in bar:
            if force:
                images.forget(share.id)
            rendered += _render(share)
    click.echo(f"{len(found)} shares, {rendered} images rendered, the rest were cached.")


def _render(share: Share) -> int:
    """Put the share's images in the cache; return how many had to be drawn."""
    return sum(images.cached_file(share.id, kind, lambda: share)[1] is not None for kind in images.KINDS)
