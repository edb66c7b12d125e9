"""A generated demo instance served by the widget server under gunicorn, as `python -m demo_app` runs it."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from demo_app.generate import generate
from demo_app.server import WidgetServer


@contextlib.contextmanager
def served_demo(instance: Path, users: int, seed: int) -> Iterator[tuple[WidgetServer, dict[str, Any], Any]]:
    """(the server, the demo apps by kind, the generator's report) for the block; stopped after it."""
    server = WidgetServer(instance).start()
    try:
        apps, report = generate(instance, users=users, seed=seed, server=server, show_progress=False)
        yield server, apps, report
    finally:
        server.stop()
