"""Two `queue-server serve` processes sharing PostgreSQL and Redis, staff on both pressing
"call next" as fast as they can on one service: no ticket is ever called twice or lost, and a
console connected to process A sees, live, the calls made through process B."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from playwright.sync_api import Browser, expect

from tests.support.browser import screenshot_dir
from tests.support.server import add_device, add_user, cluster_env, serving

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
log = logging.getLogger(__name__)

TICKETS = 32
COUNTERS = {"blood-1": "a", "blood-2": "a", "blood-3": "b", "blood-4": "b"}
PASSWORD = "desk-pass-123"


def _login(base: str, user: str) -> dict[str, str]:
    r = requests.post(
        f"{base}/api/v1/auth/login", json={"username": user, "password": PASSWORD}, timeout=10
    )
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_call_next_race_across_two_processes(
    postgres_url: str, redis_url: str, tmp_path: Path, browser: Browser
) -> None:
    env = cluster_env(tmp_path, postgres_url, redis_url, "console-race")  # postgres_url: migrated
    kiosk = {"Authorization": f"Bearer {add_device(env, 'kiosk', 'kiosk-1')}"}
    for proc in ("a", "b"):  # one staff user working through each process
        add_user(env, f"nurse-{proc}", "staff", PASSWORD)

    with serving(env, tmp_path / "a.log") as a, serving(env, tmp_path / "b.log") as b:
        base = {"a": a, "b": b}
        logins = {p: _login(base[p], f"nurse-{p}") for p in base}
        heads = {c: logins[p] for c, p in COUNTERS.items()}
        for i in range(TICKETS):  # half the tickets through each process
            r = requests.post(
                f"{base['ab'[i % 2]]}/api/v1/tickets",
                json={"service_id": "blood"},
                headers=kiosk,
                timeout=10,
            )
            assert r.status_code == 201, r.text
        for counter, proc in COUNTERS.items():
            r = requests.post(
                f"{base[proc]}/api/v1/counters/{counter}/state",
                json={"state": "open"},
                headers=heads[counter],
                timeout=10,
            )
            assert r.status_code == 200, r.text

        # A console's live link on process A: every call, whichever process made it.
        seen: list[dict[str, Any]] = []
        all_seen = threading.Event()
        sio = socketio.Client(reconnection=False)

        @sio.on("ticket.called", namespace="/staff")
        def _called(data: dict[str, Any]) -> None:
            seen.append(data)
            if len(seen) >= TICKETS:
                all_seen.set()

        token = heads["blood-1"]["Authorization"].removeprefix("Bearer ")
        sio.connect(
            a,
            namespaces=["/staff"],
            auth={"token": token, "services": ["blood"]},
            transports=["websocket"],
            wait_timeout=10,
        )
        # And a real console page on process A, for the screenshot and the visible proof.
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        try:
            page.goto(f"{a}/console?counter=blood-1")
            page.fill("#login [name=username]", "nurse-a")
            page.fill("#login [name=password]", PASSWORD)
            page.click("#login button[type=submit]")
            expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=15_000)
            # The /staff socket joined its rooms (common.js sets data-live on connect); the
            # #conn class starts as "conn off", which a bare /on/ search would already match.
            expect(page.locator("body")).to_have_attribute("data-live", "1", timeout=15_000)

            # The race: every counter presses "call next" until the line is empty, all at once.
            start = threading.Barrier(len(COUNTERS))
            results: dict[str, list[int]] = {c: [] for c in COUNTERS}
            errors: list[str] = []

            def press(counter: str) -> None:
                url = f"{base[COUNTERS[counter]]}/api/v1/counters/{counter}/call-next"
                session = requests.Session()
                start.wait(timeout=30)
                while True:
                    r = session.post(url, headers=heads[counter], timeout=30)
                    if r.status_code == 409 and r.json()["error"]["code"] == "queue.empty":
                        return
                    if r.status_code != 200:
                        errors.append(f"{counter}: {r.status_code} {r.text[:200]}")
                        return
                    results[counter].append(r.json()["ticket"]["id"])

            threads = [threading.Thread(target=press, args=(c,)) for c in COUNTERS]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            assert not errors, errors
            called = [tid for per in results.values() for tid in per]
            twice = [tid for tid, n in Counter(called).items() if n > 1]
            assert not twice, f"called twice: {twice}"
            assert len(called) == TICKETS, "a ticket was lost"
            assert all(results.values()), f"a counter never got a ticket: {results}"
            from_b = {tid for c, p in COUNTERS.items() if p == "b" for tid in results[c]}
            assert from_b

            # The live link on A saw every call, those made on B included, each once.
            assert all_seen.wait(timeout=20), f"saw {len(seen)} of {TICKETS} calls on A"
            seen_ids = Counter(e["ticket"]["id"] for e in seen)
            assert set(seen_ids) == set(called) and max(seen_ids.values()) == 1
            on_b = [e for e in seen if e["ticket"]["id"] in from_b]
            assert {e["counter"]["id"] for e in on_b} <= {"blood-3", "blood-4"}
            log.info("race: %s calls per counter", {c: len(v) for c, v in results.items()})

            # The console page on A, its line now empty, shows a call made on B at once.
            expect(page.locator("table.queue tr.row.waiting")).to_have_count(0, timeout=15_000)
            late = requests.post(
                f"{a}/api/v1/tickets", json={"service_id": "blood"}, headers=kiosk, timeout=10
            ).json()
            r = requests.post(
                f"{b}/api/v1/counters/blood-3/call-next", headers=heads["blood-3"], timeout=10
            )
            assert r.status_code == 200 and r.json()["ticket"]["id"] == late["id"], r.text
            expect(page.locator("#calls li").first).to_contain_text(
                f"{late['number']} → 3号抽血窗口", timeout=15_000
            )
            page.screenshot(
                path=screenshot_dir("console") / "two-processes-console-on-a.png", full_page=True
            )
        finally:
            page.close()
            sio.disconnect()
