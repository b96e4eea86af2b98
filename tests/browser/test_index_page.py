"""The hall's index page in a real Chromium: it lists every configured screen and service."""

from __future__ import annotations

from playwright.sync_api import BrowserContext

from queue_server.site import load_site
from tests.browser.conftest import LiveHall
from tests.support.browser import screenshot_dir


def test_index_lists_services_and_screens(live_hall: LiveHall, context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(live_hall.url("/"))
    site = load_site(None)
    body = page.inner_text("body")
    for service in site.services.values():
        assert service.name_zh in body
    page.screenshot(path=screenshot_dir("index") / "index-zh.png", full_page=True)


def test_socketio_client_is_served_locally(live_hall: LiveHall, context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(live_hall.url("/"))
    page.add_script_tag(url=live_hall.url("/vendor/socket.io.min.js"))
    assert page.evaluate("typeof io") == "function"
