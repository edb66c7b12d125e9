"""The ``recap`` command: Flask's command line over the app factory, plus Recap's own groups."""
from __future__ import annotations

import os
from typing import Any

import click
from flask.cli import FlaskGroup, run_command

from . import create_app


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_version_option=False,
             load_dotenv=False, set_debug_flag=False)
def main() -> None:
    """Recap: Wrapped-style stories for any app.

    Configuration comes from RECAP_* environment variables: RECAP_INSTANCE_PATH (the folder for
    the database, signing keys and caches), RECAP_DATABASE_URL, RECAP_SECRET_KEYS and
    RECAP_PUBLIC_BASE_URL (for `recap run`, its own address when unset).

    \b
    Start here:
      recap apps create "My App"     make an app and print its keys (once)
      recap run --port 8000          serve ingest, stories, sharing and the player
    """


def _local_base(host: str, port: int) -> str:
    """The base `recap run` serves at: its own address (127.0.0.1 when it listens on all)."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _run_at_own_address(**options: Any) -> None:
    # Without RECAP_PUBLIC_BASE_URL, links point at the address the server was started on, which
    # the operator chose, rather than at whatever Host header a caller sends.
    if not str(options["host"]).startswith("unix://"):
        os.environ.setdefault("RECAP_PUBLIC_BASE_URL", _local_base(options["host"], options["port"]))
    assert _flask_run is not None  # (Flask's own command has its callback)
    _flask_run(**options)


_flask_run = run_command.callback
main.add_command(click.Command("run", callback=_run_at_own_address, params=run_command.params,
                               help=run_command.help, short_help=run_command.short_help))
