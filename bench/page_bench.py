"""Page weight benchmark: bytes and time to the first frame of the embed and share pages.

Run: ``python bench/page_bench.py [--runs 5]``. It builds a demo instance in a temporary folder
(Soundwave, as ``python -m demo_app`` makes it, with a few listeners' years sent through the
SDK), serves it on 127.0.0.1 in this process, opens the showcase listener's story
(``/embed/year-in-music``) and a share of it (``/s/<token>``) in Debian's Chromium with an empty
cache each time, under three networks emulated by Chromium (CDP
Network.emulateNetworkConditions: a latency added to each request and a shared bandwidth), and
prints the medians:

- bytes: everything the page transferred (headers included) until it was done;
- first frame: when the first frame (embed: the story's first frame shown; share: the first
  paint) was on screen with its text in the font it keeps (read at the end with CDP
  CSS.getPlatformFontsForNode): if that is Manrope, the later of the frame and the font's arrival;
- font: when the page's first Manrope face had loaded;
- final font: what the first frame's heading was drawn in at the end (runs in Manrope);
- swapped: runs in which the heading was drawn in another face first and Manrope replaced it;
- layout shift: how far the swap (or anything else) moved what was on screen (the sum of the
  page's layout-shift entries, as Cumulative Layout Shift counts them).
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sdk  # noqa: E402
from demo_app import music  # noqa: E402
from demo_app.catalog import build_catalog  # noqa: E402
from demo_app.host import mint_viewer_token  # noqa: E402
from demo_app.instance import ensure_apps  # noqa: E402
from demo_app.people import make_people  # noqa: E402
from demo_app.screenshots import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from demo_app.serving import WSGIInThread, free_port  # noqa: E402
from widget_server import create_app  # noqa: E402

LISTENERS = 6
SEED = 7
# (name, latency ms, throughput kbit/s or None for none)
NETWORKS = (("unthrottled", 0, None), ("150 ms / 1.6 Mbps", 150, 1600), ("400 ms / 400 kbps", 400, 400))

# Watches each animation frame: when the story's first frame is in (embed), when the first
# paint happened (share), when a Manrope face the page uses had loaded and its text matched it.
PROBE = """
(() => {
  const marks = window.__bench = {frame: null, font: null, shift: 0};
  new PerformanceObserver(list => { for (const e of list.getEntries()) marks.shift += e.value; })
    .observe({type: 'layout-shift', buffered: true});
  const manrope = () => [...document.fonts].some(f => /Manrope/.test(f.family) && !/Fallback/.test(f.family)
                                                     && f.status === 'loaded');
  const tick = () => {
    const now = performance.now();
    const title = document.querySelector('.recap-frame.recap-in .recap-title');
    // On screen: the player holds its story transparent until its font is in.
    if (marks.frame === null && title && getComputedStyle(title.closest('#recap-story')).opacity !== '0') {
      marks.frame = now;
    }
    if (marks.font === null && document.fonts && manrope()) marks.font = now;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
"""


def _post(url: str, body: dict, key: str) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.loads(reply.read())


def demo_pages(instance: Path, server_url: str) -> tuple[str, str]:
    """A few Soundwave listeners' year sent through the SDK; the showcase listener's embed and share URLs."""
    apps = ensure_apps(instance)
    app = apps["music"]
    end = date.today() - timedelta(days=2)
    client = sdk.Client(app.write_key, host=server_url, batch_size=1000, flush_interval=0.2)
    try:
        catalog = build_catalog(SEED)
        for person in make_people(app.prefix, LISTENERS, SEED, date(end.year, 1, 1), end):
            music.generate(person, catalog, SEED, end, client)
        client.flush(timeout=120)
    finally:
        client.shutdown(timeout=10)
    user = app.showcase_user
    token = mint_viewer_token(server_url, app, user)
    share = _post(server_url + "/v1/shares", {"template": app.template, "caption": "My year on Soundwave"}, token)
    return f"{server_url}/embed/{app.template}?token={mint_viewer_token(server_url, app, user)}", share["url"]


def measure(browser, url: str, kind: str, latency: int, kbps: int | None) -> dict:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    page.add_init_script(PROBE)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    throughput = kbps * 1000 / 8 if kbps else -1
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": latency,
                                                  "downloadThroughput": throughput, "uploadThroughput": throughput})
    received: dict[str, float] = {}
    sent: dict[str, tuple[str, float]] = {}   # request id -> URL, when it was asked for (s)
    finished: dict[str, float] = {}
    cdp.on("Network.requestWillBeSent",
           lambda e: sent.setdefault(e["requestId"], (e["request"]["url"], e["timestamp"])))
    cdp.on("Network.loadingFinished", lambda e: (received.__setitem__(e["requestId"], e["encodedDataLength"]),
                                                 finished.__setitem__(e["requestId"], e["timestamp"])))
    page.goto(url, wait_until="load", timeout=60_000)
    deadline = time.monotonic() + 30
    while True:  # polled from here: the pages' CSP forbids the eval of wait_for_function
        marks = page.evaluate("window.__bench")
        if kind == "share":
            marks["frame"] = page.evaluate(
                "(performance.getEntriesByName('first-contentful-paint')[0] || {startTime: null}).startTime")
        if marks["frame"] is not None and (kind == "share" or marks["font"] is not None):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{kind}: no first frame in its font within 30 s ({marks})")
        page.wait_for_timeout(50)
    page.wait_for_timeout(300 + 3 * latency)  # what the page fetches after (a font for another script)
    marks = {**page.evaluate("window.__bench"), **({"frame": marks["frame"]} if kind == "share" else {})}
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    heading = cdp.send("DOM.querySelector", {"nodeId": root, "selector": ".recap-in .recap-title" if kind == "embed"
                                             else "h1"})["nodeId"]
    used = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": heading})["fonts"]
    manrope = all(f["postScriptName"].startswith("Manrope") for f in used)
    context.close()
    font = marks["font"] if marks["font"] is not None else float("nan")  # (never, on an optional font's slow visit)
    late = manrope and font > marks["frame"] + 1
    start = min((t for _, t in sent.values()), default=0.0)
    waterfall = sorted((sent[r][0].split("?")[0].rsplit("/", 1)[-1] or "/", (sent[r][1] - start) * 1000,
                        (finished[r] - start) * 1000, received[r]) for r in finished if r in sent)
    return {"bytes": sum(received.values()), "frame": max(marks["frame"], font) if manrope else marks["frame"],
            "font": font, "manrope": manrope, "swapped": late, "shift": marks["shift"], "waterfall": waterfall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--waterfall", action="store_true",
                        help="also print each request of the slowest network's median run: asked, done, bytes")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        port = free_port()
        app = create_app({"INSTANCE_PATH": tmp, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"})
        server = WSGIInThread(app, port, name="bench-server").start()
        try:
            embed_url, share_url = demo_pages(instance, server.url)
            print(f"| page | network | bytes | first frame ms | font ms | final font Manrope | swapped |"
                  f" layout shift | (medians of {args.runs} runs)")
            print("|---|---|---:|---:|---:|---:|---:|---:|")
            waterfalls: list[tuple[str, str, list]] = []
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    for kind, url in (("embed", embed_url), ("share", share_url)):
                        measure(browser, url, kind, 0, None)  # warm: the server's first page, story, files
                        for name, latency, kbps in NETWORKS:
                            runs = [measure(browser, url, kind, latency, kbps) for _ in range(args.runs)]
                            med = {k: statistics.median(r[k] for r in runs)
                                   for k in ("bytes", "frame", "font", "shift")}
                            manrope, swapped = (sum(r[k] for r in runs) for k in ("manrope", "swapped"))
                            print(f"| {kind} | {name} | {med['bytes']:,.0f} | {med['frame']:,.0f} | "
                                  f"{med['font']:,.0f} | {manrope}/{args.runs} | {swapped}/{args.runs} | "
                                  f"{med['shift']:.4f} |", flush=True)
                            if args.waterfall and (name, latency, kbps) == NETWORKS[-1]:
                                median_run = sorted(runs, key=lambda r: r["frame"])[len(runs) // 2]
                                waterfalls.append((kind, name, median_run["waterfall"]))
                finally:
                    browser.close()
            for kind, name, waterfall in waterfalls:
                print(f"\n| {kind} at {name}: request | asked ms | done ms | bytes |\n|---|---:|---:|---:|")
                for url, asked, done, size in sorted(waterfall, key=lambda w: w[1]):
                    print(f"| {url[:48]} | {asked:,.0f} | {done:,.0f} | {size:,.0f} |")
        finally:
            time.sleep(0.5)  # the pages' last beacons
            server.stop()


if __name__ == "__main__":
    main()
