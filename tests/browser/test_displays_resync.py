"""A screen resynchronises after a server restart and after a network loss, shows the
"connection lost" banner within 10 s meanwhile, hides it once resynced, and never shows the
stale call: the call it showed before was finished while it was away.

The server here can be stopped and started again on the same port and database (the page
keeps its URL), unlike the shared ``live_hall``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from queue_server.domain.tickets import Action
from queue_server.persistence.engine import Database
from queue_server.services import actions, issuing
from queue_server.services.context import HallContext
from tests.browser.conftest import LiveHall, start_hall_env
from tests.support.browser import screenshot_dir
from tests.support.server import HallServer

BANNER_DEADLINE_MS = 10_000
RESYNC_MS = 15_000


Served = tuple[LiveHall, HallServer]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    _env, hall = start_hall_env(tmp_path_factory.mktemp("resync"))
    server = HallServer(hall.env, hall.log)
    hall.base = server.base
    with server:
        for counter in ("reg-1", "reg-2"):
            assert hall.api("POST", f"/counters/{counter}/state", json={"state": "open"}).ok
        yield hall, server


@pytest.fixture
def screen(browser: Browser, served: Served) -> Iterator[Page]:
    hall = served[0]
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    token = hall.display_tokens["hall"]
    context.add_init_script(f"localStorage.setItem('queue.device_token', '{token}')")
    page = context.new_page()
    page.goto(hall.url("/display/hall"))
    wait_online(page)
    yield page
    context.close()


def wait_online(page: Page, timeout: int = RESYNC_MS) -> None:
    page.wait_for_function("() => window.screenState && window.screenState.online", timeout=timeout)


def call(hall: LiveHall, counter: str = "reg-1") -> dict[str, Any]:
    issued = hall.api("POST", "/tickets", json={"service_id": "reg"})
    assert issued.status_code == 201, issued.text
    called = hall.api("POST", f"/counters/{counter}/call-next")
    assert called.status_code == 200, called.text
    return issued.json()


def shows(page: Page, ticket: dict[str, Any]) -> None:
    expect(page.locator("#hero")).to_have_attribute(
        "data-ticket-id", str(ticket["id"]), timeout=RESYNC_MS
    )
    card = page.locator(".counter-card[data-counter-id='reg-1'] .counter-number")
    expect(card).to_have_text(ticket["number"], timeout=RESYNC_MS)


def state(page: Page) -> Any:
    """The screen's link state, for failure messages."""
    return page.evaluate(
        "() => ({connected: window.screenSocket && window.screenSocket.connected,"
        " ...Object.fromEntries(['online', 'awaitingSnapshot', 'connects', 'offlineReason']"
        ".map((k) => [k, window.screenState[k]]))})"
    )


def banner_within_deadline(page: Page) -> None:
    expect(page.locator("#offline-banner")).to_be_visible(timeout=BANNER_DEADLINE_MS)


def test_network_loss_then_resync_without_the_stale_call(
    screen: Page, served: Served, browser: Browser
) -> None:
    hall = served[0]
    first = call(hall)
    shows(screen, first)
    connects = screen.evaluate("() => window.screenState.connects")

    screen.context.set_offline(True)
    banner_within_deadline(screen)  # the browser's "offline" event: at once
    # Chromium's offline emulation fails fetches and new connections but may leave an open
    # WebSocket running. The loss is real for the screen once its heartbeat (whose fetch fails
    # now) has dropped the socket, or the socket died by itself: only then does the hall change,
    # so nothing of it can reach the page before the resync.
    try:
        screen.wait_for_function(
            "() => !window.screenSocket.connected && window.screenState.awaitingSnapshot",
            timeout=RESYNC_MS,
        )
    except PlaywrightTimeout as exc:
        raise AssertionError(f"the socket stayed up while offline: {state(screen)}") from exc
    # while the screen is cut off: the first ticket is finished and another is called
    finished = hall.api("POST", f"/tickets/{first['id']}/finish")
    assert finished.status_code == 200, finished.text
    second = call(hall)
    assert first["number"] in screen.inner_text("#hero")  # still the old one, but dimmed
    assert screen.evaluate("() => document.body.classList.contains('offline')")

    screen.context.set_offline(False)
    wait_online(screen)
    expect(screen.locator("#offline-banner")).to_be_hidden()
    shows(screen, second)
    assert screen.locator(f"[data-ticket-id='{first['id']}']").count() == 0
    assert screen.evaluate("() => window.screenState.connects") > connects
    screen.screenshot(path=screenshot_dir("displays") / "hall-after-network-loss.png")


def _db_context(hall: LiveHall) -> HallContext:
    """The hall's database and site file (its zone, so its business day) without a server
    (the publisher sends nothing: nobody listens)."""
    return HallContext(site=hall.site, db=Database(f"sqlite:///{hall.instance / 'queue.sqlite3'}"))


def test_server_restart_then_resync_without_the_stale_call(screen: Page, served: Served) -> None:
    hall, server = served
    before = call(hall)
    shows(screen, before)

    server.stop()
    banner_within_deadline(screen)
    # while the server is down the database changes (an operator script, another process):
    # the ticket on the screen is finished and the next one is called
    ctx = _db_context(hall)
    try:
        issued, _ = issuing.issue_ticket(ctx, service_id="reg", actor="test", by_device=False)
        actions.act(ctx, before["id"], Action.FINISH, "test")
        result = actions.call_next(ctx, "reg-1", "test")
    finally:
        ctx.db.dispose()
    assert result["ticket"]["id"] == issued["id"]
    server.start()

    wait_online(screen)
    expect(screen.locator("#offline-banner")).to_be_hidden()
    shows(screen, issued)
    assert screen.locator(f"[data-ticket-id='{before['id']}']").count() == 0
