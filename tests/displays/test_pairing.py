"""Device pairing over HTTP on SQLite and PostgreSQL: codes expire, are single-use, wrong codes
and secrets are refused and rate-limited, only staff approve, the token works and is hashed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text

from queue_server.pairing import service
from queue_server.services.accounts import token_digest
from tests.api.conftest import Hall, assert_error
from tests.conftest import bearer


def start(hall: Hall, kind: str = "display", ip: str = "10.0.0.5") -> dict[str, Any]:
    resp = hall.client.post(
        "/api/v1/pairing/start", json={"kind": kind}, environ_base={"REMOTE_ADDR": ip}
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def claim(hall: Hall, p: dict[str, Any], secret: str | None = None, ip: str = "10.0.0.5"):
    return hall.client.post(
        "/api/v1/pairing/claim",
        json={"pairing_id": p["pairing_id"], "secret": secret or p["secret"]},
        environ_base={"REMOTE_ADDR": ip},
    )


def approve(hall: Hall, code: str, device_id: str, headers: dict[str, str] | None = None):
    return hall.post(
        "/pairing/approve",
        {"code": code, "device_id": device_id},
        hall.staff if headers is None else headers,
    )


def test_pairing_round_trip_gives_a_working_hashed_token(any_hall: Hall) -> None:
    p = start(any_hall)
    assert len(p["code"]) == 6 and p["code"].isdigit()
    assert dt.datetime.fromisoformat(p["expires_at"]) > any_hall.clock.now()
    pending = claim(any_hall, p)
    assert pending.status_code == 200 and pending.get_json()["status"] == "pending"

    ok = approve(any_hall, p["code"], "room-1")
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert ok.get_json()["device_id"] == "room-1"

    got = claim(any_hall, p)
    assert got.status_code == 200
    body = got.get_json()
    assert body["status"] == "paired" and body["device_id"] == "room-1"
    token = body["token"]
    me = any_hall.get("/auth/me", bearer(token)).get_json()
    assert me == {"kind": "device", "id": "room-1", "role": "display"}
    snap = any_hall.get("/displays/room-1/snapshot", bearer(token))
    assert snap.status_code == 200
    stored = any_hall.scalar("SELECT token_hash FROM devices WHERE id = 'room-1'")
    assert stored == token_digest(token)
    rows = any_hall.rows("SELECT secret_hash FROM pairing_requests")
    assert all(p["secret"] not in r[0] and token not in r[0] for r in rows)

    # single use: the token is given once, the code is spent
    assert_error(claim(any_hall, p), 409, "pairing.already_claimed")
    assert_error(approve(any_hall, p["code"], "room-2"), 404, "pairing.code_invalid")


def test_kiosk_pairing_and_unknown_device(any_hall: Hall) -> None:
    p = start(any_hall, "kiosk")
    assert_error(approve(any_hall, p["code"], "hall"), 404, "pairing.device_unknown")
    ok = approve(any_hall, p["code"], "kiosk-2")
    assert ok.status_code == 200
    token = claim(any_hall, p).get_json()["token"]
    assert any_hall.get("/auth/me", bearer(token)).get_json()["role"] == "kiosk"


def test_codes_expire(any_hall: Hall) -> None:
    p = start(any_hall)
    any_hall.clock.advance(seconds=service.CODE_LIFETIME.total_seconds() + 1)
    any_hall.relogin()
    assert_error(approve(any_hall, p["code"], "hall"), 410, "pairing.expired")
    assert_error(claim(any_hall, p), 410, "pairing.expired")


def test_approved_but_unclaimed_expires(hall: Hall) -> None:
    p = start(hall)
    assert approve(hall, p["code"], "hall").status_code == 200
    hall.clock.advance(seconds=service.CLAIM_WINDOW.total_seconds() + 1)
    assert_error(claim(hall, p), 410, "pairing.expired")
    assert hall.scalar("SELECT count(*) FROM devices WHERE id = 'hall'") == 1  # the old one


def test_wrong_code_and_rate_limit(any_hall: Hall) -> None:
    p = start(any_hall)
    wrong = "000000" if p["code"] != "000000" else "111111"
    assert_error(approve(any_hall, "12ab56", "hall"), 400, "request.invalid")
    for _ in range(service.APPROVE_FAILURES):
        assert_error(approve(any_hall, wrong, "hall"), 404, "pairing.code_invalid")
    err = assert_error(approve(any_hall, p["code"], "hall"), 429, "pairing.rate_limited")
    assert err["details"]["retry_after_s"] > 0
    # another staff member is not blocked by this one's guesses
    assert approve(any_hall, p["code"], "hall", any_hall.logins.manager).status_code == 200
    # the window passes
    any_hall.clock.advance(seconds=service.FAILURE_WINDOW.total_seconds() + 1)
    any_hall.relogin()
    assert_error(approve(any_hall, wrong, "hall"), 404, "pairing.code_invalid")


def test_wrong_secret_and_unknown_pairing(hall: Hall) -> None:
    p = start(hall)
    assert_error(claim(hall, p, secret="not-it"), 403, "auth.forbidden")
    assert_error(claim(hall, {"pairing_id": "nope", "secret": "x"}), 404, "pairing.not_found")
    for _ in range(service.CLAIM_FAILURES):
        claim(hall, p, secret="still-not-it", ip="10.9.9.9")
    assert_error(claim(hall, p, ip="10.9.9.9"), 429, "pairing.rate_limited")
    assert claim(hall, p).status_code == 200  # other addresses are unaffected


def test_start_is_rate_limited_per_address(hall: Hall) -> None:
    for _ in range(service.START_LIMIT):
        start(hall, ip="10.1.1.1")
    resp = hall.client.post(
        "/api/v1/pairing/start", json={"kind": "display"}, environ_base={"REMOTE_ADDR": "10.1.1.1"}
    )
    assert_error(resp, 429, "pairing.rate_limited")
    start(hall, ip="10.1.1.2")
    hall.clock.advance(seconds=service.START_WINDOW.total_seconds() + 1)
    start(hall, ip="10.1.1.1")


def test_roles(any_hall: Hall) -> None:
    p = start(any_hall)
    assert_error(approve(any_hall, p["code"], "hall", {}), 401, "auth.required")
    for device in (any_hall.logins.display, any_hall.logins.kiosk, any_hall.logins.agent):
        assert_error(approve(any_hall, p["code"], "hall", device), 403, "auth.forbidden")
    for role in ("staff", "manager", "admin"):
        q = start(any_hall)
        assert (
            approve(any_hall, q["code"], "hall", getattr(any_hall.logins, role)).status_code == 200
        )


def test_bad_input(hall: Hall) -> None:
    bad = hall.client.post("/api/v1/pairing/start", json={"kind": "agent"})
    assert_error(bad, 400, "request.invalid")
    assert_error(hall.client.post("/api/v1/pairing/start", json={}), 400, "request.invalid")
    assert_error(
        hall.client.post("/api/v1/pairing/claim", json={"pairing_id": 1}), 400, "request.invalid"
    )


def test_migration_creates_the_tables(any_hall: Hall) -> None:
    with any_hall.ctx.db.engine.connect() as conn:
        for table in ("pairing_requests", "pairing_failures"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0


def test_device_js_is_served(hall: Hall) -> None:
    resp = hall.client.get("/pairing/static/device.js")
    assert resp.status_code == 200
    js = resp.get_data(as_text=True)
    for name in ("token", "pair", "forget", "queue.device_token"):
        assert name in js
