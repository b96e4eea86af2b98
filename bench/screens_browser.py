"""Call → rendered in a real browser: ~20 Chromium tabs on the hall screen while 1,000
synthetic Socket.IO screens (bench.screens) are connected to the same server.

For each call-next (sent at a steady rate, counters reg-1..3 in turn) the latency is the time
from just before the HTTP request to the first frame each tab paints with the call
(``requestAnimationFrame`` after the DOM update; wall clock, same machine), split into the
call → the page's handling of the event and that → the paint. The synthetic screens' receive
times of ``ticket.called`` are reported beside it.

Each tab has a browser context (a window) of its own, as a hall screen is a full-screen
browser of its own. Twenty pages of one context are tabs of one window, and Chromium ran their
animation frames in steps of about 250 ms: the paint came up to a second after the page had
handled the call (measured 22 November 2026: event → paint p99 about 1 s in one window,
114 to 155 ms with a window per tab).

    .venv/bin/python -m bench.screens_browser            # 20 tabs, 1,000 screens, 40 calls
    .venv/bin/python -m bench.screens_browser --tabs 5 --screens 100 --calls 10   # quick
    .venv/bin/python -m bench.screens_browser --pin   # server alone on CPU 0, the rest on CPU 1

``--pin`` separates the server from its clients: on a site the screens are other machines,
here the 20 renderers and the synthetic screens would otherwise take the server's CPU.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from .run import Screens, summary_ms
from .server import STAFF_PASSWORD, BenchServer

log = logging.getLogger("bench.screens_browser")
RESULTS = Path(__file__).resolve().parent / "results"
COUNTERS = ("reg-1", "reg-2", "reg-3")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]


def pin(pid: int, cpus: set[int]) -> None:
    """Move every thread of ``pid`` to ``cpus`` (threads started later inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), cpus)


def staff_session(base: str) -> requests.Session:
    http = requests.Session()
    r = http.post(
        f"{base}/api/v1/auth/login",
        json={"username": "bench", "password": STAFF_PASSWORD},
        timeout=10,
    )
    r.raise_for_status()
    http.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return http


def issue_ticket(http: requests.Session, base: str) -> None:
    """Issue one reg ticket; on ``server.busy`` (503) try again after ``Retry-After``, with the
    same Idempotency-Key, as the kiosk does."""
    key = str(uuid.uuid4())
    for _ in range(30):
        r = http.post(
            f"{base}/api/v1/tickets",
            json={"service_id": "reg"},
            headers={"Idempotency-Key": key},
            timeout=10,
        )
        if r.status_code != 503:
            r.raise_for_status()
            return
        log.info("ticket refused with 503 (server busy), trying again")
        time.sleep(float(r.headers.get("Retry-After", "1")))  # the server's own back-off
    r.raise_for_status()


def call_loop(http: requests.Session, base: str, calls: int, rate: float) -> list[dict[str, Any]]:
    """Issue one ticket and call it, ``calls`` times at ``rate`` per second."""
    sent = []
    period = 1.0 / rate
    start = time.monotonic()
    for i in range(calls):
        issue_ticket(http, base)
        due = start + i * period
        time.sleep(max(0.0, due - time.monotonic()))  # pacing the load, not synchronisation
        counter = COUNTERS[i % len(COUNTERS)]
        t_epoch, t_mono = time.time(), time.monotonic()
        r = http.post(f"{base}/api/v1/counters/{counter}/call-next", timeout=10)
        r.raise_for_status()
        sent.append(
            {
                "ticket_id": r.json()["ticket"]["id"],
                "sent_epoch": t_epoch,
                "sent_mono": t_mono,
                "http_s": time.monotonic() - t_mono,
            }
        )
    return sent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tabs", type=int, default=20)
    ap.add_argument("--screens", type=int, default=1000, help="synthetic Socket.IO screens")
    ap.add_argument("--screen-procs", type=int, default=4)
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--rate", type=float, default=2.0, help="call-next per second")
    ap.add_argument(
        "--pin",
        action="store_true",
        help="server on CPU 0; this process, synthetic screens and Chromium on CPU 1",
    )
    ap.add_argument(
        "--no-screen-refresh",
        action="store_true",
        help="synthetic screens never ask for snapshots after events (the real page does)",
    )
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr
    )
    if args.pin and len(os.sched_getaffinity(0)) < 2:
        ap.error("--pin needs two CPUs")

    server = BenchServer()
    server.start()
    if args.pin:
        pin(os.getpid(), {1})  # the screens' processes and Chromium inherit this
        pin(server.pid, {0})
        log.info("pinned: server pid %d on CPU 0, clients on CPU 1", server.pid)
    base = server.base_url
    screens = None
    connected = 0
    try:
        http = staff_session(base)
        for counter in COUNTERS:
            http.post(
                f"{base}/api/v1/counters/{counter}/state", json={"state": "open"}, timeout=10
            ).raise_for_status()
        token = server.tokens["hall"]
        if args.screens:
            screens = Screens(
                server.host, [server.port], token, args.screen_procs, not args.no_screen_refresh
            )
            grown = screens.grow_to(args.screens, 100, 120)
            log.info("synthetic screens: %d alive, errors %s", grown["alive"], grown["errors"])
            connected = grown["alive"]
            if connected < args.screens:
                log.warning("only %d of %d synthetic screens connected", connected, args.screens)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
            )
            pages = []
            for _ in range(args.tabs):
                # a window per screen; 20 tabs share this machine with the server: no CSS
                # animation (reduced motion)
                context = browser.new_context(
                    viewport={"width": 1920, "height": 1080}, reduced_motion="reduce"
                )
                context.add_init_script(f"localStorage.setItem('queue.device_token', '{token}')")
                page = context.new_page()
                page.goto(f"{base}/display/hall")
                pages.append(page)
            for page in pages:
                page.wait_for_function("() => window.screenState && window.screenState.online")
            log.info("%d tabs online; %d calls at %.1f/s", len(pages), args.calls, args.rate)
            if screens:
                screens.ask("mark")
            sent = call_loop(http, base, args.calls, args.rate)
            ids = [s["ticket_id"] for s in sent]
            want = json.dumps(ids)
            deadline = time.monotonic() + 30
            for page in pages:
                left_ms = max(1, int((deadline - time.monotonic()) * 1000))
                try:
                    page.wait_for_function(
                        f"""() => {{
                            const got = new Set(window.screenState.renderedCalls
                                .filter(c => c.painted_epoch_ms).map(c => c.ticket_id));
                            return {want}.every(id => got.has(id));
                        }}""",
                        timeout=left_ms,
                    )
                except PlaywrightTimeout:
                    log.warning("a tab did not paint every call within 30 s of the last")
            tab_stats = [
                page.evaluate(
                    "() => ({connects: screenState.connects, snapshots: screenState.snapshots,"
                    " gaps: screenState.gaps})"
                )
                for page in pages
            ]
            by_ticket = {s["ticket_id"]: s for s in sent}
            browser_lat: list[float] = []
            to_event: list[float] = []
            to_paint: list[float] = []
            for page in pages:
                origin_s = page.evaluate("() => performance.timeOrigin") / 1000
                for c in page.evaluate("() => window.screenState.renderedCalls"):
                    s = by_ticket.get(c["ticket_id"])
                    if s is not None and c.get("painted_epoch_ms"):
                        painted = c["painted_epoch_ms"] / 1000
                        handled = origin_s + c["at"] / 1000
                        browser_lat.append(painted - s["sent_epoch"])
                        to_event.append(handled - s["sent_epoch"])
                        to_paint.append(painted - handled)
            browser.close()
        synthetic: list[float] = []
        alive_after = 0
        if screens:
            for reply in screens.stats():
                alive_after += reply["alive"]
                for tid, times in reply["called"].items():
                    s = by_ticket.get(int(tid))
                    if s is not None:
                        synthetic += [t - s["sent_mono"] for t in times]
        result = {
            "tabs": args.tabs,
            "pinned": args.pin,
            "synthetic_screens": args.screens,
            "synthetic_connected": connected,
            "synthetic_alive_after": alive_after,
            "calls": args.calls,
            "rate_per_s": args.rate,
            "browser_call_to_paint_ms": summary_ms(browser_lat),
            "browser_call_to_event_ms": summary_ms(to_event),
            "browser_event_to_paint_ms": summary_ms(to_paint),
            "browser_pairs_missed": args.tabs * len(sent) - len(browser_lat),
            "tab_reconnects": sum(t["connects"] - 1 for t in tab_stats),
            "tab_gaps": sum(t["gaps"] for t in tab_stats),
            "synthetic_call_to_receive_ms": summary_ms(synthetic),
            "call_next_http_ms": summary_ms([s["http_s"] for s in sent]),
        }
    finally:
        if screens:
            screens.close()
        server.stop()
    b, y, h = (
        result["browser_call_to_paint_ms"],
        result["synthetic_call_to_receive_ms"],
        result["call_next_http_ms"],
    )
    e, p = result["browser_call_to_event_ms"], result["browser_event_to_paint_ms"]
    sys.stdout.write(
        "| tabs | synthetic screens | calls | browser call→paint p50 / p99 / max ms "
        "| of which call→page event, event→paint p50 / p99 ms "
        "| synthetic call→receive p50 / p99 ms | call-next HTTP p50 / p99 ms |\n"
        "|---|---|---|---|---|---|---|\n"
        f"| {args.tabs}{' (pinned)' if args.pin else ''} | {args.screens} | {args.calls} "
        f"| {b['p50']:.0f} / {b['p99']:.0f} / {b['max']:.0f} (n={b['n']}, "
        f"missed {result['browser_pairs_missed']}, reconnects {result['tab_reconnects']}) "
        f"| {e['p50']:.0f} / {e['p99']:.0f}, {p['p50']:.0f} / {p['p99']:.0f} "
        f"| {y['p50']:.0f} / {y['p99']:.0f} (n={y['n']}) | {h['p50']:.0f} / {h['p99']:.0f} |\n"
    )
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}-screens-browser.json"
        out.write_text(json.dumps(result, indent=2))
        log.info("raw figures: %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
