"""Authentication (login, tokens, session cookie, logout, devices) and who may call what."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from queue_server.services import accounts
from tests.api.conftest import Hall, assert_error, follow_token, local
from tests.conftest import PASSWORD
from tests.lab.auth_rows import LAB_ROWS, lab_request
from tests.printing.helpers import failed_kiosk_ticket, kiosk_ticket

# ------------------------------------------------------------------ authentication


def test_no_credentials_is_401_auth_required(hall: Hall) -> None:
    assert_error(hall.get("/counters"), 401, "auth.required")
    assert_error(hall.post("/tickets", {"service_id": "reg"}), 401, "auth.required")


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-token", "Bearer ", "Basic c3RhZmYxOmNvcnJlY3QtaG9yc2UtMQ==", "garbage"],
)
def test_unknown_or_malformed_credentials_are_401(hall: Hall, header: str) -> None:
    assert_error(hall.get("/counters", {"Authorization": header}), 401, "auth.required")


@pytest.mark.parametrize(
    ("username", "password"),
    [("staff1", "wrong-password"), ("nobody", PASSWORD), ("staff1", "")],
)
def test_wrong_password_or_user_is_401_invalid_credentials(
    hall: Hall, username: str, password: str
) -> None:
    resp = hall.client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert_error(resp, 401, "auth.invalid_credentials")
    assert "session=" not in resp.headers.get("Set-Cookie", "")


@pytest.mark.parametrize(
    "body", [{}, {"username": "staff1"}, {"password": PASSWORD}, {"username": 1, "password": "x"}]
)
def test_login_with_missing_or_mistyped_fields_is_400(hall: Hall, body: dict[str, Any]) -> None:
    assert_error(hall.post("/auth/login", body), 400, "request.invalid")


def test_login_gives_a_token_and_a_session_cookie_that_both_work(hall: Hall) -> None:
    resp = hall.post("/auth/login", {"username": "manager1", "password": PASSWORD})
    assert resp.status_code == 200
    body = resp.get_json()
    assert isinstance(body["token"], str) and len(body["token"]) >= 20
    assert body["user"] == {"username": "manager1", "role": "manager"}
    cookie = hall.client.get_cookie("session")
    assert cookie is not None and cookie.http_only
    # the cookie alone (same client, no header) works ...
    assert hall.get("/counters").status_code == 200
    me = hall.get("/auth/me").get_json()
    assert me == {"kind": "user", "id": "manager1", "role": "manager"}
    # ... and the token alone (a client without the cookie) works
    other = hall.app.test_client()
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert other.get("/api/v1/counters").status_code == 401
    assert other.get("/api/v1/counters", headers=headers).status_code == 200


def test_each_login_gives_a_new_token(hall: Hall) -> None:
    tokens = {
        hall.post("/auth/login", {"username": "staff1", "password": PASSWORD}).get_json()["token"]
        for _ in range(2)
    }
    assert len(tokens) == 2


def test_logout_revokes_the_token_and_ends_the_session(hall: Hall) -> None:
    token = hall.post("/auth/login", {"username": "staff1", "password": PASSWORD}).get_json()[
        "token"
    ]
    headers = {"Authorization": f"Bearer {token}"}
    assert hall.get("/counters", headers).status_code == 200
    resp = hall.post("/auth/logout", None, headers)
    assert resp.status_code == 200
    assert resp.get_json() == {"ok": True}
    assert_error(hall.get("/counters", headers), 401, "auth.required")
    # the browser session of the same client ended too
    assert_error(hall.get("/counters"), 401, "auth.required")
    # other tokens of the same user are untouched
    assert hall.get("/counters", hall.staff).status_code == 200


def test_logout_without_credentials_is_harmless(hall: Hall) -> None:
    assert hall.post("/auth/logout").status_code == 200
    assert hall.get("/counters", hall.staff).status_code == 200


def test_a_forged_session_cookie_is_ignored_and_bearer_calls_set_no_cookie(hall: Hall) -> None:
    """Requests without the cookie skip the signer; one with a cookie still has it checked."""
    body = hall.post("/auth/login", {"username": "manager1", "password": PASSWORD}).get_json()
    other = hall.app.test_client()
    resp = other.get("/api/v1/counters", headers={"Authorization": f"Bearer {body['token']}"})
    assert resp.status_code == 200 and "Set-Cookie" not in resp.headers
    forger = hall.app.test_client()
    forger.set_cookie("session", f'{{"token": "{body["token"]}"}}')
    assert_error(forger.get("/api/v1/counters"), 401, "auth.required")


def test_a_session_cookie_copied_before_logout_is_dead_after_it(hall: Hall) -> None:
    hall.post("/auth/login", {"username": "staff1", "password": PASSWORD})
    cookie = hall.client.get_cookie("session")
    assert cookie is not None
    thief = hall.app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/api/v1/counters").status_code == 200
    assert hall.post("/auth/logout").status_code == 200
    assert_error(thief.get("/api/v1/counters"), 401, "auth.required")


def test_user_tokens_expire(hall: Hall) -> None:
    hall.clock.advance(hours=11, minutes=59)
    assert hall.get("/counters", hall.staff).status_code == 200
    hall.clock.advance(minutes=2)
    assert_error(hall.get("/counters", hall.staff), 401, "auth.required")
    # device tokens do not expire with the clock
    assert hall.post("/tickets", {"service_id": "reg"}, hall.logins.kiosk).status_code == 201


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("staff", {"kind": "user", "id": "staff1", "role": "staff"}),
        ("admin", {"kind": "user", "id": "admin1", "role": "admin"}),
        ("kiosk", {"kind": "device", "id": "kiosk-1", "role": "kiosk"}),
        ("display", {"kind": "device", "id": "hall", "role": "display"}),
        ("agent", {"kind": "device", "id": "agent-1", "role": "agent"}),
    ],
)
def test_me_tells_who_is_calling(hall: Hall, who: str, expected: dict[str, str]) -> None:
    resp = hall.get("/auth/me", getattr(hall.logins, who))
    assert resp.status_code == 200
    assert resp.get_json() == expected


# ------------------------------------------------------------------ devices and secrets at rest


def test_admin_registers_a_device_whose_token_works_once_shown(hall: Hall) -> None:
    resp = hall.post("/devices", {"kind": "kiosk", "id": "kiosk-9"}, hall.logins.admin)
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["id"] == "kiosk-9" and body["kind"] == "kiosk"
    token = body["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert hall.get("/auth/me", headers).get_json() == {
        "kind": "device",
        "id": "kiosk-9",
        "role": "kiosk",
    }
    assert hall.post("/tickets", {"service_id": "reg"}, headers).status_code == 201
    # registering the id again rotates the token: the old one stops working
    again = hall.post("/devices", {"kind": "kiosk", "id": "kiosk-9"}, hall.logins.admin)
    assert again.status_code == 201
    assert again.get_json()["token"] != token
    assert_error(hall.get("/auth/me", headers), 401, "auth.required")


@pytest.mark.parametrize(
    "body",
    [{"kind": "printer", "id": "p1"}, {"kind": "kiosk"}, {"id": "x"}, {"kind": 1, "id": "x"}],
)
def test_device_registration_validates(hall: Hall, body: dict[str, Any]) -> None:
    assert_error(hall.post("/devices", body, hall.logins.admin), 400, "request.invalid")


def _all_cells(hall: Hall, table: str) -> list[str]:
    return [str(v) for row in hall.rows(f"SELECT * FROM {table}") for v in row]


def test_device_tokens_are_stored_hashed(hall: Hall) -> None:
    token = hall.post("/devices", {"kind": "display", "id": "blood-zone"}, hall.logins.admin)
    raw = [token.get_json()["token"]] + [
        h["Authorization"].removeprefix("Bearer ")
        for h in (hall.logins.kiosk, hall.logins.display, hall.logins.agent)
    ]
    cells = _all_cells(hall, "devices")
    assert hall.scalar("SELECT count(*) FROM devices") == 4
    for secret in raw:
        assert not any(secret in cell for cell in cells)


def test_passwords_and_login_tokens_are_stored_hashed(hall: Hall) -> None:
    login = hall.post("/auth/login", {"username": "admin1", "password": PASSWORD})
    tokens = [login.get_json()["token"]] + [
        h["Authorization"].removeprefix("Bearer ")
        for h in (hall.logins.staff, hall.logins.manager, hall.logins.admin)
    ]
    users = _all_cells(hall, "users")
    assert not any(PASSWORD in cell for cell in users)
    hashes = [r[0] for r in hall.rows("SELECT password_hash FROM users")]
    assert len(hashes) == 3 and len(set(hashes)) == 3  # salted: same password, other hashes
    api_tokens = _all_cells(hall, "api_tokens")
    assert hall.scalar("SELECT count(*) FROM api_tokens") == 4
    for token in tokens:
        assert not any(token in cell for cell in api_tokens)


# ------------------------------------------------------------------ who may call what
#
# The table below is written from API.md's "Who" column ("staff" = any logged-in user: staff,
# manager or admin; "anyone" includes devices). Endpoints API.md does not list (auth, check-in,
# call a given ticket, appointments, devices, reset-day, the OpenAPI document) take the "Who"
# of the OpenAPI document. One deliberate reading: API.md gives the snapshot to "display";
# users may read it too (the OpenAPI document says so, and it holds only public data).

CALLERS = ("anonymous", "staff", "manager", "admin", "kiosk", "display", "agent")
USERS = frozenset({"staff", "manager", "admin"})
DEVICES = frozenset({"kiosk", "display", "agent"})
ANYONE = frozenset(CALLERS)
MANAGERS = frozenset({"manager", "admin"})


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # may hold {ticket} (a fresh ticket in the right state) or {follow}
    allowed: frozenset[str]
    ok: int = 200
    body: Any = None
    ticket: str | None = None  # state the {ticket} must be in: waiting | called | no_show | ...


def _ticket_in(hall: Hall, state: str) -> dict[str, Any]:
    if state == "registered":
        return hall.issue("blood", checked_in=False)
    if state in ("kiosk", "print_failed"):  # printing: a kiosk ticket with its slip's job
        return (kiosk_ticket if state == "kiosk" else failed_kiosk_ticket)(hall)
    if state == "self_declared":  # console: a kiosk priority waiting for staff review
        return hall.issue("reg", hall.logins.kiosk, priority="elderly")
    if state == "at_door":  # console: pre-called to a door by hand
        t = hall.issue("reg")
        resp = hall.post("/counters/reg-2/door-release", {"ticket_id": t["id"]}, hall.staff)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return t
    t = hall.issue("reg")
    if state == "waiting":
        return t
    resp = hall.post(f"/tickets/{t['id']}/call", {"counter_id": "reg-2"}, hall.staff)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    if state != "called":
        verbs = {"no_show": "no-show", "on_leave": "send-for-tests", "done": "finish"}
        hall.act(t["id"], verbs[state])
    return t


_n = iter(range(10_000))

TABLE: list[Row] = [
    # API.md
    Row("GET", "/health", ANYONE),
    Row("GET", "/services", ANYONE),
    Row("GET", "/counters", USERS),
    Row("GET", "/displays", USERS),
    Row("POST", "/tickets", USERS | {"kiosk"}, 201, {"service_id": "reg"}),
    Row("GET", "/tickets/{ticket}", USERS, ticket="waiting"),
    Row("GET", "/follow/{follow}", ANYONE, ticket="waiting"),
    Row("POST", "/counters/reg-1/call-next", USERS, ticket="waiting"),
    Row("POST", "/tickets/{ticket}/recall", USERS, ticket="called"),
    Row("POST", "/tickets/{ticket}/start", USERS, ticket="called"),
    Row("POST", "/tickets/{ticket}/finish", USERS, ticket="called"),
    Row("POST", "/tickets/{ticket}/no-show", USERS, ticket="called"),
    Row("POST", "/tickets/{ticket}/cancel", USERS, ticket="waiting"),
    Row(
        "POST",
        "/tickets/{ticket}/transfer",
        USERS,
        body={"service_id": "pharmacy", "position": "end"},
        ticket="waiting",
    ),
    Row("POST", "/tickets/{ticket}/send-for-tests", USERS, ticket="called"),
    Row("POST", "/tickets/{ticket}/return", USERS, ticket="no_show"),
    Row("POST", "/counters/reg-2/state", USERS, body={"state": "paused"}),
    Row("GET", "/displays/hall/snapshot", USERS | {"display"}),
    # endpoints beyond API.md's table, "Who" from the OpenAPI document
    Row("POST", "/auth/login", ANYONE, body={"username": "staff1", "password": PASSWORD}),
    Row("POST", "/auth/logout", ANYONE),
    Row("GET", "/auth/me", USERS | DEVICES),
    Row("POST", "/tickets/{ticket}/check-in", USERS | {"kiosk"}, ticket="registered"),
    Row("POST", "/tickets/{ticket}/call", USERS, body={"counter_id": "reg-1"}, ticket="waiting"),
    Row(
        "POST",
        "/appointments",
        USERS,
        201,
        {"service_id": "im1", "slot_start": local(10).isoformat()},
    ),
    Row("POST", "/devices", frozenset({"admin"}), 201, {"kind": "kiosk", "id": "{new}"}),
    Row("POST", "/admin/reset-day", frozenset({"admin"})),
    Row("GET", "/openapi.json", ANYONE),
    # metrics (queue_server/metrics/api.py, docs/metrics.md)
    Row("GET", "/metrics/live", MANAGERS),
    Row("GET", "/metrics/summary", MANAGERS),
    Row("GET", "/metrics/load", MANAGERS),
    Row("GET", "/metrics/staffing?service_id=blood", MANAGERS),
    Row("GET", "/metrics/wait-log", MANAGERS),
    Row("GET", "/metrics/export?kind=load&format=csv", MANAGERS),
    Row("GET", "/load", ANYONE),
    Row("GET", "/follow/{follow}/rating", ANYONE, ticket="waiting"),
    Row("POST", "/follow/{follow}/rating", ANYONE, 201, {"score": 5}, ticket="done"),
    Row(
        "POST",
        "/ratings",
        frozenset({"kiosk"}),
        201,
        {"score": 4, "follow_token": "{follow}"},
        ticket="done",
    ),
    # print pipeline (queue_server/printing/api.py, docs/printing-jobs.md)
    Row("GET", "/print-jobs/{job}", USERS | {"kiosk"}, ticket="kiosk"),
    Row("POST", "/tickets/{ticket}/reprint", USERS | {"kiosk"}, 201, ticket="kiosk"),
    Row("POST", "/print-jobs/{job}/retry", USERS, ticket="print_failed"),
    Row(
        "POST",
        "/print-jobs/{job}/move",
        USERS,
        body={"printer_id": "kiosk-2-printer"},
        ticket="kiosk",
    ),
    Row("GET", "/printers", USERS),
    Row("GET", "/printers/{printer}", USERS | {"kiosk"}),
    # staff console (queue_server/console/api.py, docs/console.md)
    Row("GET", "/services/reg/queue", USERS),
    Row(
        "POST",
        "/tickets/{ticket}/reorder",
        USERS,
        body={"to": "end", "reason": "x"},
        ticket="waiting",
    ),
    Row("POST", "/tickets/{ticket}/door-leave", USERS, ticket="at_door"),
    Row("POST", "/counters/reg-1/door-release", USERS, ticket="waiting"),
    Row(
        "POST",
        "/tickets/{ticket}/confirm-priority",
        USERS,
        body={"confirm": True},
        ticket="self_declared",
    ),
    # device pairing (queue_server/pairing/api.py, docs/displays.md): {pairing} is a fresh request
    Row("POST", "/pairing/start", ANYONE, 201, {"kind": "display"}),
    Row("POST", "/pairing/claim", ANYONE, body={"pairing_id": "{pairing}", "secret": "{secret}"}),
    Row("POST", "/pairing/approve", USERS, body={"code": "{code}", "device_id": "hall"}),
    # lab-report self-print (queue_server/lab/api.py, docs/lab-reports.md)
    *(Row(method, path, allowed, ok) for method, path, allowed, ok in LAB_ROWS),
]


def _headers(hall: Hall, caller: str) -> dict[str, str]:
    return {} if caller == "anonymous" else dict(getattr(hall.logins, caller))


def _request(hall: Hall, row: Row, caller: str) -> Any:
    lab = lab_request(hall, row.method, row.path, _headers(hall, caller))
    if lab is not None:
        return lab
    path = row.path
    if row.ticket is not None:
        t = _ticket_in(hall, row.ticket)
        path = path.replace("{ticket}", str(t["id"])).replace("{follow}", follow_token(t))
        path = path.replace("{job}", str((t.get("print") or {}).get("job_id")))
    path = path.replace("{printer}", "kiosk-1-printer")
    body = row.body
    if isinstance(body, dict) and body.get("follow_token") == "{follow}":  # kiosk rating
        body = {**body, "follow_token": follow_token(t)}
    if isinstance(body, dict) and {"{pairing}", "{code}"} & set(body.values()):
        started = hall.post("/pairing/start", {"kind": "display"}).get_json()
        fill = {"{pairing}": started["pairing_id"], "{secret}": started["secret"]}
        fill["{code}"] = started["code"]
        body = {k: fill.get(v, v) for k, v in body.items()}
    if isinstance(body, dict) and body.get("id") == "{new}":
        body = {**body, "id": f"dev-{next(_n)}"}
    if row.method == "GET":
        return hall.get(path, _headers(hall, caller))
    return hall.post(path, body, _headers(hall, caller))


@pytest.mark.parametrize("row", TABLE, ids=lambda r: f"{r.method} {r.path}")
def test_who_may_call_what(hall: Hall, row: Row) -> None:
    hall.set_counter("reg-1", "open")
    hall.set_counter("reg-2", "open")
    wrong = []
    for caller in CALLERS:
        resp = _request(hall, row, caller)
        body = resp.get_json(silent=True) or {}
        code = body.get("error", {}).get("code") if isinstance(body, dict) else None
        if caller in row.allowed:
            expected: tuple[int, str | None] = (row.ok, None)
        elif caller == "anonymous":
            expected = (401, "auth.required")
        else:
            expected = (403, "auth.forbidden")
        if (resp.status_code, code) != expected:
            wrong.append(f"{caller}: got {resp.status_code} {code}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_the_table_covers_every_api_route(hall: Hall) -> None:
    """A new endpoint must get a row above (and so an authorization decision)."""
    routes = set()
    for rule in hall.app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.removeprefix("/api/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method, re.sub(r"<[^>]*>", "<>", path)))
    covered = set()
    for row in TABLE:
        path = row.path.replace("{ticket}", "<>").replace("{follow}", "<>")
        path = re.sub(r"/(reg-\d|hall|reg)/", "/<>/", path)  # reg: console queue row
        path = re.sub(r"\{(job|printer|lab)\}", "<>", path)  # printing and lab rows
        path = path.split("?")[0]  # metrics rows carry query strings
        covered.add((row.method, path))
    # the action verbs are one route: /tickets/<>/<>
    covered |= {("POST", "/tickets/<>/<>")}
    assert routes <= covered, sorted(routes - covered)


def test_a_display_reads_only_its_own_snapshot(hall: Hall) -> None:
    assert hall.get("/displays/hall/snapshot", hall.logins.display).status_code == 200
    for other in ("blood-zone", "im-zone", "room-1", "reg-1"):
        assert_error(
            hall.get(f"/displays/{other}/snapshot", hall.logins.display), 403, "auth.forbidden"
        )
    own = hall.device("display", "room-1")
    assert hall.get("/displays/room-1/snapshot", own).status_code == 200
    assert_error(hall.get("/displays/hall/snapshot", own), 403, "auth.forbidden")


def test_a_revoked_device_token_is_refused(hall: Hall) -> None:
    def revoke(s: Any) -> None:
        from queue_server.persistence.models import Device

        device = s.get(Device, "kiosk-1")
        device.revoked = True

    hall.ctx.db.run(revoke)
    assert_error(
        hall.post("/tickets", {"service_id": "reg"}, hall.logins.kiosk), 401, "auth.required"
    )


def test_a_device_token_cannot_log_out_a_user(hall: Hall) -> None:
    assert hall.post("/auth/logout", None, hall.logins.kiosk).status_code == 200
    assert hall.get("/counters", hall.staff).status_code == 200
    assert hall.post("/tickets", {"service_id": "reg"}, hall.logins.kiosk).status_code == 201


def test_users_are_added_through_the_accounts_service_only(hall: Hall) -> None:
    # there is no HTTP endpoint creating users: a staff token cannot make itself an admin
    accounts.add_user(hall.ctx, "staff2", "staff", PASSWORD)
    resp = hall.post("/auth/login", {"username": "staff2", "password": PASSWORD})
    assert resp.get_json()["user"]["role"] == "staff"
    assert_error(hall.post("/admin/reset-day", None, hall.staff), 403, "auth.forbidden")
