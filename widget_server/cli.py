"""The ``recap`` command: Flask's command line over the app factory, plus Recap's own groups."""
from __future__ import annotations

import click
from flask.cli import FlaskGroup

from . import create_app


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_version_option=False,
             load_dotenv=False, set_debug_flag=False)
def main() -> None:
    """Recap: Wrapped-style stories for any app.

    Configuration comes from RECAP_* environment variables: RECAP_INSTANCE_PATH (the folder for
    the database, signing keys and caches), RECAP_DATABASE_URL, RECAP_SECRET_KEYS and
    RECAP_PUBLIC_BASE_URL.

    \b
    Start here:
      recap apps create "My App"     make an app and print its keys (once)
      recap run --port 8000          serve ingest, stories, sharing and the player
    """
