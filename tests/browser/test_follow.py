"""The phone follow page in Chromium (phone viewport): live place in line, the alert when called."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, expect

from tests.browser.conftest import LiveHall
from tests.support.browser import screenshot_dir

SHOTS = screenshot_dir("kiosk")


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True
    )
    yield context
    context.close()


def kiosk_ticket(hall: LiveHall, service_id: str) -> dict:
    r = requests.post(
        hall.url("/api/v1/tickets"),
        json={"service_id": service_id},
        headers={"Authorization": f"Bearer {hall.kiosk_tokens['kiosk-2']}"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_follow_page_updates_live_and_alerts_when_called(
    live_hall: LiveHall, phone: BrowserContext
) -> None:
    hall = live_hall
    hall.api("POST", "/counters/pharm-1/state", json={"state": "open"}).raise_for_status()
    first = kiosk_ticket(hall, "pharmacy")
    mine = kiosk_ticket(hall, "pharmacy")
    page = phone.new_page()
    page.goto(hall.url(mine["follow_url"] + "?poll=1"))
    expect(page.locator("#f-number")).to_have_text(mine["number"])
    expect(page.locator("#f-ahead")).to_have_text("1")
    expect(page.locator("#f-state")).to_contain_text("排队等候中")
    expect(page.locator("#f-where")).to_contain_text("一楼西侧 门诊药房")
    page.click("#f-alert")  # the tap that lets the page make a sound later
    expect(page.locator("#f-alert")).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=SHOTS / "follow-waiting-phone.png", full_page=True)

    # the patient ahead is called: one fewer ahead, without reloading
    hall.api(
        "POST", f"/tickets/{first['id']}/call", json={"counter_id": "pharm-1"}
    ).raise_for_status()
    expect(page.locator("#f-ahead")).to_have_text("0", timeout=10000)
    assert page.locator("body").get_attribute("data-alerted") == "0"

    # this ticket is called: the state says where to go, and the alert fired
    hall.api("POST", f"/tickets/{first['id']}/finish").raise_for_status()
    hall.api(
        "POST", f"/tickets/{mine['id']}/call", json={"counter_id": "pharm-1"}
    ).raise_for_status()
    expect(page.locator("body")).to_have_attribute("data-status", "called", timeout=10000)
    expect(page.locator("#f-state")).to_contain_text("请到 1号取药窗口")
    expect(page.locator("#f-state")).to_contain_text("Pharmacy Window 1")
    expect(page.locator("body")).to_have_attribute("data-alerted", "1")
    expect(page.locator("body")).to_have_attribute("data-alert-sound", "1")
    assert "到您了" in page.title()
    page.screenshot(path=SHOTS / "follow-called-phone.png", full_page=True)

    # served and done: the page says so and stops asking
    hall.api("POST", f"/tickets/{mine['id']}/finish").raise_for_status()
    expect(page.locator("body")).to_have_attribute("data-status", "done", timeout=10000)
    body = page.inner_text("body")
    assert "*" not in body  # no name, not even a masked one


def test_unknown_follow_link_says_so(live_hall: LiveHall, phone: BrowserContext) -> None:
    page = phone.new_page()
    response = page.goto(live_hall.url("/follow/this-is-not-a-token"))
    assert response is not None and response.status == 404
    expect(page.locator(".gone")).to_contain_text("找不到这张号票")
