"""Starting the app in several processes at the same moment, as gunicorn workers without
``--preload`` (or servers on several machines) do."""
from __future__ import annotations

import multiprocessing
import traceback


def start(config: dict, barrier, answers) -> None:
    from widget_server import create_app  # imported before the barrier: the starts race

    barrier.wait()
    try:
        app = create_app(config)
        answers.put(("started", tuple(app.config["SECRET_KEYS"])))
    except Exception:
        answers.put(("failed", traceback.format_exc()))


def start_together(configs: list[dict]) -> list[tuple[str, object]]:
    """Make the app in one process per config, all at the same moment; their answers."""
    spawn = multiprocessing.get_context("spawn")
    barrier, answers = spawn.Barrier(len(configs)), spawn.Queue()
    processes = [spawn.Process(target=start, args=(config, barrier, answers)) for config in configs]
    for process in processes:
        process.start()
    try:
        return [answers.get(timeout=60) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
