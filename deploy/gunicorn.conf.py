"""gunicorn settings for Recap, named by README.md's production command (``-c deploy/gunicorn.conf.py``).

The workers count their metrics together (prometheus_client's multiprocess mode, docs/OPERATIONS.md):
each worker writes its counters to files in ``PROMETHEUS_MULTIPROC_DIR`` and ``GET /metrics`` sums
the files of all of them. gunicorn reads this file in its master before it loads the app, so the
variable is set before any process imports prometheus_client. Unless the operator set it, the
folder is a fresh private one per start (counters start at zero with the server, as Prometheus
expects of a restart), named after the master's pid: removed when the master exits, and, should
it have been killed, by the next start.

No ``child_exit`` hook: the files of a worker that exited hold what it counted, which the totals
must keep (prometheus_client's ``mark_process_dead`` only concerns live gauges, and Recap's
gauges are read at the scrape instead).
"""
import glob
import os
import shutil
import tempfile

PREFIX = os.path.join(tempfile.gettempdir(), "recap-metrics-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _ours(folder: str) -> int | None:
    """The master pid of a folder this file made, else None."""
    pid = folder[len(PREFIX):].split("-")[0] if folder.startswith(PREFIX) else ""
    return int(pid) if pid.isdigit() else None


if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    for left in glob.glob(PREFIX + "*"):  # by masters that were killed
        master = _ours(left)
        if master is not None and not _alive(master):
            shutil.rmtree(left, ignore_errors=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=f"recap-metrics-{os.getpid()}-")


def on_exit(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if _ours(folder) == os.getpid():
        shutil.rmtree(folder, ignore_errors=True)
