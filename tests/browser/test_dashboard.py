"""The manager dashboard, the public load page and the phone rating in a real Chromium.

A live demo hall gets three weeks of simulated history (``queue-server metrics generate``)
plus a few tickets today; screenshots go to test-artifacts/screenshots/metrics/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import PASSWORDS, LiveHall, start_hall_env
from tests.support.browser import screenshot_dir
from tests.support.server import cli, serving


@pytest.fixture(scope="module")
def seeded_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    env, hall = start_hall_env(tmp_path_factory.mktemp("metrics-hall"))
    cli(env, "metrics", "generate", "--days", "21", "--scale", "0.6")
    with serving(env, hall.log) as base:
        hall.base = base
        for counter in ("reg-1", "blood-1", "blood-2", "pharm-1"):
            assert hall.api("POST", f"/counters/{counter}/state", json={"state": "open"}).ok
        for service, n in (("blood", 9), ("reg", 5), ("pharmacy", 4), ("im1", 3)):
            for _ in range(n):
                assert hall.api("POST", "/tickets", json={"service_id": service}).ok
        yield hall


def _login(context: BrowserContext, hall: LiveHall) -> None:
    page = context.new_page()
    page.goto(hall.url("/dashboard"))
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", PASSWORDS["manager"])
    page.click("button[type=submit]")
    expect(page.locator("#live-table")).to_be_visible(timeout=15_000)
    page.close()


def test_dashboard_with_history(seeded_hall: LiveHall, context: BrowserContext) -> None:
    _login(context, seeded_hall)
    page = context.new_page()
    page.goto(seeded_hall.url("/dashboard"))
    blood = page.locator("#live-table tr[data-service=blood] td")
    expect(blood.nth(1)).to_have_text("9")  # waiting now
    kpis = page.locator("#kpis").inner_text()
    arrivals = int(kpis.split("Arrivals")[1].split()[0])
    assert arrivals > 5000  # three weeks of the demo hall
    assert page.locator("svg.chart").count() >= 6
    assert page.locator("#plan-table td.a1, #plan-table td.a2, #plan-table td.a3").count() > 10
    page.screenshot(path=screenshot_dir("metrics") / "dashboard.png", full_page=True)
    page.select_option("select[name=by]", "hour")
    page.select_option("select[name=service_id]", "blood")
    with page.expect_navigation(timeout=30_000):  # a GET form: the whole page comes again
        page.click("form.filters button[type=submit]")
    expect(page.locator("#summary-table")).to_contain_text("09时", timeout=20_000)
    page.screenshot(path=screenshot_dir("metrics") / "dashboard-blood-by-hour.png", full_page=True)
    with page.expect_download() as download:
        page.click("#exports a[href*='kind=summary'][href*='format=xlsx']")
    assert download.value.suggested_filename.endswith("-blood.xlsx")


def test_login_is_required(seeded_hall: LiveHall, context: BrowserContext) -> None:
    page = context.new_page()
    response = page.goto(seeded_hall.url("/dashboard"))
    assert response is not None and response.status == 401
    expect(page.locator("form#login")).to_be_visible()
    page.fill("input[name=username]", "staff")
    page.fill("input[name=password]", PASSWORDS["staff"])
    page.click("button[type=submit]")
    expect(page.locator("text=此账号无权查看看板")).to_be_visible(timeout=10_000)


def test_public_load_page(seeded_hall: LiveHall, context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(seeded_hall.url("/load"))
    expect(page.locator("h1")).to_contain_text("错峰就诊")
    assert page.locator("table.load[data-service=blood] td.lv4").count() >= 1
    page.screenshot(path=screenshot_dir("metrics") / "load.png", full_page=True)


def test_phone_rating_after_service(seeded_hall: LiveHall, context: BrowserContext) -> None:
    hall = seeded_hall
    t = hall.api("POST", "/tickets", json={"service_id": "us"}).json()
    assert hall.api("POST", "/counters/us-1/state", json={"state": "open"}).ok
    assert hall.api("POST", f"/tickets/{t['id']}/call", json={"counter_id": "us-1"}).ok
    assert hall.api("POST", f"/tickets/{t['id']}/finish").ok
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(hall.url(t["follow_url"]))
    expect(page.locator("#rating")).to_be_visible(timeout=15_000)
    page.screenshot(path=screenshot_dir("metrics") / "follow-rating.png", full_page=True)
    page.click("#rating button[data-score='4']")
    expect(page.locator("#rating-done")).to_be_visible()
    state = hall.api("GET", f"/follow/{t['follow_url'].rsplit('/', 1)[1]}/rating").json()
    assert state["rated"] is True and state["score"] == 4
