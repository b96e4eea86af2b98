"""Pairing a screen and a kiosk end to end from the staff console, in Debian's Chromium.

A fresh browser context (no device token) opens the device page and shows a code; staff logged
in to ``/console`` type it into the *Pair a device* panel, choose the device and approve; the
device pairs by itself. The panel's zh/en refusals (invalid, expired, wrong kind, rate-limited)
come from the real server. Screenshots go to test-artifacts/screenshots/console/.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import PASSWORDS, LiveHall
from tests.support.browser import screenshot_dir

SHOTS = screenshot_dir("console")
TIMEOUT = 20_000
TOKEN_KEY = "queue.device_token"


@dataclass
class Device:
    """A device page in a fresh context, with every URL it requested (HTTP and WebSocket)."""

    page: Page
    urls: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, context: BrowserContext, url: str) -> Device:
        page = context.new_page()
        device = cls(page)
        page.on("request", lambda r: device.urls.append(r.url))
        page.on("websocket", lambda ws: device.urls.append(ws.url))
        page.goto(url)
        return device

    def code(self) -> str:
        shown = self.page.locator("[data-testid=pairing-code]")
        expect(shown).to_have_text(re.compile(r"^\d{6}$"), timeout=TIMEOUT)
        return shown.inner_text()

    def assert_paired_as(self, hall: LiveHall, principal: dict[str, str]) -> None:
        token = self.page.evaluate(f"() => localStorage.getItem('{TOKEN_KEY}')")
        assert token, "no device token in localStorage"
        assert self.urls, "no request recorded"
        leaked = [u for u in self.urls if token in u]
        assert not leaked, f"the device token appeared in a URL: {leaked}"
        me = requests.get(
            hall.url("/api/v1/auth/me"), headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert me.status_code == 200, me.text
        assert me.json() == principal


def log_in(context: BrowserContext, hall: LiveHall, path: str, user: str) -> Page:
    page = context.new_page()
    page.goto(hall.url(path))
    page.fill("#login [name=username]", user)
    page.fill("#login [name=password]", PASSWORDS[user])
    page.click("#login button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=TIMEOUT)
    return page


@pytest.fixture(scope="module")
def console(browser: Browser, live_hall: LiveHall) -> Iterator[Page]:
    """The counter console of reg-1, logged in as staff, shared by the module's tests."""
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
    page = log_in(ctx, live_hall, "/console?counter=reg-1", "staff")
    # the screens come from GET /api/v1/displays, the kiosks from the page itself
    expect(page.locator("#pairing .pair-displays option[value=hall]")).to_have_count(1)
    expect(page.locator("#pairing .pair-kiosks option[value='kiosk-1']")).to_have_count(1)
    yield page
    ctx.close()


def result(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#pairing .pair-result")


def clear_result(page: Page) -> None:
    """Empty the panel's result line: the console is shared by the module's tests, and a wait
    for the next answer must not pass on the previous one's data-state or data-code."""
    page.evaluate(
        """() => {
            const out = document.querySelector('#pairing .pair-result');
            out.textContent = '';
            out.className = 'pair-result';
            out.dataset.state = '';
            out.dataset.code = '';
        }"""
    )


def approve(page: Page, code: str, device_id: str) -> None:
    """Fill the panel with the mouse and approve."""
    clear_result(page)
    tools = page.locator("#tools")
    if tools.get_attribute("open") is None:
        page.click("#tools summary")
    page.fill("#pairing [name=code]", code)
    page.select_option("#pairing [name=device_id]", device_id)
    page.click("#pairing button[type=submit]")


def test_a_screen_pairs_from_the_console_by_keyboard(
    context: BrowserContext, console: Page, live_hall: LiveHall
) -> None:
    screen = Device.open(context, live_hall.url("/display/hall"))
    code = screen.code()
    assert screen.page.evaluate(f"() => localStorage.getItem('{TOKEN_KEY}')") is None

    # keyboard only: D jumps to the panel, type the code, Tab to the device, Enter approves
    console.locator("body").press("d")
    expect(console.locator("#tools")).to_have_attribute("open", "")
    expect(console.locator("#pairing [name=code]")).to_be_focused()
    console.keyboard.type(code)
    console.keyboard.press("Tab")
    expect(console.locator("#pairing [name=device_id]")).to_be_focused()
    console.select_option("#pairing [name=device_id]", "hall")
    console.locator("#pairing").screenshot(path=SHOTS / "pairing-panel-before.png")
    clear_result(console)
    console.keyboard.press("Enter")

    expect(result(console)).to_have_attribute("data-state", "ok", timeout=TIMEOUT)
    expect(result(console)).to_contain_text("已批准")
    expect(result(console)).to_contain_text("approved: the screen hall pairs by itself")
    expect(console.locator("#pairing [name=code]")).to_have_value("")
    expect(console.locator("#pairing [name=code]")).to_be_focused()
    console.locator("#pairing").screenshot(path=SHOTS / "pairing-panel-after.png")

    # the screen claims its token on its own and shows the hall board
    expect(screen.page.locator("#app")).to_be_visible(timeout=TIMEOUT)
    expect(screen.page.locator("#hero")).to_be_visible(timeout=TIMEOUT)
    expect(screen.page.locator("#main .counters")).to_be_visible()
    screen.page.wait_for_function(
        "() => window.screenState && window.screenState.online", timeout=TIMEOUT
    )
    screen.assert_paired_as(live_hall, {"kind": "device", "id": "hall", "role": "display"})
    screen.page.screenshot(path=SHOTS / "pairing-screen-paired.png")


def test_a_kiosk_pairs_from_the_console(
    context: BrowserContext, console: Page, live_hall: LiveHall
) -> None:
    kiosk = Device.open(context, live_hall.url("/kiosk/kiosk-1"))
    code = kiosk.code()

    approve(console, code, "kiosk-1")
    expect(result(console)).to_have_attribute("data-state", "ok", timeout=TIMEOUT)
    expect(result(console)).to_contain_text("自助机", timeout=TIMEOUT)
    expect(result(console)).to_contain_text("the kiosk kiosk-1 pairs by itself", timeout=TIMEOUT)
    console.locator("#pairing").screenshot(path=SHOTS / "pairing-panel-kiosk-after.png")

    # the kiosk reloads with its token and offers the service choice
    expect(kiosk.page.locator("body")).to_have_attribute("data-screen", "start", timeout=TIMEOUT)
    expect(kiosk.page.locator("#services .service").first).to_be_visible(timeout=TIMEOUT)
    kiosk.assert_paired_as(live_hall, {"kind": "device", "id": "kiosk-1", "role": "kiosk"})


def start_pairing(hall: LiveHall, kind: str) -> dict[str, str]:
    r = requests.post(hall.url("/api/v1/pairing/start"), json={"kind": kind}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def test_refusals_are_explained_in_chinese_and_english(console: Page, live_hall: LiveHall) -> None:
    # a code nobody shows (every code the server handed out so far is used)
    approve(console, "000000", "hall")
    expect(result(console)).to_have_attribute("data-code", "pairing.code_invalid", timeout=TIMEOUT)
    expect(result(console)).to_contain_text("配对码无效")
    expect(result(console)).to_contain_text("invalid code")

    # not six digits: refused in the page, nothing sent
    approve(console, "12a4", "hall")
    expect(console.locator("#pairing [name=code]")).to_have_value("124")
    expect(result(console)).to_contain_text("6 位数字")
    expect(result(console)).to_contain_text("enter the 6 digits")

    # a screen's code approved as a kiosk: the kind is named
    screen_code = start_pairing(live_hall, "display")["code"]
    approve(console, screen_code, "kiosk-2")
    expect(result(console)).to_have_attribute(
        "data-code", "pairing.device_unknown", timeout=TIMEOUT
    )
    expect(result(console)).to_contain_text("此配对码来自叫号屏")
    expect(result(console)).to_contain_text("this code is from a screen")
    expect(console.locator("#pairing [name=device_id]")).to_be_focused()

    # a code past its lifetime (the row made to expire in the server's own database)
    late = start_pairing(live_hall, "kiosk")
    with sqlite3.connect(live_hall.instance / "queue.sqlite3") as db:
        expire = "UPDATE pairing_requests SET expires_at = created_at WHERE id = ?"
        db.execute(expire, (late["pairing_id"],))
    approve(console, late["code"], "kiosk-2")
    expect(result(console)).to_have_attribute("data-code", "pairing.expired", timeout=TIMEOUT)
    expect(result(console)).to_contain_text("配对码已过期")
    expect(result(console)).to_contain_text("the code has expired")
    console.locator("#pairing").screenshot(path=SHOTS / "pairing-panel-error.png")


def test_guessing_is_rate_limited_on_the_nurse_desk(browser: Browser, live_hall: LiveHall) -> None:
    """The nurse desk has the same panel; five wrong codes lock the user out for a while."""
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
    try:
        page = log_in(ctx, live_hall, "/console/nurse?zone=im-zone", "manager")
        for attempt in range(5):
            approve(page, f"{999990 + attempt}", "hall")
            expect(result(page)).to_have_attribute(
                "data-code", "pairing.code_invalid", timeout=TIMEOUT
            )
            page.evaluate("() => document.querySelector('#pairing .pair-result').dataset.code = ''")
        right = start_pairing(live_hall, "display")["code"]
        approve(page, right, "hall")  # even a right code is refused now
        expect(result(page)).to_have_attribute("data-code", "pairing.rate_limited", timeout=TIMEOUT)
        expect(result(page)).to_contain_text("错误次数过多")
        expect(result(page)).to_contain_text("请 5 分钟后再试")
        expect(result(page)).to_contain_text("too many wrong codes, try again in 5 min")
        page.locator("#pairing").screenshot(path=SHOTS / "pairing-panel-rate-limited.png")
    finally:
        ctx.close()
