"""A screenshot of the studio for the README (1440×960, docs/images/studio.png).

    python scripts/screenshot_studio.py [OUTPUT_DIR]     (default: docs/images)

Builds a throwaway demo instance (Soundwave, a few listeners' year sent through the SDK, as the
page bench does), serves it on 127.0.0.1, signs in to /studio with the app's secret key in
Debian's Chromium, opens the music story for its showcase listener and captures the page.
"""
from __future__ import annotations

import logging
import tempfile
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import sync_playwright

import sdk
from demo_app import music
from demo_app.catalog import build_catalog
from demo_app.instance import ensure_apps
from demo_app.people import make_people
from demo_app.screenshots import CHROMIUM, CHROMIUM_ARGS, output_folder
from demo_app.serving import WSGIInThread, free_port
from widget_server import create_app

LISTENERS, SEED = 6, 7


def main() -> None:
    out = output_folder(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        port = free_port()
        server = WSGIInThread(create_app({"INSTANCE_PATH": tmp, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}),
                              port, name="studio-shot").start()
        try:
            app = ensure_apps(Path(tmp))["music"]
            end = date.today() - timedelta(days=2)
            client = sdk.Client(app.write_key, host=server.url, batch_size=1000, flush_interval=0.2)
            try:
                catalog = build_catalog(SEED)
                for person in make_people(app.prefix, LISTENERS, SEED, date(end.year, 1, 1), end):
                    music.generate(person, catalog, SEED, end, client)
                client.flush(timeout=120)
            finally:
                client.shutdown(timeout=10)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1440, "height": 960})
                page.goto(server.url + "/studio")
                page.fill("#key", app.secret_key)
                page.click("button[type=submit]")
                page.click(f".template[data-id='{app.template}']")
                page.wait_for_selector(".frame-card[data-frame='intro']")
                page.fill("#user-id", app.showcase_user)
                page.press("#user-id", "Tab")
                page.wait_for_selector("#player .recap-player[data-index='0']")
                page.wait_for_timeout(1500)
                page.screenshot(path=str(out / "studio.png"))
                browser.close()
        finally:
            server.stop()
    print(f"wrote {out / 'studio.png'}")


if __name__ == "__main__":
    main()
