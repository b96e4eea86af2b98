"""The touch kiosk in Debian's Chromium against a real server: take a number, print, check in,
priorities, double taps, paper end, idle timeout, out of service and recovery, layouts.

Screenshots (zh and en, portrait 1080x1920 and landscape) go to test-artifacts/screenshots/kiosk.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import LiveHall
from tests.kiosk.live import kiosk_hall
from tests.support.browser import screenshot_dir
from tests.support.server import HallServer

PORTRAIT = {"width": 1080, "height": 1920}
LANDSCAPE = {"width": 1920, "height": 1080}
SHOTS = screenshot_dir("kiosk")
Served = tuple[LiveHall, HallServer]
OPEN = ("reg-1", "reg-2", "blood-1", "room-1", "us-1", "pharm-1")


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    hall, server = kiosk_hall(tmp_path_factory.mktemp("kiosk-hall"))
    server.start()
    try:
        for counter in OPEN:
            hall.api(
                "POST", f"/counters/{counter}/state", json={"state": "open"}
            ).raise_for_status()
        hall.api("POST", "/counters/room-2/state", json={"state": "paused"}).raise_for_status()
        yield hall, server
    finally:
        server.stop()


@pytest.fixture
def hall(served: tuple[LiveHall, HallServer]) -> LiveHall:
    return served[0]


@pytest.fixture
def printouts(hall: LiveHall) -> Iterator[Path]:
    """The virtual printer's folder of kiosk-1; any simulated fault is cleared afterwards."""
    folder = hall.instance / "printouts" / "kiosk-1"
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    (folder / "STATUS").unlink(missing_ok=True)


def new_context(browser: Browser, hall: LiveHall, viewport: dict[str, int], kiosk: str = "kiosk-1"):
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    token = hall.kiosk_tokens[kiosk]
    context.add_init_script(f"localStorage.setItem('queue.device_token', {json.dumps(token)})")
    return context


@pytest.fixture
def portrait(browser: Browser, hall: LiveHall) -> Iterator[BrowserContext]:
    context = new_context(browser, hall, PORTRAIT)
    yield context
    context.close()


def open_kiosk(
    context: BrowserContext, hall: LiveHall, query: str = "", kiosk: str = "kiosk-1"
) -> Page:
    page = context.new_page()
    page.goto(hall.url(f"/kiosk/{kiosk}{query}"))
    expect(page.locator("body")).to_have_attribute("data-screen", "start", timeout=15000)
    expect(page.locator('.service[data-service="reg"]')).to_have_attribute("data-state", "open")
    return page


def waiting(hall: LiveHall, service_id: str) -> int:
    services = requests.get(hall.url("/api/v1/services"), timeout=10).json()["services"]
    return next(s["waiting"] for s in services if s["id"] == service_id)


def wait_until(check: Callable[[], Any], what: str, deadline_s: float = 15.0) -> Any:
    """Poll ``check`` until it returns something truthy (a bounded wait on a condition)."""
    end = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)  # polling interval of the bounded wait


def take_number(page: Page, service_id: str, priority: str = "normal") -> dict[str, Any]:
    """Tap a service, then a priority answer; returns the ticket the server sent back."""
    page.click(f'.service[data-service="{service_id}"]')
    expect(page.locator("body")).to_have_attribute("data-screen", "priority")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/tickets")) as answer:
        page.click(f'.choice[data-priority="{priority}"]')
    expect(page.locator("body")).to_have_attribute("data-screen", "result")
    return answer.value.json()


def qr_loaded(page: Page) -> None:
    """The follow QR image has arrived (screenshots taken before would show an empty box)."""
    page.wait_for_function(
        "() => { const i = document.querySelector('#r-qr'); "
        "return i && i.complete && i.naturalWidth > 0; }"
    )


def decode_qr(page: Page, selector: str) -> str:
    qr_loaded(page)
    png = page.locator(selector).screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert found, "no QR code found on screen"
    return found[0].text


# ------------------------------------------------------------------ taking a number


def test_take_a_number_queues_prints_and_shows_the_follow_qr(
    portrait: BrowserContext, hall: LiveHall, printouts: Path
) -> None:
    page = open_kiosk(portrait, hall)
    before_png = set(printouts.glob("*.png"))
    before_waiting = waiting(hall, "reg")
    page.screenshot(path=SHOTS / "start-portrait-zh.png")

    ticket = take_number(page, "reg")
    assert ticket["number"].startswith("A")
    expect(page.locator("#r-number")).to_have_text(ticket["number"])
    expect(page.locator("#r-ahead")).to_have_text(f"{ticket['people_ahead']} 人")
    expect(page.locator("#r-where")).to_contain_text("一楼大厅 1-3 号窗口")
    # the ticket is in the queue
    detail = hall.api("GET", f"/tickets/{ticket['id']}").json()
    assert detail["status"] == "waiting" and detail["service_id"] == "reg"
    assert detail["history"][0]["actor"] == "device:kiosk-1"
    assert waiting(hall, "reg") == before_waiting + 1
    # printed by the pipeline on the virtual printer: the kiosk says so and a PNG appears
    assert ticket["print"]["status"] in ("queued", "printing", "printed")
    expect(page.locator("#r-print")).to_have_attribute("data-status", "printed", timeout=20000)
    expect(page.locator("#r-print")).to_contain_text("请从下方出票口取走")
    new_png = wait_until(lambda: set(printouts.glob("*.png")) - before_png, "the ticket PNG")
    assert len(new_png) == 1
    # the QR on screen opens this ticket's follow page
    link = decode_qr(page, "#r-qr")
    assert link == hall.url(ticket["follow_url"]) or link == ticket["follow_url"]
    page.screenshot(path=SHOTS / "result-portrait-zh.png")

    page.click("#btn-lang")
    expect(page.locator("#r-print")).to_contain_text("Your ticket is printed")
    expect(page.locator('[data-t="ahead"]')).to_have_text("People ahead")
    qr_loaded(page)
    page.screenshot(path=SHOTS / "result-portrait-en.png")
    page.click("#btn-done")
    expect(page.locator("body")).to_have_attribute("data-screen", "start")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")  # next patient: Chinese again


def test_english_start_screen_and_live_counts(portrait: BrowserContext, hall: LiveHall) -> None:
    page = open_kiosk(portrait, hall)
    page.click("#btn-lang")
    expect(page.locator('[data-t="choose_service"]')).to_have_text("Please choose a service")
    before = waiting(hall, "blood")
    pharmacy = page.locator('.service[data-service="blood"] .svc-waiting')
    expect(pharmacy).to_have_text(f"{before} waiting")
    # a ticket issued elsewhere (a staff desk) shows up on the kiosk through queue.changed
    hall.api("POST", "/tickets", json={"service_id": "blood"}).raise_for_status()
    expect(pharmacy).to_have_text(f"{before + 1} waiting", timeout=10000)
    page.screenshot(path=SHOTS / "start-portrait-en.png")


def test_closed_and_paused_services_are_greyed_with_the_reason(
    portrait: BrowserContext, hall: LiveHall
) -> None:
    page = open_kiosk(portrait, hall)
    closed = page.locator('.service[data-service="im3"]')
    expect(closed).to_be_disabled()
    expect(closed).to_have_attribute("data-state", "closed")
    expect(closed.locator(".svc-reason")).to_have_text("暂未开放 (无窗口服务)")
    paused = page.locator('.service[data-service="im2"]')
    expect(paused).to_have_attribute("data-state", "paused")
    expect(paused.locator(".svc-reason")).to_contain_text("暂停")
    # a counter opening elsewhere makes the service available without reloading the page
    hall.api("POST", "/counters/room-3/state", json={"state": "open"}).raise_for_status()
    try:
        expect(closed).to_have_attribute("data-state", "open", timeout=10000)
        expect(closed).to_be_enabled()
    finally:
        hall.api("POST", "/counters/room-3/state", json={"state": "closed"}).raise_for_status()
    expect(closed).to_have_attribute("data-state", "closed", timeout=10000)


def test_touch_targets_are_big_in_both_orientations(browser: Browser, hall: LiveHall) -> None:
    for name, viewport in (("portrait", PORTRAIT), ("landscape", LANDSCAPE)):
        context = new_context(browser, hall, viewport)
        try:
            page = open_kiosk(context, hall)
            # One snapshot of every box in a single script run: the service list re-renders on
            # live updates, so element-by-element lookups could straddle a re-render. Not
            # eval_on_selector_all: it queries and evaluates in two steps, and a re-render in
            # between leaves detached (0 x 0) buttons.
            boxes = page.evaluate(
                """() => [...document.querySelectorAll(
                        '.service, .bar .tool, .start-actions .action')].map(e => {
                    const r = e.getBoundingClientRect();
                    return {label: e.textContent.trim().slice(0, 20), width: r.width,
                            height: r.height, bottom: r.bottom}; })"""
            )
            assert sum(1 for b in boxes if b["label"]) > 3, boxes
            for box in boxes:
                assert box["height"] >= 64 and box["width"] >= 64, (name, box)
                assert box["bottom"] <= viewport["height"], (name, box)
            page.screenshot(path=SHOTS / f"start-{name}-zh.png")
            page.click("#btn-large")
            page.click("#btn-contrast")
            expect(page.locator("html")).to_have_class(re.compile("large.*contrast"))
            page.screenshot(path=SHOTS / f"start-{name}-large-contrast.png")
        finally:
            context.close()


def test_priority_is_declared_and_awaits_staff_confirmation(
    portrait: BrowserContext, hall: LiveHall
) -> None:
    page = open_kiosk(portrait, hall)
    page.click('.service[data-service="pharmacy"]')
    choices = page.locator(".choice")
    # green channel is staff-only in the demo hall: not offered
    expect(choices).to_have_count(4)
    expect(page.locator('.choice[data-priority="green_channel"]')).to_have_count(0)
    page.screenshot(path=SHOTS / "priority-portrait-zh.png")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/tickets")) as answer:
        page.click('.choice[data-priority="elderly"]')
    ticket = answer.value.json()
    assert ticket["priority"] == "elderly" and ticket["priority_confirmed"] is False
    expect(page.locator("#r-notice")).to_contain_text("70岁以上老人")
    expect(page.locator("#r-notice")).to_contain_text("出示证件")


# ------------------------------------------------------------------ one tap, one ticket


def test_a_double_tap_issues_one_ticket(portrait: BrowserContext, hall: LiveHall) -> None:
    page = open_kiosk(portrait, hall)
    posts: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: (
            posts.append({"key": r.headers.get("idempotency-key"), "body": r.post_data})
            if r.method == "POST" and r.url.endswith("/api/v1/tickets")
            else None
        ),
    )
    before = waiting(hall, "reg")
    page.click('.service[data-service="reg"]')
    # two taps in the same task: the second lands while the first is still being served
    with page.expect_response(lambda r: r.url.endswith("/api/v1/tickets")) as answer:
        page.evaluate(
            """() => { const b = document.querySelector('.choice[data-priority="normal"]');
                       b.click(); b.click(); }"""
        )
    ticket = answer.value.json()
    expect(page.locator("#r-number")).to_have_text(ticket["number"])
    assert len(posts) == 1 and posts[0]["key"]
    assert waiting(hall, "reg") == before + 1
    # the same request replayed (a network retry) returns the same ticket, nothing new
    replay = requests.post(
        hall.url("/api/v1/tickets"),
        data=posts[0]["body"],
        headers={
            "Authorization": f"Bearer {hall.kiosk_tokens['kiosk-1']}",
            "Content-Type": "application/json",
            "Idempotency-Key": posts[0]["key"],
        },
        timeout=10,
    )
    assert replay.status_code == 200
    assert replay.json()["id"] == ticket["id"] and replay.json()["number"] == ticket["number"]
    assert replay.json()["print"]["job_id"] == ticket["print"]["job_id"]  # not printed twice
    assert waiting(hall, "reg") == before + 1


def test_a_lost_answer_is_retried_with_the_same_key(
    portrait: BrowserContext, hall: LiveHall
) -> None:
    page = open_kiosk(portrait, hall)
    keys: list[str] = []
    served: list[dict[str, Any]] = []

    def lose_first_answer(route: Any) -> None:
        keys.append(route.request.headers["idempotency-key"])
        response = route.fetch()  # the server issues the ticket ...
        if len(keys) == 1:
            served.append(response.json())
            route.abort("connectionreset")  # ... but the kiosk never hears the answer
        else:
            route.fulfill(response=response)

    page.route("**/api/v1/tickets", lose_first_answer)
    before = waiting(hall, "reg")
    page.click('.service[data-service="reg"]')
    page.click('.choice[data-priority="normal"]')
    expect(page.locator("body")).to_have_attribute("data-screen", "result", timeout=15000)
    assert len(keys) == 2 and keys[0] == keys[1]
    expect(page.locator("#r-number")).to_have_text(served[0]["number"])
    assert waiting(hall, "reg") == before + 1


# ------------------------------------------------------------------ appointments


def _book(hall: LiveHall, slots_from_now: int) -> tuple[str, dict[str, Any]]:
    """Book im1 (30-minute slots) ``slots_from_now`` slots from the one running now."""
    code = "HIS" + secrets.token_hex(4).upper()
    health = requests.get(hall.url("/api/v1/health"), timeout=10).json()
    now = dt.datetime.fromisoformat(health["time"])  # the server's clock, in the hall's zone
    current = now.replace(minute=now.minute - now.minute % 30, second=0, microsecond=0)
    slot = current + dt.timedelta(minutes=30 * slots_from_now)
    r = hall.api(
        "POST",
        "/appointments",
        json={"service_id": "im1", "slot_start": slot.isoformat(), "code": code},
    )
    r.raise_for_status()
    return code, r.json()


def _scan(page: Page, code: str) -> dict[str, Any]:
    """A barcode scanner on the start screen: fast keystrokes and Enter, nothing focused.

    All keys go in one page.evaluate, as key events on the focused element (the body) that
    bubble to kiosk.js's document keydown listener, the one a USB scanner's keystrokes reach:
    typed one by one from here, a stall over SCAN_GAP_MS on a loaded machine would drop the
    code half-way."""
    with page.expect_response(lambda r: r.url.endswith("/api/v1/tickets")) as answer:
        page.evaluate(
            """(keys) => {
                const target = document.activeElement || document.body;
                for (const key of keys) {
                    for (const type of ["keydown", "keyup"]) {
                        target.dispatchEvent(new KeyboardEvent(type, {
                            key, bubbles: true, cancelable: true, composed: true,
                        }));
                    }
                }
            }""",
            [*code, "Enter"],
        )
    return answer.value.json()


def test_appointment_check_in_early_on_time_and_late(
    portrait: BrowserContext, hall: LiveHall
) -> None:
    walk_ins = [hall.api("POST", "/tickets", json={"service_id": "im1"}).json() for _ in range(4)]
    page = open_kiosk(portrait, hall)

    early_code, _ = _book(hall, 3)  # check-in opens 60 min before
    error = _scan(page, early_code)
    assert error["error"]["code"] == "appointment.too_early"
    expect(page.locator("body")).to_have_attribute("data-screen", "message")
    expect(page.locator("#m-text")).to_contain_text(re.compile(r"请于 \d\d:\d\d 以后"))
    page.screenshot(path=SHOTS / "checkin-too-early-zh.png")
    page.click('.screen[data-name="message"] [data-back]')

    # on time, typed on the check-in screen's keypad: appointments come first (预约永优先)
    on_time_code, appt = _book(hall, 0)
    page.click("#btn-checkin")
    expect(page.locator("body")).to_have_attribute("data-screen", "checkin")
    page.screenshot(path=SHOTS / "checkin-portrait-zh.png")
    for ch in on_time_code:
        page.click(f'.key[data-key="{ch}"]')
    expect(page.locator("#checkin-code")).to_have_value(on_time_code)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/tickets")) as answer:
        page.click("#checkin-submit")
    on_time = answer.value.json()
    assert on_time["people_ahead"] == 0 and not on_time["late"]
    expect(page.locator("#r-ahead")).to_have_text("0 人")
    expect(page.locator("#r-notice")).to_contain_text(f"预约时段 {appt['slot_start'][11:16]}")
    qr_loaded(page)
    page.screenshot(path=SHOTS / "checkin-on-time-zh.png")
    page.click("#btn-done")

    # late (the slot before last; im1: late after 30 min, re-enters after every 3 on time)
    late_code, _ = _book(hall, -2)
    page.click("#btn-lang")
    late = _scan(page, late_code)
    assert late["late"] is True
    in_line = 1 + len(walk_ins)
    assert late["people_ahead"] == 3 < in_line  # inserted after 3, not at the end
    expect(page.locator("#r-ahead")).to_have_text("3")
    expect(page.locator("#r-notice")).to_contain_text("late-arrival rule")
    qr_loaded(page)
    page.screenshot(path=SHOTS / "checkin-late-en.png")
    detail = hall.api("GET", f"/tickets/{late['id']}").json()
    assert detail["people_ahead"] == 3

    # scanning the same code again shows the same number, no second ticket
    page.click("#btn-done")
    again = _scan(page, late_code)
    assert again["id"] == late["id"]
    expect(page.locator("#r-notice")).to_contain_text("已签过到")


# ------------------------------------------------------------------ printer faults


def test_paper_end_keeps_the_ticket_on_screen(
    portrait: BrowserContext, hall: LiveHall, printouts: Path
) -> None:
    page = open_kiosk(portrait, hall)
    (printouts / "STATUS").write_text("paper_end\n")
    before_png = set(printouts.glob("*.png"))
    ticket = take_number(page, "reg")
    result = page.locator("#r-print")
    expect(result).to_have_attribute("data-status", "failed", timeout=20000)
    expect(result).to_have_attribute("data-code", "printer.paper_end")
    expect(result).to_contain_text("打印机缺纸")
    expect(result).to_contain_text("请拍照记下号码")
    expect(page.locator("#r-number")).to_have_text(ticket["number"])
    assert decode_qr(page, "#r-qr").endswith(ticket["follow_url"])
    page.screenshot(path=SHOTS / "paper-end-portrait-zh.png")
    page.click("#btn-lang")
    expect(result).to_contain_text("out of paper")
    page.screenshot(path=SHOTS / "paper-end-portrait-en.png")
    assert set(printouts.glob("*.png")) == before_png  # nothing printed
    # the ticket exists and waits in line all the same
    assert hall.api("GET", f"/tickets/{ticket['id']}").json()["status"] == "waiting"
    # the start screen warns the next patient
    page.click("#btn-done")
    banner = page.locator("#printer-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("打印机缺纸")
    page.screenshot(path=SHOTS / "start-paper-end-banner-zh.png")
    # a freshly opened kiosk page learns the fault from the printer's health
    fresh = open_kiosk(portrait, hall)
    expect(fresh.locator("#printer-banner")).to_be_visible()


# ------------------------------------------------------------------ idle, info, identity


def test_idle_timeout_returns_to_a_fresh_start_screen(
    portrait: BrowserContext, hall: LiveHall
) -> None:
    page = open_kiosk(portrait, hall, "?idle=2")
    page.click("#btn-lang")
    page.click("#btn-large")
    page.click("#btn-checkin")
    expect(page.locator("body")).to_have_attribute("data-screen", "checkin")
    page.keyboard.type("ABC")
    expect(page.locator("body")).to_have_attribute("data-screen", "start", timeout=10000)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("html")).not_to_have_class(re.compile("large"))
    page.click("#btn-checkin")
    expect(page.locator("#checkin-code")).to_have_value("")


def test_info_pages_from_the_kiosk(portrait: BrowserContext, hall: LiveHall) -> None:
    page = open_kiosk(portrait, hall, "?idle=30")
    page.click("#btn-info")
    expect(page.locator("body")).to_have_attribute("data-section", "departments")
    expect(page.locator("main")).to_contain_text("检验科 抽血室")
    page.screenshot(path=SHOTS / "info-departments-zh.png")
    page.click('.tab[data-tab="prices"]')
    expect(page.locator("main")).to_contain_text("血常规 (五分类)")
    expect(page.locator("main")).to_contain_text("¥20.00")
    page.screenshot(path=SHOTS / "info-prices-zh.png", full_page=True)
    page.click(".tool.lang")
    expect(page.locator("main")).to_contain_text("Complete blood count")
    page.screenshot(path=SHOTS / "info-prices-en.png", full_page=True)
    page.click('.tab[data-tab="hours"]')
    expect(page.locator("main")).to_contain_text("Blood Draw")
    page.screenshot(path=SHOTS / "info-hours-en.png")
    page.click("#info-back")
    expect(page.locator("body")).to_have_attribute("data-screen", "start", timeout=15000)


def test_info_page_left_alone_goes_back_to_the_kiosk(
    portrait: BrowserContext, hall: LiveHall
) -> None:
    page = portrait.new_page()
    page.goto(hall.url("/info/prices?kiosk=kiosk-1&idle=1"))
    expect(page.locator("body")).to_have_attribute("data-screen", "start", timeout=15000)
    assert page.url.endswith("/kiosk/kiosk-1?idle=1")


def test_a_token_of_another_kiosk_is_refused(browser: Browser, hall: LiveHall) -> None:
    context = new_context(browser, hall, PORTRAIT, kiosk="kiosk-2")
    try:
        page = context.new_page()
        page.goto(hall.url("/kiosk/kiosk-1"))
        expect(page.locator("body")).to_have_attribute("data-screen", "setup", timeout=15000)
        expect(page.locator("#setup-text")).to_contain_text("kiosk-2")
        expect(page.locator("#btn-repair")).to_be_visible()
    finally:
        context.close()


def test_without_a_token_the_kiosk_shows_the_pairing_screen(
    browser: Browser, hall: LiveHall
) -> None:
    context = browser.new_context(viewport=PORTRAIT, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(hall.url("/kiosk/kiosk-1"))
        expect(page.locator("body")).to_have_attribute("data-screen", "setup", timeout=15000)
        expect(page.locator('[data-testid="pairing-code"]')).to_have_text(
            re.compile(r"^\d{6}$"), timeout=15000
        )
        page.screenshot(path=SHOTS / "pairing-portrait-zh.png")
    finally:
        context.close()


# ------------------------------------------------------------------ losing the server


def test_out_of_service_when_the_server_stops_and_recovery(
    portrait: BrowserContext, served: tuple[LiveHall, HallServer]
) -> None:
    hall, server = served
    page = open_kiosk(portrait, hall, "?offline=1")
    oos = page.locator("#oos")
    expect(oos).to_be_hidden()
    server.stop()
    try:
        expect(oos).to_be_visible(timeout=15000)
        expect(oos).to_contain_text("暂停服务")
        expect(oos).to_contain_text("Out of service")
        page.screenshot(path=SHOTS / "out-of-service-portrait.png")
    finally:
        server.start()
    expect(oos).to_be_hidden(timeout=20000)
    ticket = take_number(page, "reg")  # and it works again
    assert hall.api("GET", f"/tickets/{ticket['id']}").json()["status"] == "waiting"
