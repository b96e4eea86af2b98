"""Calling screens in Debian's Chromium against a real demo hall (``live_hall``).

A call made through the API appears on the screens that show its service (and counter), not
on the others, with the right number, masked name and counter; the notice, the clock in the
site's zone, the 过号 list and a door's next few are what the site and the queue say; full
names never reach a payload or the DOM; voice screens play chime + announcement N times without
overlap, mute screens play nothing; the audio (Ogg Vorbis) is valid, of plausible length and
rendered once; a screen pairs with a code approved by staff; screenshots of every screen type,
landscape and portrait.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import LiveHall
from tests.support.browser import screenshot_dir

TIMEOUT_MS = 10_000
PAIRED_MS = 20_000  # from the approval to a paired screen online
FULL_NAMES = {"reg": "欧阳小明", "im1": "张小三", "im2": "王大锤", "blood": "李四光"}
MASKED = {"reg": "欧阳*明", "im1": "张*三", "im2": "王*锤", "blood": "李*光"}


def decoded(frame: str | bytes) -> str:
    """A Socket.IO frame with its JSON decoded (the server escapes every non-ASCII character)."""
    text = frame.decode() if isinstance(frame, bytes) else frame
    start = min((i for i in (text.find("["), text.find("{")) if i >= 0), default=-1)
    if start < 0:
        return text
    try:
        return text[:start] + json.dumps(json.loads(text[start:]), ensure_ascii=False)
    except ValueError:
        return text


class Screen:
    """One screen page in its own browser context (its own localStorage and device token)."""

    def __init__(self, browser: Browser, hall: LiveHall, display_id: str, **viewport: int):
        size = viewport or {"width": 1920, "height": 1080}
        self.context: BrowserContext = browser.new_context(viewport=size, locale="zh-CN")
        token = hall.display_tokens[display_id]
        self.context.add_init_script(f"localStorage.setItem('queue.device_token', '{token}')")
        self.frames: list[str] = []
        self.page: Page = self.context.new_page()
        self.page.on("websocket", self._socket)
        self.page.goto(hall.url(f"/display/{display_id}"))
        self.wait_online()

    def _socket(self, ws: Any) -> None:
        ws.on("framereceived", lambda payload: self.frames.append(decoded(payload)))

    def wait_online(self) -> None:
        self.page.wait_for_function(
            "() => window.screenState && window.screenState.online", timeout=TIMEOUT_MS
        )

    def state(self, expr: str) -> Any:
        return self.page.evaluate(f"() => window.screenState.{expr}")

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def screens(browser: Browser, live_hall: LiveHall) -> Iterator[dict[str, Screen]]:
    for counter in ("reg-1", "reg-2", "room-1", "room-2", "blood-1"):
        r = live_hall.api("POST", f"/counters/{counter}/state", json={"state": "open"})
        assert r.status_code == 200, r.text
    made = {
        d: Screen(browser, live_hall, d)
        for d in ("hall", "blood-zone", "im-zone", "room-1", "reg-1")
    }
    yield made
    for s in made.values():
        s.close()


def issue(hall: LiveHall, service: str) -> dict[str, Any]:
    r = hall.api(
        "POST", "/tickets", json={"service_id": service, "patient_name": FULL_NAMES[service]}
    )
    assert r.status_code == 201, r.text
    return r.json()


def call_next(hall: LiveHall, counter: str) -> dict[str, Any]:
    r = hall.api("POST", f"/counters/{counter}/call-next")
    assert r.status_code == 200, r.text
    return r.json()


def hero_shows(screen: Screen, ticket_id: int) -> None:
    expect(screen.page.locator("#hero")).to_have_attribute(
        "data-ticket-id", str(ticket_id), timeout=TIMEOUT_MS
    )


def test_voice_queue_plays_each_call_n_times_without_overlap(
    screens: dict[str, Screen], live_hall: LiveHall
) -> None:
    zone = screens["im-zone"]  # a speaking screen without English: about 4 s per announcement
    connects = zone.state("connects")
    t = issue(live_hall, "im2")
    call_next(live_hall, "room-2")
    hero_shows(zone, t["id"])
    recall = live_hall.api("POST", f"/tickets/{t['id']}/recall")
    assert recall.status_code == 200, recall.text

    # im2 announces twice (announce_times = 2); the recall announces twice more. A reconnect
    # meanwhile drops queued announcements: the messages say whether one happened, and why.
    def link() -> str:
        now, why, audio = zone.page.evaluate(
            "() => [window.screenState.connects, window.screenState.offlineReason,"
            " window.screenState.audioLog]"
        )
        return f"connects={now} (at the start {connects}), offlineReason={why!r}, audioLog={audio}"

    try:
        zone.page.wait_for_function(
            """() => {
                const log = window.screenState.audioLog;
                return log.length >= 4 && log.every(e => e.end !== undefined);
            }""",
            timeout=60_000,
        )
    except PlaywrightTimeout as exc:
        raise AssertionError(f"4 announcements not played in 60 s: {link()}") from exc
    log = zone.state("audioLog")
    assert [e["outcome"] for e in log] == ["played"] * 4, link()
    assert [e["key"] for e in log] == [f"{t['id']}:1"] * 2 + [f"{t['id']}:2"] * 2
    for a, b in itertools.pairwise(log):
        assert b["start"] >= a["end"], (a, b)  # never overlapping
    assert all(e["url"].startswith("/audio/") for e in log)
    assert screens["reg-1"].state("audioLog.length") == 0  # a mute screen


WATCH_WAITING_AT_CALL = """(id) => {
  window.waitingAtCall = null;
  const seen = new MutationObserver(() => {
    const hero = document.querySelector("#hero");
    if (!hero || hero.getAttribute("data-ticket-id") !== String(id)) return;
    seen.disconnect();
    const count = document.querySelector(".svc[data-service-id='reg'] .svc-waiting");
    window.waitingAtCall = count ? count.textContent : "missing";
  });
  seen.observe(document.body, { subtree: true, childList: true, attributes: true });
}"""


def test_call_appears_on_the_right_screens_only(
    screens: dict[str, Screen], live_hall: LiveHall
) -> None:
    ticket = issue(live_hall, "reg")
    for name in ("hall", "reg-1"):  # the waiting ticket is listed as next up
        expect(screens[name].page.locator(f"li[data-ticket-id='{ticket['id']}']")).to_be_visible(
            timeout=TIMEOUT_MS
        )
    # what the hall board shows as reg's waiting count in the first render with the call
    screens["hall"].page.evaluate(WATCH_WAITING_AT_CALL, ticket["id"])
    call_next(live_hall, "reg-1")
    hero_shows(screens["hall"], ticket["id"])
    shown = screens["hall"].page.evaluate("() => window.waitingAtCall")
    for name in ("hall", "reg-1"):
        page = screens[name].page
        hero_shows(screens[name], ticket["id"])
        expect(page.locator("#hero .hero-number")).to_have_text(ticket["number"])
        expect(page.locator("#hero .hero-name")).to_have_text(MASKED["reg"])
        expect(page.locator("#hero .hero-counter")).to_contain_text("1号窗口")
    card = screens["hall"].page.locator(".counter-card[data-counter-id='reg-1'] .counter-number")
    expect(card).to_have_text(ticket["number"])
    # the call carries its service's queue (no queue.changed of its own): the waiting count
    # is right in the render that shows the call, not only after a snapshot refresh
    snap = live_hall.api("GET", "/displays/hall/snapshot").json()
    [reg] = [svc for svc in snap["services"] if svc["id"] == "reg"]
    assert shown == str(reg["waiting"])
    expect(screens["hall"].page.locator("#hero .hero-en")).to_contain_text("Window 1")
    for name in ("blood-zone", "im-zone", "room-1"):
        page = screens[name].page
        assert ticket["number"] not in page.inner_text("body"), name
        assert page.locator(f"[data-ticket-id='{ticket['id']}']").count() == 0

    # a room call: room-1 door screen and the internal-medicine zone, not the hall board
    room_ticket = issue(live_hall, "im1")
    call_next(live_hall, "room-1")
    for name in ("room-1", "im-zone"):
        hero_shows(screens[name], room_ticket["id"])
        expect(screens[name].page.locator("#hero .hero-name")).to_have_text(MASKED["im1"])
    door = screens["room-1"].page
    expect(door.locator(".doctor-name")).to_have_text("王建国")
    expect(door.locator(".doctor-title")).to_have_text("主任医师")
    expect(door.locator(".door-name")).to_contain_text("1诊室")
    assert room_ticket["number"] not in screens["hall"].page.inner_text("body")

    # another counter of the same service: the reg-1 counter screen keeps its own ticket
    other = issue(live_hall, "reg")
    call_next(live_hall, "reg-2")
    hero_shows(screens["hall"], other["id"])
    expect(screens["reg-1"].page.locator("#hero")).to_have_attribute(
        "data-ticket-id", str(ticket["id"])
    )


def test_missed_list_clock_notice_and_the_rooms_next_few(
    screens: dict[str, Screen], live_hall: LiveHall
) -> None:
    """The rest of what the screens show, as the site file and the queue say: the hall board's
    scrolling notice (zh, and en with its English line), its clock in the site's time zone,
    ticking; the 过号 list after a no-show (number and masked name, on the screens of that
    service only); the room door screen's next few (its ``next_count``, in the queue's order)."""
    hall = screens["hall"].page
    shown = live_hall.site.displays["hall"]
    expect(hall.locator("#notice-text")).to_contain_text(shown.notice_zh)
    expect(hall.locator("#notice-text")).to_contain_text(shown.notice_en)
    assert screens["blood-zone"].page.locator("#notice-text").count() == 0  # none configured

    tz = live_hall.site.timezone
    first = hall.inner_text("#clock-time")
    hall.wait_for_function(  # it ticks: the text changes within a few seconds
        "(t) => document.getElementById('clock-time').textContent !== t", arg=first, timeout=5000
    )
    now = dt.datetime.now(tz)
    h, m, sec = (int(x) for x in hall.inner_text("#clock-time").split(":"))
    on_screen = now.replace(hour=h, minute=m, second=sec, microsecond=0)
    drift = abs((on_screen - now).total_seconds())
    assert min(drift, 86400 - drift) < 5, (on_screen, now)  # the site's zone, not UTC

    ticket = issue(live_hall, "reg")
    r = live_hall.api("POST", f"/tickets/{ticket['id']}/call", json={"counter_id": "reg-1"})
    assert r.status_code == 200, r.text
    r = live_hall.api("POST", f"/tickets/{ticket['id']}/no-show")
    assert r.status_code == 200, r.text
    for name in ("hall", "reg-1"):
        item = screens[name].page.locator(f"#missed li[data-ticket-id='{ticket['id']}']")
        expect(item).to_contain_text(ticket["number"], timeout=TIMEOUT_MS)
        expect(item.locator(".masked")).to_have_text(MASKED["reg"])
    for name in ("blood-zone", "im-zone", "room-1"):
        assert screens[name].page.locator(f"[data-ticket-id='{ticket['id']}']").count() == 0

    door = screens["room-1"].page
    count = live_hall.site.displays["room-1"].next_count
    issued = [issue(live_hall, "im1") for _ in range(count + 1)]
    snap = live_hall.api("GET", "/displays/room-1/snapshot").json()
    waiting = [str(t["id"]) for t in snap["next"] if t["service_id"] == "im1"]
    assert len(waiting) == count and str(issued[-1]["id"]) not in waiting  # the door's few
    door.wait_for_function(
        """(want) => {
            const items = document.querySelectorAll(".next-list[data-service-id=im1] li");
            return Array.from(items, e => e.dataset.ticketId).join() === want.join();
        }""",
        arg=waiting,
        timeout=TIMEOUT_MS,
    )
    expect(door.locator(".panel.next h2")).to_contain_text("请准备")


def test_a_call_updates_the_board_in_place(screens: dict[str, Screen], live_hall: LiveHall) -> None:
    """A call changes the nodes that show it; the rest of the board stays the same nodes
    (the screen morphs its DOM instead of rebuilding it: less layout and paint per call)."""
    page = screens["hall"].page
    tile = ".counter-card[data-counter-id='{}']"
    # a JS property, not an attribute: the morph keeps nodes but syncs their attributes
    page.evaluate(
        """(sel) => {
            window.markedNodes = [document.querySelector(sel), document.querySelector("#hero")];
            window.markedNodes.forEach(e => { e.markedBefore = true; });
        }""",
        tile.format("pharm-2"),  # no pharmacy call in this module: the tile never changes
    )
    ticket = issue(live_hall, "reg")
    call_next(live_hall, "reg-2")
    hero_shows(screens["hall"], ticket["id"])
    expect(page.locator(tile.format("reg-2") + " .counter-number")).to_have_text(ticket["number"])
    kept = page.evaluate(
        """() => Array.from(document.querySelectorAll("#main *"))
                      .filter(e => e.markedBefore).map(e => e.id || e.dataset.counterId)"""
    )
    assert sorted(kept) == ["hero", "pharm-2"]  # updated in place, not rebuilt


def test_a_burst_of_events_is_drawn_once(browser: Browser, live_hall: LiveHall) -> None:
    """Events that arrive together change the state at once and draw the board once, in the
    next frame, showing the last of them (a call comes with its ticket and queue changes)."""
    screen = Screen(browser, live_hall, "hall")  # its own page: the fake events stay in it
    try:
        result = screen.page.evaluate(
            """() => new Promise(resolve => {
                const S = window.screenState;
                const onQueue = window.screenSocket.listeners("queue.changed")[0];
                const v = S.versions.pharmacy || 0;
                const before = S.renders;
                for (let i = 1; i <= 3; i++) {
                    onQueue({service_id: "pharmacy", version: v + i, from_version: v + i - 1,
                             waiting: 40 + i, estimated_wait_s: 600});
                }
                const during = S.renders - before;
                const shown = () => document.querySelector(
                    ".svc[data-service-id='pharmacy'] .svc-waiting").textContent;
                const before_frame = shown();
                requestAnimationFrame(() => setTimeout(() => resolve({
                    during, before_frame, drawn: S.renders - before, shown: shown(),
                    versions: S.versions.pharmacy - v,
                }), 0));
            })"""
        )
    finally:
        screen.close()
    assert result["during"] == 0 and result["before_frame"] != "43"
    assert result["drawn"] == 1
    assert result["shown"] == "43" and result["versions"] == 3


def test_no_full_name_in_any_payload_or_dom(
    screens: dict[str, Screen], live_hall: LiveHall
) -> None:
    t = issue(live_hall, "blood")
    if t["status"] == "registered":
        checked = live_hall.api("POST", f"/tickets/{t['id']}/check-in")
        assert checked.status_code == 200, checked.text
    call_next(live_hall, "blood-1")
    hero_shows(screens["blood-zone"], t["id"])
    expect(screens["blood-zone"].page.locator("#hero .hero-name")).to_have_text(MASKED["blood"])
    for name, screen in screens.items():
        html = screen.page.content()
        frames = "\n".join(screen.frames)
        assert screen.frames, name
        for full in FULL_NAMES.values():
            assert full not in html, (name, full)
            assert full not in frames, (name, full)
    assert MASKED["blood"] in "\n".join(screens["hall"].frames)


def test_announcement_audio_is_valid_and_cached(
    screens: dict[str, Screen], live_hall: LiveHall, tmp_path: Path
) -> None:
    hall, door = screens["hall"], screens["room-1"]
    # the calls of the tests before, or calls of its own when it runs alone
    for screen, service, counter in ((hall, "reg", "reg-1"), (door, "im1", "room-1")):
        if screen.state("renderedCalls.length") == 0:
            issue(live_hall, service)
            call_next(live_hall, counter)
    hall.page.wait_for_function("() => window.screenState.audioLog.length > 0", timeout=30_000)
    url = hall.state("audioLog[0].url")
    # the hall screen has an English line: it plays the announcement with English
    assert f'"audio_url_en": "{url}"' in "\n".join(hall.frames)
    # the room door screen plays each call once (repeat = 1 in the site file)
    door.page.wait_for_function("() => window.screenState.audioLog.length > 0", timeout=30_000)
    assert door.state("audioLog.length") == 1
    sha = url.rsplit("/", 1)[1].removesuffix(".ogg")
    first = requests.get(live_hall.url(url), timeout=30)
    assert first.status_code == 200 and first.headers["Content-Type"] == "audio/ogg"
    audio = tmp_path / "call.ogg"
    audio.write_bytes(first.content)

    def soxi(option: str) -> str:
        read = subprocess.run(["soxi", option, str(audio)], capture_output=True, text=True)
        assert read.returncode == 0, read.stderr
        return read.stdout.strip()

    seconds = float(soxi("-D"))
    assert 1.5 <= seconds <= 15, seconds
    assert (soxi("-t"), soxi("-r"), soxi("-c")) == ("vorbis", "22050", "1")
    again = requests.get(live_hall.url(url), timeout=30)
    assert again.headers["X-Audio-Cache"] == "hit" and again.content == first.content
    stored = live_hall.instance / "audio" / f"{sha}.ogg"
    assert stored.is_file()
    renders = live_hall.log.read_text(encoding="utf-8").count(f"rendered announcement audio {sha}")
    assert renders == 1


def test_next_up_list_follows_events_without_asking(
    screens: dict[str, Screen], live_hall: LiveHall
) -> None:
    """Queue changes and calls carry the service's next tickets: the next-up list becomes the
    server's without the screen asking for a snapshot."""
    screen = screens["blood-zone"]
    before = screen.page.wait_for_function(
        """() => {
            const S = window.screenState;
            const busy = S.refreshDue || S.askDue || S.snapshotsInFlight > 0;
            return S.awaitingSnapshot || busy ? null : S.snapshots;
        }""",
        timeout=TIMEOUT_MS,
    ).json_value()
    for _ in range(7):  # more than the screen lists: the call brings a new one into view
        issue(live_hall, "blood")
    called = call_next(live_hall, "blood-1")
    shown = live_hall.api("GET", "/displays/blood-zone/snapshot").json()["next"]
    expected = [str(t["id"]) for t in shown if t["service_id"] == "blood"]
    assert len(expected) == 5 and str(called["ticket"]["id"]) not in expected
    screen.page.wait_for_function(
        """(want) => {
            const items = document.querySelectorAll(".next-list[data-service-id=blood] li");
            return Array.from(items, e => e.dataset.ticketId).join() === want.join();
        }""",
        arg=expected,
        timeout=TIMEOUT_MS,
    )
    quiet = screen.page.evaluate(
        """() => {
            const S = window.screenState;
            return {snapshots: S.snapshots, refreshDue: S.refreshDue, askDue: S.askDue,
                    inFlight: S.snapshotsInFlight, carry: S.eventsCarryNext};
        }"""
    )
    assert quiet == {
        "snapshots": before,
        "refreshDue": False,
        "askDue": False,
        "inFlight": 0,
        "carry": True,
    }


def test_gap_in_versions_asks_for_a_snapshot(
    screens: dict[str, Screen], live_hall: LiveHall
) -> None:
    screen = screens["blood-zone"]
    # Once the screen is quiet (no snapshot due or in flight, which would restore the true
    # versions before the next event), forget three versions in one step, so the next event
    # shows a gap.
    before = screen.page.wait_for_function(
        """() => {
            const S = window.screenState;
            const busy = S.refreshDue || S.askDue || S.snapshotsInFlight > 0;
            if (S.awaitingSnapshot || busy) return null;
            S.versions.blood -= 3;
            return {gaps: S.gaps, snapshots: S.snapshots};
        }""",
        timeout=TIMEOUT_MS,
    ).json_value()
    t = issue(live_hall, "blood")
    screen.page.wait_for_function(
        f"() => window.screenState.gaps > {before['gaps']}"
        f" && window.screenState.snapshots > {before['snapshots']}",
        timeout=TIMEOUT_MS,
    )
    assert t["service_id"] == "blood"
    server_version = live_hall.api("GET", "/displays/blood-zone/snapshot").json()["versions"][
        "blood"
    ]
    screen.page.wait_for_function(
        f"() => window.screenState.versions.blood === {server_version}", timeout=TIMEOUT_MS
    )


def test_pairing_with_a_code_in_the_browser(browser: Browser, live_hall: LiveHall) -> None:
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(live_hall.url("/display/blood-zone"))
        code = page.locator("[data-testid=pairing-code]")
        expect(code).to_have_text(re.compile(r"^\d{6}$"), timeout=TIMEOUT_MS)
        page.screenshot(path=screenshot_dir("displays") / "pairing-zh-landscape.png")
        r = live_hall.api(
            "POST", "/pairing/approve", json={"code": code.inner_text(), "device_id": "blood-zone"}
        )
        assert r.status_code == 200, r.text
        # claim poll (every 2 s), reload, whoami, socket, snapshot: as test_pairing_flow.py
        page.wait_for_function(
            "() => window.screenState && window.screenState.online", timeout=PAIRED_MS
        )
        token = page.evaluate("() => localStorage.getItem('queue.device_token')")
        assert token and token not in page.url
        me = requests.get(
            live_hall.url("/api/v1/auth/me"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert me.json() == {"kind": "device", "id": "blood-zone", "role": "display"}
    finally:
        context.close()
    live_hall.display_tokens["blood-zone"] = token  # the old token was replaced


@pytest.fixture(scope="module")
def populated(screens: dict[str, Screen], live_hall: LiveHall) -> None:
    """Calls at reg-1 and room-1 and people waiting, so every screen has something to show."""
    for service, counter in (("reg", "reg-1"), ("im1", "room-1"), ("blood", "blood-1")):
        issue(live_hall, service)
        call_next(live_hall, counter)
        for _ in range(3):
            issue(live_hall, service)


@pytest.mark.usefixtures("populated")
@pytest.mark.parametrize(
    ("orientation", "viewport"),
    [("landscape", {"width": 1920, "height": 1080}), ("portrait", {"width": 1080, "height": 1920})],
)
def test_screenshots_of_every_screen_type(
    browser: Browser,
    live_hall: LiveHall,
    screens: dict[str, Screen],
    orientation: str,
    viewport: dict[str, int],
) -> None:
    for display_id, kind in (("hall", "hall"), ("room-1", "room"), ("reg-1", "counter")):
        screen = Screen(browser, live_hall, display_id, **viewport)
        try:
            expect(screen.page.locator("#hero .hero-number")).not_to_have_text(
                "—", timeout=TIMEOUT_MS
            )
            overflow = screen.page.evaluate(
                "() => document.documentElement.scrollWidth <= window.innerWidth"
            )
            assert overflow, (display_id, orientation)
            screen.page.screenshot(
                path=screenshot_dir("displays") / f"{kind}-{display_id}-zh-{orientation}.png"
            )
        finally:
            screen.close()
