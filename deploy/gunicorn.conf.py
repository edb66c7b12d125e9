"""gunicorn settings for Recap, named by README.md's production command (``-c deploy/gunicorn.conf.py``).

The workers count their metrics together (prometheus_client's multiprocess mode, docs/OPERATIONS.md):
each worker writes its counters to files in ``PROMETHEUS_MULTIPROC_DIR`` and ``GET /metrics`` sums
the files of all of them. gunicorn reads this file in its master before it loads the app, so the
variable is set before any process imports prometheus_client. Unless the operator set it, the
folder is a fresh private one per start (counters start at zero with the server, as Prometheus
expects of a restart) and is removed when the master exits.

No ``child_exit`` hook: the files of a worker that exited hold what it counted, which the totals
must keep (prometheus_client's ``mark_process_dead`` only concerns live gauges, and Recap's
gauges are read at the scrape instead).
"""
import os
import shutil
import tempfile

PREFIX = "recap-metrics-"

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=PREFIX)


def on_exit(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if os.path.dirname(folder) == tempfile.gettempdir() and os.path.basename(folder).startswith(PREFIX):
        shutil.rmtree(folder, ignore_errors=True)
