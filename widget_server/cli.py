"""The ``recap`` command: Flask's command line over the app factory, plus Recap's own groups."""
from __future__ import annotations

import os
from typing import Any

import click
from flask.cli import FlaskGroup, ScriptInfo, run_command

from . import create_app
from .errors import RetryLater, transient_failure
from .jobs.worker import start_embedded

EX_TEMPFAIL = 75  # sysexits.h: a temporary failure; the same command may succeed later


class StoreUnavailable(click.ClickException):
    """A command stopped by a transient failure (the store locked past its timeout, a full disk):
    one line saying so, and the exit status a script can retry on, instead of a traceback."""

    exit_code = EX_TEMPFAIL

    def __init__(self, answer: RetryLater) -> None:
        super().__init__(f"{answer.message} ({answer.code}; nothing was changed by the step that failed, "
                         f"try again in {answer.retry_after} s or more)")


class RecapGroup(FlaskGroup):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            answer = transient_failure(exc)
            if answer is None:
                raise
            raise StoreUnavailable(answer) from exc


@click.group(cls=RecapGroup, create_app=lambda: create_app(), add_version_option=False,
             load_dotenv=False, set_debug_flag=False)
def main() -> None:
    """Recap: Wrapped-style stories for any app.

    Configuration comes from RECAP_* environment variables: RECAP_INSTANCE_PATH (the folder for
    the database, signing keys and caches), RECAP_DATABASE_URL, RECAP_SECRET_KEYS,
    RECAP_PUBLIC_BASE_URL (for `recap run`, its own address when unset) and RECAP_QUEUE_URL
    (the job queue: a SQLite file in the instance folder when unset, or redis://…).

    \b
    Start here:
      recap apps create "My App"     make an app and print its keys (once)
      recap run --port 8000          serve ingest, stories, sharing and the player
      recap worker --workers 2       run the queued jobs beside other servers (RECAP_QUEUE_URL)
    """


def _local_base(host: str, port: int) -> str:
    """The base `recap run` serves at: its own address (127.0.0.1 when it listens on all)."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _run_at_own_address(no_worker: bool, **options: Any) -> None:
    # Without RECAP_PUBLIC_BASE_URL, links point at the address the server was started on, which
    # the operator chose, rather than at whatever Host header a caller sends.
    if not str(options["host"]).startswith("unix://"):
        os.environ.setdefault("RECAP_PUBLIC_BASE_URL", _local_base(options["host"], options["port"]))
    # The reloader's parent only watches files; the child it starts serves, and consumes.
    serving = not options.get("reload") or os.environ.get("WERKZEUG_RUN_MAIN") == "true"
    if not no_worker and serving:
        app = click.get_current_context().ensure_object(ScriptInfo).load_app()
        if start_embedded(app) is not None:
            click.echo(" * Consuming the job queue in this process (--no-worker: leave it to `recap worker`)", err=True)
    assert _flask_run is not None  # (Flask's own command has its callback)
    _flask_run(**options)


_flask_run = run_command.callback
main.add_command(click.Command(
    "run", callback=_run_at_own_address, short_help=run_command.short_help,
    params=[*run_command.params, click.Option(["--no-worker"], is_flag=True, help=(
        "Do not consume the embedded job queue in this process (on Redis it never does: run `recap worker`)."))],
    help=(run_command.help or "") + "\n\nOn the default SQLite queue it also runs the jobs, in a thread of its own."))
