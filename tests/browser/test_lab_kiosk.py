"""The lab-report kiosk page in Chromium against a real server: scan, second check, not-final
time, preview, print on the virtual printer (its PNG's CODE128 decodes to the specimen id),
already printed → counter. Screenshots in test-artifacts/screenshots/lab/."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from pathlib import Path

import pytest
import requests
import zxingcpp
from PIL import Image
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import LiveHall
from tests.lab.conftest import HL7, fixture_bytes
from tests.support.browser import screenshot_dir
from tests.support.server import add_device

SHOTS = screenshot_dir("lab")


@pytest.fixture(scope="module")
def lis(live_hall: LiveHall) -> dict[str, str]:
    return {"Authorization": f"Bearer {add_device(live_hall.env, 'lis', 'lis-1')}"}


def send(hall: LiveHall, lis: dict[str, str], message: bytes) -> None:
    resp = requests.post(
        hall.url("/api/v1/lab/hl7"),
        data=message,
        headers={**lis, "Content-Type": HL7},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    assert "MSA|AA|" in resp.text


def receipt(hall: LiveHall, specimen_id: str) -> str:
    [report] = hall.api("GET", f"/lab/reports?specimen_id={specimen_id}").json()["reports"]
    resp = hall.api("POST", f"/lab/reports/{report['id']}/receipt-token")
    assert resp.status_code == 201, resp.text
    return resp.json()["receipt_token"]


def kiosk_page(context: BrowserContext, hall: LiveHall, kiosk_id: str) -> Page:
    token = hall.kiosk_tokens[kiosk_id]
    context.add_init_script(f"localStorage.setItem('queue.device_token', '{token}')")
    page = context.new_page()
    page.goto(hall.url(f"/kiosk/{kiosk_id}/lab"))
    expect(page.locator("#screen-scan")).to_be_visible()
    return page


def scan_and_check(page: Page, token: str, birth: str) -> None:
    page.locator("#scan-input").focus()
    page.keyboard.type(token)  # what a USB barcode scanner does: keystrokes, then Enter
    page.keyboard.press("Enter")
    expect(page.locator("#screen-check")).to_be_visible()
    for digit in birth:
        page.locator(f"#keypad button[data-key='{digit}']").click()


def wait_for_png(folder: Path, deadline_s: float = 30) -> Path:
    end = time.monotonic() + deadline_s
    while True:
        pngs = sorted(folder.glob("*.png"))
        if pngs:
            return pngs[-1]
        assert time.monotonic() < end, f"no PNG in {folder}"
        time.sleep(0.1)  # polling interval of a bounded wait for the printer's file


def test_final_report_prints_once(
    live_hall: LiveHall, lis: dict[str, str], context: BrowserContext
) -> None:
    send(live_hall, lis, fixture_bytes("oru_cbc_final.hl7"))
    token = receipt(live_hall, "2611230001")
    page = kiosk_page(context, live_hall, "kiosk-1")
    page.screenshot(path=SHOTS / "01-scan.png")
    scan_and_check(page, token, "19800512")
    expect(page.locator("#check-display")).to_have_text("1980-05-12")
    page.screenshot(path=SHOTS / "02-second-check.png")
    page.locator("#check-ok").click()
    expect(page.locator("#screen-preview")).to_be_visible()
    expect(page.locator("#slip-lines tr")).to_have_count(5)
    expect(page.locator("#slip-patient")).to_contain_text("张*三")
    assert "张小三" not in page.content()
    page.screenshot(path=SHOTS / "03-preview.png")
    page.locator("#print-btn").click()
    expect(page.locator("#done-text")).to_have_text("请取走您的报告单")
    expect(page.locator("#done-badge")).to_have_text("打印完成", timeout=30_000)
    page.screenshot(path=SHOTS / "04-take-your-slip.png")

    png = wait_for_png(live_hall.instance / "printouts" / "kiosk-1")
    shutil.copy(png, SHOTS / "05-slip.png")
    codes = zxingcpp.read_barcodes(Image.open(png))
    assert any(
        c.format == zxingcpp.BarcodeFormat.Code128 and c.text == "2611230001" for c in codes
    ), [(c.format, c.text) for c in codes]

    # the same receipt at the other kiosk: already printed, go to the counter
    other = kiosk_page(context, live_hall, "kiosk-2")
    scan_and_check(other, token, "19800512")
    other.locator("#check-ok").click()
    expect(other.locator("#message-text")).to_have_text(
        "报告单已打印过，如需补打请到一楼检验科 5号窗口"  # noqa: RUF001
    )
    other.screenshot(path=SHOTS / "06-already-printed.png")


def test_not_final_shows_when_to_come_back(
    live_hall: LiveHall, lis: dict[str, str], context: BrowserContext
) -> None:
    # Drawn 5 minutes ago in the hall's zone, the one the kiosk shows the ready time in.
    drawn = dt.datetime.now(live_hall.site.timezone) - dt.timedelta(minutes=5)
    message = fixture_bytes("oru_lft_preliminary.hl7").replace(
        b"20261123091000+0800", drawn.strftime("%Y%m%d%H%M%S%z").encode()
    )
    send(live_hall, lis, message)
    token = receipt(live_hall, "2611230002")
    page = kiosk_page(context, live_hall, "kiosk-1")
    scan_and_check(page, token, "19561103")
    page.locator("#check-ok").click()
    expect(page.locator("#screen-wait")).to_be_visible()
    ready = (drawn + dt.timedelta(minutes=120)).strftime("%H:%M")
    text = page.locator("#wait-text").inner_text()
    assert re.fullmatch(rf"预计 {ready} 可取（约 11[45] 分钟）", text), text  # noqa: RUF001
    page.screenshot(path=SHOTS / "07-not-final-zh.png")
    page.locator("#lang").click()
    assert re.fullmatch(
        rf"Expected at {ready} \(about 11[45] min\)", page.locator("#wait-text").inner_text()
    )
    page.screenshot(path=SHOTS / "08-not-final-en.png")


def test_wrong_birth_date_is_refused(live_hall: LiveHall, context: BrowserContext) -> None:
    token = receipt(live_hall, "2611230001")
    page = kiosk_page(context, live_hall, "kiosk-2")
    scan_and_check(page, token, "19990101")
    page.locator("#check-ok").click()
    expect(page.locator("#message-text")).to_have_text("验证信息不符，还可尝试 4 次")  # noqa: RUF001
    page.screenshot(path=SHOTS / "09-check-failed.png")
