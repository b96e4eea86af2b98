"""Kiosk lookup and print: second check, expected time, print once, staff reset, attempt
limits (a scripted guesser is locked out), and an audit row for every lookup and print."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from queue_server import hall_of
from queue_server.lab.tokens import new_token
from tests.conftest import SHANGHAI
from tests.lab.conftest import Lab

BIRTH = "1980-05-12"  # 张小三 in oru_cbc_final.hl7


def lookup(lab: Lab, token: str, check: str, kiosk: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return lab.post("/lab/lookup", {"token": token, "check": check}, kiosk or lab.kiosk1)


def printed(lab: Lab, token: str, check: str = BIRTH, kiosk=None, **extra):  # type: ignore[no-untyped-def]
    return lab.post("/lab/print", {"token": token, "check": check, **extra}, kiosk or lab.kiosk1)


def test_not_final_tells_when_to_come_back(lab: Lab) -> None:
    lab.hl7("oru_lft_preliminary.hl7")  # collected 09:10, liver function takes 120 min
    token = lab.token_for("2611230002")
    lab.clock.set(dt.datetime(2026, 11, 23, 10, 45, tzinfo=SHANGHAI))
    resp = lookup(lab, token, "1956-11-03")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    view = resp.get_json()
    assert view["status"] == "preliminary" and view["printable"] is False
    assert view["expected_ready_at"] == "2026-11-23T11:10:00+08:00"
    assert view["minutes_left"] == 25
    assert view["patient_masked"] == "欧阳*华"
    assert "preview" not in view
    resp = printed(lab, token, "1956-11-03")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "lab.not_final"


def test_final_previews_prints_once_and_sends_to_the_counter_after(lab: Lab) -> None:
    lab.hl7("oru_cbc_final.hl7")
    token = lab.token_for("2611230001")
    view = lookup(lab, token.lower(), "19800512").get_json()  # scanners may send lower case
    assert view["printable"] is True
    preview = view["preview"]
    assert preview["patient_masked"] == "张*三" and preview["barcode"] == "2611230001"
    assert [line["flag"] for line in preview["lines"]] == ["", "L", "L", "H", ""]
    resp = printed(lab, token, expected_version=view["version"])
    assert resp.status_code == 201, resp.get_data(as_text=True)
    job = resp.get_json()["print"]
    assert job["printer_id"] == "kiosk-1-printer" and job["document"] == "lab_slip"
    [(document, payload_report)] = lab.sql("SELECT document, lab_report_id FROM print_jobs")
    assert (document, payload_report) == ("lab_slip", view["report_id"])
    again = printed(lab, token, kiosk=lab.kiosk2)
    assert again.status_code == 409
    err = again.get_json()["error"]
    assert err["code"] == "lab.already_printed"
    assert err["details"]["counter_zh"] == "一楼检验科 5号窗口"
    view = lookup(lab, token, BIRTH).get_json()
    assert view["printed"] is True and view["printable"] is False
    assert len(lab.sql("SELECT * FROM print_jobs")) == 1


def test_staff_reset_allows_one_more_print_and_is_audited(lab: Lab) -> None:
    lab.hl7("oru_cbc_final.hl7")
    token = lab.token_for("2611230001")
    assert printed(lab, token).status_code == 201
    report_id = lab.sql("SELECT id FROM lab_reports")[0][0]
    resp = lab.post(f"/lab/reports/{report_id}/reset-print", {}, lab.logins.staff)
    assert resp.status_code == 400
    resp = lab.post(f"/lab/reports/{report_id}/reset-print", {"reason": "x"}, lab.kiosk1)
    assert resp.status_code == 403
    resp = lab.post(
        f"/lab/reports/{report_id}/reset-print", {"reason": "卡纸, 患者未拿到"}, lab.logins.staff
    )
    assert resp.status_code == 200 and resp.get_json()["print_count"] == 0
    assert printed(lab, token, kiosk=lab.kiosk2).status_code == 201
    audit = lab.get(f"/lab/reports/{report_id}", lab.logins.staff).get_json()["audit"]
    reset = [a for a in audit if a["action"] == "reset_print"]
    assert reset == [
        {
            "at": reset[0]["at"],
            "actor": "user:staff1",
            "action": "reset_print",
            "outcome": "ok",
            "kiosk_id": None,
            "reason": "卡纸, 患者未拿到",
        }
    ]
    assert [a["kiosk_id"] for a in audit if a["action"] == "print"] == ["kiosk-1", "kiosk-2"]


def test_a_report_changed_since_the_preview_is_not_printed(lab: Lab) -> None:
    lab.hl7("oru_cbc_final.hl7")
    token = lab.token_for("2611230001")
    view = lookup(lab, token, BIRTH).get_json()
    lab.hl7("oru_cbc_corrected.hl7")
    resp = printed(lab, token, expected_version=view["version"])
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "lab.changed"
    view = lookup(lab, token, BIRTH).get_json()
    assert view["status"] == "corrected"
    assert printed(lab, token, expected_version=view["version"]).status_code == 201


def test_cancelled_and_unknown(lab: Lab) -> None:
    lab.hl7("oru_registered_two.hl7")
    lab.hl7("oru_cancel.hl7")
    token = lab.token_for("2611230003")
    assert lookup(lab, token, "1992-12-30").get_json()["status"] == "cancelled"
    resp = printed(lab, token, "1992-12-30")
    assert resp.get_json()["error"]["code"] == "lab.cancelled"
    resp = lookup(lab, new_token(), BIRTH)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "lab.token_unknown"
    resp = lookup(lab, "A001", BIRTH)
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "lab.token_invalid"
    resp = lookup(lab, token, "not a date")
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "request.invalid"


def test_a_scripted_guesser_is_locked_out_per_token(lab: Lab) -> None:
    lab.hl7("oru_cbc_final.hl7")
    token = lab.token_for("2611230001")
    codes = []
    day = dt.date(1980, 1, 1)
    for i in range(7):  # a script walking birth dates
        resp = lookup(lab, token, (day + dt.timedelta(days=i)).isoformat())
        codes.append((resp.status_code, resp.get_json()["error"]["code"]))
    assert codes[:4] == [(403, "lab.check_failed")] * 4
    assert codes[4:] == [(429, "lab.locked")] * 3
    # locked even with the right answer, from another kiosk
    resp = lookup(lab, token, BIRTH, lab.kiosk2)
    assert resp.status_code == 429 and resp.get_json()["error"]["details"]["scope"] == "token"
    assert resp.get_json()["error"]["details"]["retry_after_s"] == 15 * 60
    lab.clock.advance(minutes=16)
    assert lookup(lab, token, BIRTH, lab.kiosk2).status_code == 200


def test_a_scripted_guesser_is_locked_out_per_kiosk(lab: Lab) -> None:
    lab.hl7("oru_cbc_final.hl7")
    token = lab.token_for("2611230001")
    statuses = [lookup(lab, new_token(), BIRTH).status_code for _ in range(21)]
    assert statuses[:19] == [404] * 19 and statuses[19:] == [429, 429]  # 20th failure locks
    # this kiosk is locked even for a real receipt; the next kiosk is not
    assert lookup(lab, token, BIRTH).status_code == 429
    assert lookup(lab, token, BIRTH, lab.kiosk2).status_code == 200


def test_every_lookup_and_print_is_audited(lab: Lab) -> None:
    lab.hl7("oru_cbc_final.hl7")
    token = lab.token_for("2611230001")
    lookup(lab, token, "1999-01-01")
    lookup(lab, new_token(), BIRTH)
    lookup(lab, token, BIRTH)
    printed(lab, token)
    printed(lab, token, kiosk=lab.kiosk2)
    rows = lab.sql(
        "SELECT actor, action, outcome, kiosk_id FROM lab_audit "
        "WHERE action IN ('lookup', 'print') ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [
        ("device:kiosk-1", "lookup", "check_failed", "kiosk-1"),
        ("device:kiosk-1", "lookup", "token_unknown", "kiosk-1"),
        ("device:kiosk-1", "lookup", "ok:final", "kiosk-1"),
        ("device:kiosk-1", "print", "queued", "kiosk-1"),
        ("device:kiosk-2", "print", "already_printed", "kiosk-2"),
    ]


def test_the_audit_log_is_append_only(lab: Lab) -> None:
    lab.hl7("oru_cbc_final.hl7")
    engine = hall_of(lab.app).db.engine
    for statement in ("UPDATE lab_audit SET actor = 'x'", "DELETE FROM lab_audit"):
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text(statement))
    assert len(lab.sql("SELECT * FROM lab_audit")) == 1


def test_only_kiosks_look_up(lab: Lab) -> None:
    resp = lab.post("/lab/lookup", {"token": new_token(), "check": BIRTH}, lab.logins.staff)
    assert resp.status_code == 403
    resp = lab.post("/lab/lookup", {"token": new_token(), "check": BIRTH}, lab.lis)
    assert resp.status_code == 403
