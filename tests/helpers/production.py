"""The recommended production setup, started for real: gunicorn exactly as README.md's
"Running the server" says, behind nginx with the shipped ``deploy/nginx-recap.conf`` filled in
with a test's own socket, port and folders. Everything started here is stopped here."""
from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

from demo_app.serving import free_port, stop_child
from helpers import debian
from helpers.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
NGINX_CONFIG = REPO / "deploy" / "nginx-recap.conf"
# What the shipped config names, replaced with a test's own.
SHIPPED_SOCKET = "server unix:/run/recap/gunicorn.sock"
SHIPPED_LISTEN = "listen 80;"


def readme_gunicorn_args() -> list[str]:
    """The options of README.md's production command line, without its bind and app."""
    text = (REPO / "README.md").read_text()
    line = next(line for line in text.splitlines() if line.startswith("gunicorn ") and "production" in line)
    args = shlex.split(line.split("#")[0])[1:-1]
    bind = args.index("-b")
    return args[:bind] + args[bind + 2:]


def nginx_binary() -> str:
    """Debian's nginx; the test is skipped with the reason where it is missing (it fails in CI:
    scripts/test.sh installs it)."""
    found = debian.binary("nginx", "/usr/sbin/nginx")
    if found is None:
        debian.missing("nginx")
    return found



def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (gunicorn's workers of a master)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _connects(address) -> bool:
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(address)
            return True
        except OSError:
            return False


class Gunicorn:
    """gunicorn with README.md's production arguments, bound to ``bind`` (a unix socket path or
    a loopback port), run from the repository as the README's command is; ``args`` replaces the
    README's arguments (the old command, for instance), ``env`` adds ``RECAP_*`` settings. The
    app's own stderr (its logs) goes to ``stderr``."""

    def __init__(self, instance: Path, bind: str | int, args: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.instance = instance
        self.bind = bind
        self.args = readme_gunicorn_args() if args is None else args
        self.extra_env = env or {}
        self.log = instance.parent / "gunicorn.log"
        self.stderr = instance.parent / "gunicorn.stderr"
        self.process: subprocess.Popen | None = None

    @property
    def address(self):
        return self.bind if isinstance(self.bind, str) else ("127.0.0.1", self.bind)

    def start(self) -> Gunicorn:
        bind = f"unix:{self.bind}" if isinstance(self.bind, str) else f"127.0.0.1:{self.bind}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RECAP_")}
        env.update(self.extra_env, RECAP_INSTANCE_PATH=str(self.instance))
        command = [sys.executable, "-m", "gunicorn", *self.args, "-b", bind,
                   "--error-logfile", str(self.log), "widget_server:create_app()"]
        with open(self.stderr, "ab") as stderr:
            self.process = subprocess.Popen(command, env=env, cwd=REPO, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=stderr)
        workers = int(self.args[self.args.index("-w") + 1]) if "-w" in self.args else 1
        wait_until(lambda: self._up(workers), 60, f"gunicorn to serve (see {self.log})")
        return self

    def _up(self, workers: int) -> bool:
        if self.process.poll() is not None:
            log = self.log.read_text()[-2000:] if self.log.exists() else "(no log)"
            raise RuntimeError(f"gunicorn exited at start: {log}")
        return len(children(self.process.pid)) >= workers and _connects(self.address)

    def workers(self) -> list[int]:
        return children(self.process.pid)

    def kill_all(self) -> None:
        """SIGKILL the master and its workers at once, as the OOM killer or a power cut would."""
        pids = [self.process.pid, *self.workers()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()
        wait_until(lambda: not any(Path(f"/proc/{p}").exists() for p in pids[1:]), 10, "its workers to die")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        pids = children(process.pid)
        stop_child(process)
        for pid in pids:  # a worker left behind by a killed master
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class Nginx:
    """Debian's nginx in the foreground with the shipped site config, filled in with
    ``upstream`` (gunicorn's socket path) and a free loopback port; ``shedding=False`` takes
    out its load shedding (the upstream's ``max_conns`` and the request-start stamp), for
    bench/overload_bench.py's comparison."""

    def __init__(self, folder: Path, upstream: str, shedding: bool = True) -> None:
        self.binary = nginx_binary()
        self.shedding = shedding
        self.folder = folder
        self.upstream = upstream
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def config(self) -> Path:
        site = NGINX_CONFIG.read_text()
        for shipped, ours in ((SHIPPED_SOCKET, f"server unix:{self.upstream}"),
                              (SHIPPED_LISTEN, f"listen 127.0.0.1:{self.port};")):
            assert site.count(shipped) == 1, f"{NGINX_CONFIG} no longer has {shipped!r} once"
            site = site.replace(shipped, ours)
        if not self.shedding:
            site, slots = re.subn(r" max_conns=\d+", "", site)
            site, stamps = re.subn(r"\n\s*proxy_set_header X-Request-Start [^\n]*", "", site)
            assert slots == stamps == 1, f"{NGINX_CONFIG} no longer sheds load as this expects"
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "recap.conf").write_text(site)
        temp = " ".join(f"{kind}_temp_path {self.folder / kind};" for kind in
                        ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # The frame Debian's /etc/nginx/nginx.conf gives a site, with this test's folders.
        main = f"""
            daemon off;
            worker_processes 1;
            pid {self.folder / 'nginx.pid'};
            error_log {self.folder / 'error.log'} warn;
            {'user root;' if os.geteuid() == 0 else ''}
            events {{ worker_connections 4096; }}
            http {{
                access_log off;
                {temp}
                include {self.folder / 'recap.conf'};
            }}
        """
        path = self.folder / "nginx.conf"
        path.write_text(re.sub(r"\n\s+", "\n", main))
        return path

    def start(self) -> Nginx:
        config = self.config()
        self.process = subprocess.Popen([self.binary, "-p", str(self.folder), "-e", str(self.folder / "error.log"),
                                         "-c", str(config)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: self.process.poll() is not None or _connects(("127.0.0.1", self.port)), 15,
                       "nginx to listen")
        except AssertionError:
            self.stop()
            raise
        if self.process.poll() is not None:
            raise RuntimeError(f"nginx exited: {self.process.stderr.read().decode()}")
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)


class Production:
    """nginx in front of gunicorn on a unix socket, as README.md recommends."""

    def __init__(self, folder: Path, shedding: bool = True) -> None:
        self.instance = folder / "instance"
        self.gunicorn = Gunicorn(self.instance, str(folder / "gunicorn.sock"))
        self.nginx = Nginx(folder / "nginx", self.gunicorn.bind, shedding)
        self.url = self.nginx.url

    def __enter__(self) -> Production:
        self.gunicorn.start()
        try:
            self.nginx.start()
        except BaseException:
            self.gunicorn.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.nginx.stop()
        finally:
            self.gunicorn.stop()
