"""``python -m demo_app``: generate the two demo apps' year through the SDK, then serve their stories."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path

from . import churn
from .generate import Report, generate, year_window
from .instance import DemoApp
from .notifications import announce_release
from .people import showcases, user_id
from .run import HostSite, showcase_shares, story_url
from .server import ServerError, WidgetServer
from .terminal_qr import print_qr


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demo_app",
        description="Recap's demo: a music app (Soundwave) and a learning app (Lingo) with a year of "
                    "events sent through the Python SDK, served with their stories and share pages.")
    parser.add_argument("--users", type=int, default=300, help="users per app (default: 300)")
    parser.add_argument("--seed", type=int, default=7,
                        help="random seed; the same seed gives the same data (default: 7)")
    parser.add_argument("--port", type=int, default=8000,
                        help="widget server port on 127.0.0.1; the demo host page uses the next one (default: 8000)")
    parser.add_argument("--instance", type=Path, default=Path("instance/demo"),
                        help="instance folder: SQLite database, keys, uploads (default: instance/demo)")
    parser.add_argument("--no-serve", action="store_true", help="only generate the data, then exit")
    parser.add_argument("--force", action="store_true",
                        help="send every event again even if this seed was generated already "
                             "(the server keeps one copy)")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= 100_000:
        parser.error("--users must be between 1 and 100000")
    if not 0 < args.port < 65535:
        parser.error("--port must be between 1 and 65534")
    return args


def say(text: str = "") -> None:
    print(text, flush=True)


def describe(report: Report, instance: Path) -> None:
    if report.skipped:
        say(f"Data for seed {report.seed} and {report.users} users through {report.through} is already in "
            f"{instance} (use --force to send it again).")
        return
    total = sum(report.sent.values()) + report.web_requests
    say(f"Sent {total:,} events in {report.seconds:.1f} s ({total / max(report.seconds, 1e-9):,.0f}/s) through "
        f"the SDK: {report.sent.get('music', 0):,} Soundwave, {report.sent.get('learning', 0):,} Lingo, "
        f"{report.web_requests} web requests captured by the WSGI middleware, {report.photos} photos uploaded.")
    say(f"Delivered: {sum(report.delivered.values()):,}; dropped: {sum(report.dropped.values())}.")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    instance = args.instance.resolve()
    # Stop cleanly (the widget server with us) on Ctrl-C or a plain `kill`, also when started in
    # the background, where the shell leaves SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server = WidgetServer(instance, port=0 if args.no_serve else args.port).start()
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        apps, report = generate(instance, users=args.users, seed=args.seed, server=server)
        describe(report, instance)
        for line in churn.check(instance, apps, args.users, args.seed, *year_window()):
            say(line)
        if args.no_serve:
            return 0
        return serve(instance, server, apps, args)
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        say("\nStopped.")
        return 130
    finally:
        server.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(instance: Path, server: WidgetServer, apps: dict[str, DemoApp], args: argparse.Namespace) -> int:
    users = {kind: [f"{app.prefix}-{i:04d}" for i in range(min(args.users, 8))] for kind, app in apps.items()}
    host = HostSite(server.url, apps, users, year_window()[1].year, port=args.port + 1).start()
    try:
        shares = showcase_shares(instance, server.url, apps, args.users)
        say()
        say(f"Widget server (gunicorn, 2 gthread workers): {server.url}   log: {server.log_path}")
        say(f"Demo host page (werkzeug, threaded):         {host.url}/")
        say()
        for app in apps.values():
            for shown in showcases(app.prefix, args.users):
                uid = user_id(app.prefix, shown.index)
                who = f"{uid}, {shown.name}" if shown.name else uid
                say(f"{app.name} story ({app.template}) in {shown.locale} for {who}:")
                say(f"  {story_url(host.url, app, uid)}")
        for app in apps.values():
            for shown in showcases(app.prefix, args.users):
                uid = user_id(app.prefix, shown.index)
                say(f"{app.name} share page ({shown.locale}, {uid}):  {shares[uid].url}")
        told = announce_release(instance, server.url, apps["music"], year_window()[1].year)
        say(f"{apps['music'].name} released an album by {told.artist}: {told.fans} of {told.listeners} listeners "
            f"are fans; {told.notified} notified through the app's signed webhook.")
        say()
        say(f"Scan to open the {apps['music'].name} share page:")
        print_qr(shares[apps["music"].showcase_user].url, sys.stdout)
        say("Press Ctrl-C to stop.")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        say("\nStopping.")
    finally:
        host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
