"""``python -m demo_app.screenshots HOST_URL``: phone-size pictures of the host page with the player
open, for both apps and their showcase users, into docs/images/demo-*.png (Debian's Chromium
through Playwright)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Debian's Chromium, kept from reaching out (the tests and scripts/ drive it the same way).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
LAST = -1  # the story's card, its last frame
# (host page, picture, frames to step forward): Soundwave's top artists; Lingo's opening frame,
# which shows the picture the learner uploaded; the Spanish and the Turkish learner's first two
# frames; the card of the listener whose name is in Japanese (demo_app/people.py, SHOWCASES).
PAGES = (("music/sw-0000", "demo-music.png", 3), ("learning/lg-0000", "demo-learning.png", 0),
         ("learning/lg-0001", "demo-learning-es.png", 0), ("learning/lg-0001", "demo-learning-es-lessons.png", 1),
         ("learning/lg-0002", "demo-learning-tr.png", 0), ("learning/lg-0002", "demo-learning-tr-lessons.png", 1),
         ("music/sw-0001", "demo-music-ja-card.png", LAST))


def capture(host_url: str, out_dir: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for path, name, frames_ahead in PAGES:
                context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                              is_mobile=True, has_touch=True, reduced_motion="reduce")
                page = context.new_page()
                page.goto(f"{host_url.rstrip('/')}/{path}")
                frame = page.frame_locator("#story")
                frame.locator(".recap-root").first.wait_for(state="visible", timeout=20_000)
                if frames_ahead == LAST:
                    page.wait_for_timeout(800)
                    frame.locator("body").press("End")
                for _ in range(max(frames_ahead, 0)):
                    page.wait_for_timeout(800)
                    frame.locator("body").press("ArrowRight")
                page.wait_for_timeout(1500)
                target = out_dir / name
                page.screenshot(path=str(target))
                written.append(target)
                context.close()
        finally:
            browser.close()
    return written


def output_folder(description: str, argv: list[str] | None = None) -> Path:
    """The folder a screenshot script writes to, from its command line (``--help`` says what it
    takes, instead of becoming a folder of pictures named "--help")."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_dir", nargs="?", type=Path, default=Path("docs/images"),
                        help="where the pictures go (default: docs/images)")
    folder: Path = parser.parse_args(argv).output_dir
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo_app.screenshots", description=__doc__)
    parser.add_argument("host_url", help="the demo host page, e.g. http://127.0.0.1:8001")
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args(argv)
    for path in capture(args.host_url, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
