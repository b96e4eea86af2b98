"""The hall board shows every counter it is configured for, legibly, in both orientations.

Chromium against real servers: the demo hall (``live_hall``, 11 counters on the ``hall``
screen) and a generated site derived from the demo where the ``hall`` screen has 24 counters
and a ``hall-xl`` screen has 54 counters and 10 services. Every tile shown must lie fully in
the viewport with its ticket number at least ``MIN_NUMBER_PX``; the "next up" panel must not
clip a service. Where even the minimum size cannot hold everything, the board pages, and
every counter and service is shown on some page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from queue_server.site import DEMO_SITE, load_site
from tests.browser.conftest import LiveHall, start_hall_env
from tests.support.browser import screenshot_dir
from tests.support.server import serving
from tests.support.sites import midday_site

TIMEOUT_MS = 10_000
PAGE_TURN_MS = 20_000  # the board turns a page every 6 s
MIN_NUMBER_PX = 28  # tile and next-up ticket numbers with a 1080-pixel short side
LANDSCAPE = {"width": 1920, "height": 1080}
PORTRAIT = {"width": 1080, "height": 1920}
EXTRA_SERVICES = 6  # services x1..x6 of the generated site, 5 counters each
XL_SERVICES = ["reg", "blood", "pharmacy", "us"] + [f"x{k}" for k in range(1, 7)]

GEOMETRY = """() => {
    const vw = window.innerWidth, vh = window.innerHeight;
    const within = (r, b) => r.left >= b.left - 0.5 && r.top >= b.top - 0.5
        && r.right <= b.right + 0.5 && r.bottom <= b.bottom + 0.5;
    const view = {left: 0, top: 0, right: vw, bottom: vh};
    const shown = (sel) => [...document.querySelectorAll(sel)].filter(e => e.offsetParent !== null);
    const tiles = shown('#main .counter-card').map(t => {
        const r = t.getBoundingClientRect();
        const num = t.querySelector('.counter-number');
        return {
            id: t.dataset.counterId,
            in_view: within(r, view),
            number_in_tile: within(num.getBoundingClientRect(), r),
            not_cut: t.scrollWidth <= t.clientWidth + 1 && t.scrollHeight <= t.clientHeight + 1,
            font: parseFloat(getComputedStyle(num).fontSize),
        };
    });
    const panel = document.querySelector('#main .queues');
    const box = panel.getBoundingClientRect();
    const services = shown('#main .queues .svc').map(s => {
        const item = s.querySelector('.next-list li');
        return {
            id: s.dataset.serviceId,
            in_panel: within(s.getBoundingClientRect(), box),
            font: item ? parseFloat(getComputedStyle(item).fontSize) : null,
        };
    });
    const {metrics, svcGroups, ...layout} = window.screenState.layout;
    return {
        tiles, services, layout,
        panel_in_view: within(box, view),
        panel_clipped: panel.scrollHeight > panel.clientHeight + 1,
        configured: document.querySelectorAll('#main .counter-card').length,
        page_scrolls: document.documentElement.scrollHeight > vh
            || document.documentElement.scrollWidth > vw,
    };
}"""


def generated_site(folder: Path) -> Path:
    """The demo site plus 13 pharmacy windows (the ``hall`` screen: 24 counters) and six
    services of five windows each on a ``hall-xl`` screen (54 counters, 10 services)."""
    parts = [DEMO_SITE.read_text(encoding="utf-8")]
    for i in range(4, 17):
        parts.append(
            f'[[counters]]\nid = "pharm-{i}"\nname_zh = "{i}号取药窗口"\n'
            f'name_en = "Pharmacy Window {i}"\nservices = ["pharmacy"]\n'
        )
    for k, prefix in zip(range(1, EXTRA_SERVICES + 1), "HJKLMN", strict=True):
        parts.append(
            f'[[services]]\nid = "x{k}"\nname_zh = "专科{k}门诊"\n'
            f'name_en = "Specialist Clinic {k}"\nprefix = "{prefix}"\nkind = "window"\n'
            "number_range = [1, 999]\ntarget_wait_minutes = 10\ndefault_service_minutes = 2\n"
        )
        for j in range(1, 6):
            parts.append(
                f'[[counters]]\nid = "x{k}-{j}"\nname_zh = "专科{k}-{j}号窗口"\n'
                f'name_en = "Specialist {k} Window {j}"\nservices = ["x{k}"]\n'
            )
    services = ", ".join(f'"{s}"' for s in XL_SERVICES)
    parts.append(
        f'[[displays]]\nid = "hall-xl"\nname = "大厅总屏"\nkind = "hall"\n'
        f"services = [{services}]\nenglish_line = true\n"
    )
    return midday_site(folder, "\n".join(parts))  # real clock: far from the hall's midnight


@pytest.fixture(scope="module")
def big_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    folder = tmp_path_factory.mktemp("big-hall")
    site = generated_site(folder)
    loaded = load_site(str(site))
    assert len(loaded.counters) == 14 + 13 + 5 * EXTRA_SERVICES
    env, hall = start_hall_env(folder / "instance", site_file=str(site))
    with serving(env, hall.log) as base:
        hall.base = base
        populate(
            hall,
            [("reg", "reg-1"), ("pharmacy", "pharm-16"), ("x6", "x6-5")]
            + [(f"x{k}", None) for k in range(1, EXTRA_SERVICES + 1)],
        )
        yield hall


@pytest.fixture(scope="module")
def demo_hall(live_hall: LiveHall) -> LiveHall:
    populate(live_hall, [("reg", "reg-1"), ("blood", None), ("pharmacy", None)])
    return live_hall


def populate(hall: LiveHall, plan: list[tuple[str, str | None]]) -> None:
    """Calls at some counters (widest names, a two-character surname) and people waiting."""
    for service, counter in plan:
        for _ in range(4):
            r = hall.api(
                "POST", "/tickets", json={"service_id": service, "patient_name": "欧阳小明"}
            )
            assert r.status_code == 201, r.text
        if counter:
            opened = hall.api("POST", f"/counters/{counter}/state", json={"state": "open"})
            assert opened.status_code == 200, opened.text
            called = hall.api("POST", f"/counters/{counter}/call-next")
            assert called.status_code == 200, called.text


def open_board(context: BrowserContext, hall: LiveHall, display_id: str) -> Page:
    token = hall.display_tokens[display_id]
    context.add_init_script(f"localStorage.setItem('queue.device_token', '{token}')")
    page = context.new_page()
    page.goto(hall.url(f"/display/{display_id}"))
    page.wait_for_function(
        "() => window.screenState && window.screenState.online", timeout=TIMEOUT_MS
    )
    return page


def set_orientation(page: Page, viewport: dict[str, int]) -> None:
    page.set_viewport_size(viewport)
    key = f"{viewport['width']}x{viewport['height']}:"
    page.wait_for_function(
        f"() => window.screenState.layout.key.startsWith('{key}')"
        " && window.screenState.layout.tileFont > 0",
        timeout=TIMEOUT_MS,
    )


def check_fits(geometry: dict[str, Any]) -> None:
    """Every tile and service shown is whole, on screen and at least MIN_NUMBER_PX."""
    assert not geometry["page_scrolls"]
    for tile in geometry["tiles"]:
        assert tile["in_view"] and tile["number_in_tile"] and tile["not_cut"], tile
        assert tile["font"] >= MIN_NUMBER_PX, tile
    assert geometry["panel_in_view"] and not geometry["panel_clipped"], geometry["layout"]
    for svc in geometry["services"]:
        assert svc["in_panel"], svc
        assert svc["font"] is None or svc["font"] >= MIN_NUMBER_PX, svc


@pytest.mark.parametrize(
    ("orientation", "viewport"), [("landscape", LANDSCAPE), ("portrait", PORTRAIT)]
)
def test_demo_hall_shows_every_counter(
    demo_hall: LiveHall, context: BrowserContext, orientation: str, viewport: dict[str, int]
) -> None:
    page = open_board(context, demo_hall, "hall")
    set_orientation(page, viewport)
    expect(page.locator(".counter-card[data-counter-id='reg-1'] .counter-number")).not_to_have_text(
        "—", timeout=TIMEOUT_MS
    )
    geometry = page.evaluate(GEOMETRY)
    check_fits(geometry)
    assert geometry["configured"] == 11 and len(geometry["tiles"]) == 11, geometry["layout"]
    assert geometry["layout"]["pages"] == 1 and geometry["layout"]["svcPages"] == 1
    assert {s["id"] for s in geometry["services"]} == {"reg", "blood", "pharmacy", "us"}
    page.screenshot(path=screenshot_dir("displays") / f"layout-demo-hall-{orientation}.png")


@pytest.mark.parametrize(
    ("orientation", "viewport"), [("landscape", LANDSCAPE), ("portrait", PORTRAIT)]
)
def test_24_counters_fit_on_one_page(
    big_hall: LiveHall, context: BrowserContext, orientation: str, viewport: dict[str, int]
) -> None:
    page = open_board(context, big_hall, "hall")
    set_orientation(page, viewport)
    expect(
        page.locator(".counter-card[data-counter-id='pharm-16'] .counter-number")
    ).not_to_have_text("—", timeout=TIMEOUT_MS)
    geometry = page.evaluate(GEOMETRY)
    check_fits(geometry)
    assert geometry["configured"] == 24 and len(geometry["tiles"]) == 24, geometry["layout"]
    assert geometry["layout"]["pages"] == 1, geometry["layout"]
    page.screenshot(path=screenshot_dir("displays") / f"layout-24-counters-{orientation}.png")


@pytest.mark.parametrize(
    ("orientation", "viewport"), [("landscape", LANDSCAPE), ("portrait", PORTRAIT)]
)
def test_more_than_fit_are_paged_not_clipped(
    big_hall: LiveHall, context: BrowserContext, orientation: str, viewport: dict[str, int]
) -> None:
    page = open_board(context, big_hall, "hall-xl")
    set_orientation(page, viewport)
    geometry = page.evaluate(GEOMETRY)
    layout = geometry["layout"]
    assert geometry["configured"] == 54
    assert layout["pages"] >= 2 and layout["svcPages"] >= 2, layout
    seen_tiles: set[str] = set()
    seen_services: set[str] = set()
    turns = max(layout["pages"], layout["svcPages"])  # tiles and services turn together
    for turn in range(turns):
        if turn:
            page.wait_for_function(
                f"() => window.screenState.layout.page !== {geometry['layout']['page']}",
                timeout=PAGE_TURN_MS,
            )
            geometry = page.evaluate(GEOMETRY)
        check_fits(geometry)
        assert len(geometry["tiles"]) <= layout["perPage"]
        seen_tiles |= {t["id"] for t in geometry["tiles"]}
        seen_services |= {s["id"] for s in geometry["services"]}
        page.screenshot(
            path=screenshot_dir("displays") / f"layout-54-counters-{orientation}-{turn + 1}.png"
        )
    assert len(seen_tiles) == 54
    assert seen_services == set(XL_SERVICES)
