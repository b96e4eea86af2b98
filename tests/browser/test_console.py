"""The staff console in Debian's Chromium against a real demo hall server: a full shift in
miniature, keyboard-only operation, two consoles racing on "call next", the nurse desk, and the
printers / lab-slip tools. Screenshots go to test-artifacts/screenshots/console/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import PASSWORDS, LiveHall
from tests.support.browser import screenshot_dir
from tests.support.server import add_user

SHOTS = screenshot_dir("console")
TIMEOUT = 20_000  # generous: the CI machine runs other suites alongside
STAFF2 = ("staff2", "staff2-pass-1")


@pytest.fixture(scope="module")
def second_staff(live_hall: LiveHall) -> tuple[str, str]:
    add_user(live_hall.env, STAFF2[0], "staff", STAFF2[1])
    return STAFF2


@pytest.fixture
def other_context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
    yield ctx
    ctx.close()


def issue(hall: LiveHall, service: str, **body: Any) -> dict[str, Any]:
    r = hall.api("POST", "/tickets", json={"service_id": service, **body})
    assert r.status_code == 201, r.text
    return r.json()


def log_in(page: Page, hall: LiveHall, path: str, user: str = "staff", password: str = "") -> None:
    page.goto(hall.url(path))
    page.fill("#login [name=username]", user)
    page.fill("#login [name=password]", password or PASSWORDS[user])
    page.click("#login button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=TIMEOUT)
    # The /staff socket joined its rooms (common.js sets data-live on connect); the
    # #conn class starts as "conn off", which a bare /on/ search would already match.
    expect(page.locator("body")).to_have_attribute("data-live", "1", timeout=TIMEOUT)


def state_of(page: Page) -> str:
    """What the console says and holds, for assertion messages."""
    return page.evaluate(
        "() => [document.getElementById('msg').textContent, document.body.dataset.busy,"
        " document.body.dataset.loading,"
        " document.getElementById('current').dataset.number,"
        " document.getElementById('current').dataset.status].join(' | ')"
    )


def idle(page: Page) -> None:
    """Wait until the page has no action queued and no refresh on the way."""
    body = page.locator("body")
    expect(body).to_have_attribute("data-busy", "0", timeout=TIMEOUT)
    expect(body).to_have_attribute("data-loading", "0", timeout=TIMEOUT)


def current(page: Page) -> Any:
    return page.locator("#current")


def row(page: Page, number: str) -> Any:
    return page.locator(f"tr.row[data-number='{number}']").first


def shot(page: Page, name: str) -> None:
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def ticket(hall: LiveHall, ticket_id: int) -> dict[str, Any]:
    r = hall.api("GET", f"/tickets/{ticket_id}")
    assert r.status_code == 200, r.text
    return r.json()


# ------------------------------------------------------------------ a shift in miniature


def test_full_shift_in_miniature(live_hall: LiveHall, context: BrowserContext) -> None:
    """Blood window 1: call, recall, no-show, return, transfer, send for tests, finish —
    by buttons, with the current ticket, the lists and the screens following each step."""
    t = [issue(live_hall, "blood", patient_name=n) for n in ("张小三", "李四", "王五", "赵六")]
    page = context.new_page()
    log_in(page, live_hall, "/console?counter=blood-1")
    shot(page, "shift-01-ready")
    # Masked names only, the full name never reaches the page.
    expect(row(page, t[0]["number"])).to_contain_text("张*三", timeout=TIMEOUT)
    assert "张小三" not in page.content()

    page.click("button[data-action=open]")
    expect(page.locator("#counter-state")).to_have_class(re.compile("open"), timeout=TIMEOUT)
    page.click("button[data-action=call-next]")
    expect(current(page)).to_have_attribute("data-number", t[0]["number"], timeout=TIMEOUT)
    expect(page.locator("#cur-name")).to_have_text("张*三", timeout=TIMEOUT)
    expect(page.locator("#cur-timer")).to_have_text(re.compile(r"\d\d:\d\d"), timeout=TIMEOUT)
    snap = live_hall.api("GET", "/displays/blood-zone/snapshot").json()
    assert [c["ticket"]["number"] for c in snap["now_calling"]] == [t[0]["number"]]
    shot(page, "shift-02-called")

    page.click("button[data-action=recall]")
    expect(page.locator("#msg")).to_contain_text("recall", timeout=TIMEOUT)
    expect(page.locator("#calls li").first).to_contain_text("recall", timeout=TIMEOUT)
    assert ticket(live_hall, t[0]["id"])["status"] == "called"

    page.click("button[data-action=no-show]")
    expect(current(page)).to_have_attribute("data-number", "", timeout=TIMEOUT)
    expect(row(page, t[0]["number"])).to_have_attribute("data-status", "no_show", timeout=TIMEOUT)
    shot(page, "shift-03-no-show")

    page.click("button[data-action=call-next]")
    expect(current(page)).to_have_attribute("data-number", t[1]["number"], timeout=TIMEOUT)
    page.click("button[data-action=start]")
    expect(current(page)).to_have_attribute("data-status", "serving", timeout=TIMEOUT)
    page.click("button[data-action=send-for-tests]")
    expect(row(page, t[1]["number"])).to_have_attribute("data-status", "on_leave", timeout=TIMEOUT)

    # Return the missed patient: pick the row, press the button.
    row(page, t[0]["number"]).click()
    expect(page.locator("#selected")).to_contain_text(t[0]["number"], timeout=TIMEOUT)
    page.click("button[data-action=return]")
    expect(row(page, t[0]["number"])).to_have_attribute("data-status", "waiting", timeout=TIMEOUT)
    shot(page, "shift-04-returned")

    # Call next: 王五 (the returned patient re-entered after N on-time patients).
    page.click("button[data-action=call-next]")
    expect(current(page)).to_have_attribute("data-number", t[2]["number"], timeout=TIMEOUT)
    # Transfer 王五 to the pharmacy, end of the line.
    page.click("button[data-action=transfer]")
    page.select_option("#transfer [name=service_id]", "pharmacy")
    page.select_option("#transfer [name=position]", "end")
    shot(page, "shift-05-transfer-dialog")
    page.click("#transfer button[value=yes]")
    expect(page.locator("#msg")).to_contain_text("transferred", timeout=TIMEOUT)
    expect(current(page)).to_have_attribute("data-number", "", timeout=TIMEOUT)
    assert ticket(live_hall, t[2]["id"])["status"] == "transferred"
    pharmacy = live_hall.api("GET", "/services/pharmacy/queue").json()
    assert t[2]["number"] in [r["number"] for r in pharmacy["waiting"]]

    # The one sent for tests comes back; then call and finish the rest of the line.
    row(page, t[1]["number"]).click()
    page.click("button[data-action=return]")
    expect(row(page, t[1]["number"])).to_have_attribute("data-status", "waiting", timeout=TIMEOUT)
    seen = []
    for _ in range(3):
        before = current(page).get_attribute("data-number")
        page.click("button[data-action=call-next]")
        expect(current(page)).not_to_have_attribute("data-number", before or "", timeout=TIMEOUT)
        seen.append(current(page).get_attribute("data-number"))
    assert sorted(seen) == sorted([t[0]["number"], t[1]["number"], t[3]["number"]])
    page.click("button[data-action=finish]")
    expect(current(page)).to_have_attribute("data-number", "", timeout=TIMEOUT)
    shot(page, "shift-06-finished")
    statuses = {ticket(live_hall, x["id"])["status"] for x in (t[0], t[1], t[3])}
    assert statuses == {"done"}  # call next finished each one (finish_on_call_next)


def test_stale_action_gets_a_clear_message_and_a_refresh(
    live_hall: LiveHall, context: BrowserContext
) -> None:
    """Someone else finishes my current patient meanwhile: my no-show is refused with
    ticket.changed, the page says so and shows the fresh state — nothing is overwritten."""
    t = issue(live_hall, "blood")
    page = context.new_page()
    log_in(page, live_hall, "/console?counter=blood-2")
    page.click("button[data-action=open]")
    expect(page.locator("button[data-action=call-next]")).to_be_enabled(timeout=TIMEOUT)
    page.click("button[data-action=call-next]")
    expect(current(page)).to_have_attribute("data-number", t["number"], timeout=TIMEOUT)
    # Cut the page's live link (as a flaky network would), then change the ticket behind it.
    page.evaluate("Console.sockets.forEach((s) => s.disconnect())")
    expect(page.locator("#conn")).to_have_class(re.compile("off"), timeout=TIMEOUT)
    # Let what the page already had on the way land first (call next's own refresh), so
    # the change below is one it cannot have seen.
    idle(page)
    v = ticket(live_hall, t["id"])["version"]
    r = live_hall.api("POST", f"/tickets/{t['id']}/start", json={"expected_version": v})
    assert r.status_code == 200
    page.click("button[data-action=no-show]")
    expect(page.locator("#msg")).to_contain_text("changed meanwhile", timeout=TIMEOUT)
    expect(page.locator("#msg")).to_have_attribute("data-kind", "error", timeout=TIMEOUT)
    expect(current(page)).to_have_attribute("data-status", "serving", timeout=TIMEOUT)
    assert ticket(live_hall, t["id"])["status"] == "serving"
    shot(page, "stale-action-refused")
    page.click("button[data-action=finish]")
    expect(current(page)).to_have_attribute("data-number", "", timeout=TIMEOUT)


# ------------------------------------------------------------------ keyboard only


def test_keyboard_only_operation(live_hall: LiveHall, context: BrowserContext) -> None:
    """No mouse at all: log in, choose the counter, open it, call, recall, start, finish,
    no-show, return, transfer, send for tests, cancel, pause and close — keys only."""
    t = [issue(live_hall, "reg") for _ in range(4)]
    page = context.new_page()
    page.goto(live_hall.url("/console"))
    page.evaluate("localStorage.removeItem('console.counter')")
    page.reload()
    expect(page.locator("#login [name=username]")).to_be_focused(timeout=TIMEOUT)
    page.keyboard.type("staff")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORDS["staff"])
    page.keyboard.press("Enter")
    chooser = page.locator("#choose select")
    expect(chooser).to_be_focused(timeout=TIMEOUT)
    options = chooser.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
    for _ in range(options.index("reg-2")):
        page.keyboard.press("ArrowDown")
    expect(chooser).to_have_value("reg-2", timeout=TIMEOUT)
    page.keyboard.press("Enter")
    expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=TIMEOUT)
    expect(page.locator("#counter-name")).to_contain_text("2号窗口", timeout=TIMEOUT)
    expect(page.locator("#keys")).to_contain_text("Call next")  # the shortcuts are on screen
    shot(page, "keyboard-01-ready")

    def press(key: str) -> None:
        page.keyboard.press(key)

    press("o")
    expect(page.locator("#counter-state")).to_have_class(re.compile("open"), timeout=TIMEOUT)
    press("n")
    expect(current(page)).to_have_attribute("data-number", t[0]["number"], timeout=TIMEOUT)
    press("r")
    expect(page.locator("#msg")).to_contain_text("recall", timeout=TIMEOUT)
    press("s")
    expect(current(page)).to_have_attribute("data-status", "serving", timeout=TIMEOUT)
    press("f")
    expect(current(page)).to_have_attribute("data-number", "", timeout=TIMEOUT)
    press("n")
    expect(current(page)).to_have_attribute("data-number", t[1]["number"], timeout=TIMEOUT)
    press("m")
    expect(row(page, t[1]["number"])).to_have_attribute("data-status", "no_show", timeout=TIMEOUT)
    # Select the missed ticket with the arrow keys, then B returns it.
    selected = page.locator("tr.row.selected")
    for _ in range(12):
        press("ArrowDown")
        expect(selected).to_have_count(1, timeout=TIMEOUT)
        if selected.get_attribute("data-number") == t[1]["number"]:
            break
    expect(selected).to_have_attribute("data-number", t[1]["number"], timeout=TIMEOUT)
    shot(page, "keyboard-02-selected")
    press("b")
    expect(row(page, t[1]["number"])).to_have_attribute("data-status", "waiting", timeout=TIMEOUT)
    press("Escape")
    press("n")
    expect(current(page)).to_have_attribute("data-number", t[2]["number"], timeout=TIMEOUT)
    # T: the dialog opens on the service list; arrows pick the service, Enter confirms.
    press("t")
    expect(page.locator("#transfer")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#transfer [name=service_id]")).to_be_focused(timeout=TIMEOUT)
    services = page.locator("#transfer [name=service_id] option").evaluate_all(
        "(os) => os.map((o) => o.value)"
    )
    for _ in range(services.index("pharmacy")):
        press("ArrowDown")
    expect(page.locator("#transfer [name=service_id]")).to_have_value("pharmacy", timeout=TIMEOUT)
    shot(page, "keyboard-03-transfer")
    press("Enter")
    expect(page.locator("#transfer")).to_be_hidden(timeout=TIMEOUT)
    expect(page.locator("#msg")).to_contain_text("transferred", timeout=TIMEOUT)
    assert ticket(live_hall, t[2]["id"])["status"] == "transferred"
    press("n")
    expect(current(page)).to_have_attribute("data-number", t[3]["number"], timeout=TIMEOUT)
    press("e")
    try:
        expect(row(page, t[3]["number"])).to_have_attribute(
            "data-status", "on_leave", timeout=TIMEOUT
        )
    except AssertionError as exc:
        raise AssertionError(f"console: {state_of(page)}") from exc
    # C on the current ticket: the returned one, called again by N.
    press("n")
    expect(current(page)).to_have_attribute("data-number", t[1]["number"], timeout=TIMEOUT)
    press("c")
    expect(page.locator("#cancel")).to_be_visible(timeout=TIMEOUT)
    press("Enter")
    expect(current(page)).to_have_attribute("data-number", "", timeout=TIMEOUT)
    assert ticket(live_hall, t[1]["id"])["status"] == "cancelled"
    press("p")
    expect(page.locator("#counter-state")).to_have_class(re.compile("paused"), timeout=TIMEOUT)
    press("n")  # call next is off while paused: a message, no call
    expect(page.locator("#msg")).to_contain_text("not possible now", timeout=TIMEOUT)
    press("l")
    expect(page.locator("#counter-state")).to_have_class(re.compile("closed"), timeout=TIMEOUT)
    shot(page, "keyboard-04-closed")
    assert ticket(live_hall, t[0]["id"])["status"] == "done"
    assert ticket(live_hall, t[3]["id"])["status"] == "on_leave"


# ------------------------------------------------------------------ actions vs live refreshes

# An in-page gate on fetch: requests whose "METHOD url" matches a pattern wait until released,
# so a test can hold the page in the middle of a refresh (or of an action) deterministically.
GATE_JS = """(pattern) => {
  const real = window.__realFetch || (window.__realFetch = window.fetch.bind(window));
  const re = new RegExp(pattern);
  window.__held = [];
  window.__release = () => { window.fetch = real; window.__held.splice(0).forEach((go) => go()); };
  window.fetch = (url, opts) => re.test(((opts && opts.method) || "GET") + " " + url)
    ? new Promise((go) => window.__held.push(go)).then(() => real(url, opts))
    : real(url, opts);
}"""


def hold(page: Page, pattern: str) -> None:
    page.evaluate(GATE_JS, pattern)


def wait_held(page: Page) -> None:
    page.wait_for_function("() => window.__held.length > 0", timeout=TIMEOUT)


def release(page: Page) -> None:
    page.evaluate("window.__release()")


def test_an_action_during_a_live_refresh_acts_on_the_ticket_shown(
    live_hall: LiveHall, context: BrowserContext
) -> None:
    """A socket event starts a refresh; F pressed before it has all its answers still finishes
    the patient on screen (it used to find "no current ticket" half-way through the load)."""
    assert live_hall.api("POST", "/counters/us-1/state", json={"state": "open"}).ok
    first = issue(live_hall, "us")
    page = context.new_page()
    log_in(page, live_hall, "/console?counter=us-1")
    page.click("button[data-action=call-next]")
    expect(current(page)).to_have_attribute("data-number", first["number"], timeout=TIMEOUT)
    idle(page)
    # Someone issues a ticket: queue.changed reaches the page, whose refresh now waits for
    # its current ticket's details.
    hold(page, r"^GET /api/v1/tickets/\d+$")
    issue(live_hall, "us")
    wait_held(page)
    page.keyboard.press("f")
    try:
        expect(page.locator("#msg")).to_contain_text("(finish)", timeout=TIMEOUT)
    except AssertionError as exc:
        raise AssertionError(f"console: {state_of(page)}") from exc
    release(page)
    expect(current(page)).to_have_attribute("data-number", "", timeout=TIMEOUT)
    assert ticket(live_hall, first["id"])["status"] == "done"


def test_quick_keys_act_on_what_the_previous_one_left(
    live_hall: LiveHall, context: BrowserContext
) -> None:
    """O then N before "open" has even reached the server: N is judged when its turn comes,
    on the open counter, and calls; nothing is refused for a state the page had not caught up."""
    assert live_hall.api("POST", "/counters/us-1/state", json={"state": "closed"}).ok
    waiting = [w["number"] for w in live_hall.api("GET", "/services/us/queue").json()["waiting"]]
    nxt = waiting[0] if waiting else issue(live_hall, "us")["number"]
    page = context.new_page()
    log_in(page, live_hall, "/console?counter=us-1")
    expect(page.locator("#counter-state")).to_have_class(re.compile("closed"), timeout=TIMEOUT)
    hold(page, r"^POST /api/v1/counters/us-1/state$")
    page.keyboard.press("o")
    wait_held(page)
    page.keyboard.press("n")
    expect(page.locator("body")).to_have_attribute("data-busy", "1", timeout=TIMEOUT)
    release(page)
    try:
        expect(current(page)).to_have_attribute("data-number", nxt, timeout=TIMEOUT)
    except AssertionError as exc:
        raise AssertionError(f"console: {state_of(page)}") from exc
    expect(page.locator("#counter-state")).to_have_class(re.compile("open"), timeout=TIMEOUT)


# ------------------------------------------------------------------ two consoles racing


def test_two_consoles_racing_on_call_next_get_different_tickets(
    live_hall: LiveHall,
    context: BrowserContext,
    other_context: BrowserContext,
    second_staff: tuple[str, str],
) -> None:
    for _ in range(8):
        issue(live_hall, "pharmacy")
    waiting = live_hall.api("GET", "/services/pharmacy/queue").json()["waiting"]
    if len(waiting) % 2:  # earlier tests transferred some here; make the line even
        issue(live_hall, "pharmacy")
    expected = [
        w["number"] for w in live_hall.api("GET", "/services/pharmacy/queue").json()["waiting"]
    ]
    for counter in ("pharm-1", "pharm-2"):
        assert live_hall.api("POST", f"/counters/{counter}/state", json={"state": "open"}).ok
    a = context.new_page()
    b = other_context.new_page()
    log_in(a, live_hall, "/console?counter=pharm-1")
    log_in(b, live_hall, "/console?counter=pharm-2", *second_staff)
    called: list[str] = []
    for round_ in range(len(expected) // 2):
        before = {p: current(p).get_attribute("data-number") for p in (a, b)}
        # Both keys go down before either request returns: the two calls are in flight at once.
        a.keyboard.press("n")
        b.keyboard.press("n")
        for p in (a, b):
            expect(current(p)).not_to_have_attribute(
                "data-number", before[p] or "", timeout=TIMEOUT
            )
        got = [current(p).get_attribute("data-number") for p in (a, b)]
        assert got[0] != got[1], f"round {round_}: both consoles got {got[0]}"
        called += got
        if round_ == 0:
            # Each console sees the other's call live, in its recent calls and its lists.
            expect(a.locator("#calls")).to_contain_text(got[1], timeout=TIMEOUT)
            expect(b.locator("#calls")).to_contain_text(got[0], timeout=TIMEOUT)
            shot(a, "race-console-a")
            shot(b, "race-console-b")
    assert sorted(called) == sorted(expected)  # each exactly once, none twice
    expect(a.locator("table.queue[data-service=pharmacy] tr.row.waiting")).to_have_count(
        0, timeout=TIMEOUT
    )


# ------------------------------------------------------------------ pages and their scripts


@pytest.mark.parametrize(
    ("page_path", "script"), [("/console", "counter.js"), ("/console/nurse", "nurse.js")]
)
def test_every_element_the_scripts_look_up_is_in_the_page(
    live_hall: LiveHall, page_path: str, script: str
) -> None:
    """Start-up looks elements up by id and by class (#pairing, .printer-list ...): each one is
    in the page as served, so start can never meet a null (the page and scripts go together)."""
    html = requests.get(live_hall.url(page_path), timeout=10).text
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    classes = {c for attr in re.findall(r'\bclass="([^"]+)"', html) for c in attr.split()}
    for name in ("common.js", script):
        js = requests.get(live_hall.url(f"/console/static/{name}"), timeout=10).text
        wanted = set(re.findall(r'getElementById\("([\w-]+)"\)', js))
        assert wanted, name
        assert not wanted - ids, f"{page_path} lacks ids {sorted(wanted - ids)} used by {name}"
        wanted = set(re.findall(r'querySelector(?:All)?\("\.([\w-]+)"\)', js))
        assert not wanted - classes, f"{page_path} lacks {sorted(wanted - classes)} ({name})"


# ------------------------------------------------------------------ nurse desk and tools


def test_nurse_desk_doors_reorder_walk_in_and_priority_review(
    live_hall: LiveHall, context: BrowserContext
) -> None:
    assert live_hall.api("POST", "/counters/room-2/state", json={"state": "open"}).ok
    kiosk = {"Authorization": f"Bearer {live_hall.kiosk_tokens['kiosk-1']}"}
    t = [issue(live_hall, "im2") for _ in range(4)]
    r = live_hall.api(
        "POST", "/tickets", json={"service_id": "im2", "priority": "elderly"}, headers=kiosk
    )
    assert r.status_code == 201, r.text
    declared = r.json()
    page = context.new_page()
    log_in(page, live_hall, "/console/nurse?services=im2")
    door = page.locator(".door[data-counter=room-2]")
    expect(door).to_have_attribute("data-cap", "2", timeout=TIMEOUT)
    expect(door).to_have_attribute("data-at-door", "0", timeout=TIMEOUT)

    # Review the self-declared priority: confirm keeps it.
    page.click(f"button[data-confirm='{declared['id']}']")
    page.click("#reason button[value=yes]")
    expect(page.locator("#msg")).to_contain_text("confirmed", timeout=TIMEOUT)
    assert ticket(live_hall, declared["id"])["priority_confirmed"] is True

    # Call next at the room (the elderly first), the door fills up to its cap.
    assert live_hall.api("POST", "/counters/room-2/call-next").ok
    expect(door).to_have_attribute("data-at-door", "2", timeout=TIMEOUT)
    # Manual release: one more to the door despite the cap.
    page.click("button[data-release=room-2]")
    page.fill("#reason [name=reason]", "医生提前叫 doctor asked")
    page.click("#reason button[value=yes]")
    expect(door).to_have_attribute("data-at-door", "3", timeout=TIMEOUT)
    shot(page, "nurse-01-door-over-cap")

    # Reorder the last waiting one before... it is alone in the line now: add walk-ins first.
    page.select_option("#walkin [name=priority]", "normal")
    page.fill("#walkin [name=patient_name]", "钱七")
    page.click("#walkin button[type=submit]")
    expect(page.locator("#walkin .walkin-result")).to_contain_text("D", timeout=TIMEOUT)
    page.fill("#walkin [name=patient_name]", "孙八")
    page.click("#walkin button[type=submit]")
    expect(page.locator("table.queue tr.row")).to_have_count(6, timeout=TIMEOUT)  # 3 door + 3
    waiting = live_hall.api("GET", "/services/im2/queue").json()["waiting"]
    line = [w for w in waiting if not w["at_door"]]
    last, first = line[-1], line[0]
    assert last["masked_name"] == "孙*"
    page.click(f"button[data-move='{last['id']}']")
    page.select_option("#reorder [name=before]", str(first["id"]))
    page.fill("#reorder [name=reason]", "轮椅 wheelchair user")
    shot(page, "nurse-02-reorder-dialog")
    page.click("#reorder button[value=yes]")
    expect(page.locator("#msg")).to_contain_text("moved", timeout=TIMEOUT)
    waiting = live_hall.api("GET", "/services/im2/queue").json()["waiting"]
    line = [w["id"] for w in waiting if not w["at_door"]]
    assert line[0] == last["id"]
    history = live_hall.api("GET", f"/tickets/{last['id']}").json()["history"]
    audit = [h for h in history if h["action"] == "reorder"]
    assert audit and audit[0]["details"]["reason"] == "轮椅 wheelchair user"
    assert audit[0]["actor"] == "user:staff"
    # Send one back from the door.
    first_at_door = door.locator(".slot.full").first
    number = first_at_door.get_attribute("data-id")
    first_at_door.locator("button").click()
    page.click("#reason button[value=yes]")
    expect(door).to_have_attribute("data-at-door", "2", timeout=TIMEOUT)
    assert number is not None and int(number) in [x["id"] for x in t]
    shot(page, "nurse-03-after")


def test_printers_panel_and_lab_reprint_form(live_hall: LiveHall, context: BrowserContext) -> None:
    """The tools reach the print pipeline's and the lab's endpoints (or say they are absent)."""
    page = context.new_page()
    log_in(page, live_hall, "/console?counter=us-1")
    page.click("#tools summary")
    note = page.locator("#printers .printer-note")
    rows = page.locator("#printers .printer-list tr")
    expect(rows.first.or_(note.filter(has_text=re.compile(".+")))).to_be_visible(timeout=TIMEOUT)
    printers = live_hall.api("GET", "/printers")
    if printers.status_code == 200:
        expect(rows).to_have_count(2, timeout=TIMEOUT)  # the demo hall's two kiosk printers
        expect(page.locator("#printers")).to_contain_text("kiosk-1-printer", timeout=TIMEOUT)
    else:
        expect(note).to_contain_text("not installed", timeout=TIMEOUT)
    page.fill("#lab-reprint [name=report_id]", "999999")
    page.fill("#lab-reprint [name=reason]", "患者丢失 lost the slip")
    page.click("#lab-reprint button[type=submit]")
    result = page.locator("#lab-reprint .lab-result")
    expect(result).to_have_text(re.compile(".+"), timeout=TIMEOUT)
    lab = live_hall.api("POST", "/lab/reports/999999/reset-print", json={"reason": "x"})
    if lab.status_code == 404 and lab.json()["error"]["code"] == "request.not_found":
        expect(result).to_contain_text("not available", timeout=TIMEOUT)
    else:
        expect(result).to_contain_text(lab.json()["error"]["code"], timeout=TIMEOUT)
    shot(page, "tools")
