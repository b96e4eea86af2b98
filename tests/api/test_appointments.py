"""POST /appointments and appointment check-in through POST /tickets {appointment_code}."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.api.conftest import Hall, assert_error, local


def _check_in(hall: Hall, code: str, **body: Any) -> Any:
    return hall.post("/tickets", {"appointment_code": code, **body}, hall.logins.kiosk)


def test_booking_returns_the_appointment(hall: Hall) -> None:
    appt = hall.book("im1", local(10), code="HIS-0001", patient_name="王小明", priority="elderly")
    assert appt["code"] == "HIS-0001"
    assert appt["service_id"] == "im1"
    assert dt.datetime.fromisoformat(appt["slot_start"]) == local(10)
    assert dt.datetime.fromisoformat(appt["slot_end"]) == local(10, 30)  # 30-minute slots
    assert appt["masked_name"] == "王*明"
    assert appt["priority"] == "elderly"
    assert appt["status"] == "booked"
    assert appt["ticket_id"] is None
    assert isinstance(appt["id"], int)


def test_booking_without_a_code_makes_one(hall: Hall) -> None:
    a = hall.book("im2", local(10))
    b = hall.book("im2", local(10))
    assert a["code"] and b["code"] and a["code"] != b["code"]


def test_booking_accepts_any_offset(hall: Hall) -> None:
    appt = hall.book("im1", dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC))  # 10:00 Shanghai
    assert dt.datetime.fromisoformat(appt["slot_start"]) == local(10)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"service_id": "im1"}, 400, "request.invalid"),
        ({"slot_start": "2026-11-23T10:00:00+08:00"}, 400, "request.invalid"),
        ({"service_id": "im1", "slot_start": "tomorrow"}, 400, "request.invalid"),
        ({"service_id": "im1", "slot_start": "2026-11-23T10:00:00"}, 400, "request.invalid"),
        ({"service_id": "im1", "slot_start": 1700000000}, 400, "request.invalid"),
        (
            {"service_id": "eye", "slot_start": "2026-11-23T10:00:00+08:00"},
            404,
            "service.not_found",
        ),
        (
            {"service_id": "im1", "slot_start": "2026-11-23T10:00:00+08:00", "priority": "vip"},
            400,
            "priority.unknown",
        ),
    ],
)
def test_booking_errors(hall: Hall, body: dict[str, Any], status: int, code: str) -> None:
    assert_error(hall.post("/appointments", body, hall.staff), status, code)
    assert hall.scalar("SELECT count(*) FROM appointments") == 0


def test_booking_a_taken_code_is_refused(hall: Hall) -> None:
    hall.book("im1", local(10), code="DUP")
    resp = hall.post(
        "/appointments",
        {"service_id": "im2", "slot_start": local(11).isoformat(), "code": "DUP"},
        hall.staff,
    )
    assert resp.status_code in (400, 409)
    assert resp.get_json()["error"]["code"] in ("request.invalid", "appointment.exists")
    assert hall.scalar("SELECT count(*) FROM appointments") == 1


def test_check_in_unknown_code_is_404(hall: Hall) -> None:
    assert_error(_check_in(hall, "NO-SUCH-CODE"), 404, "appointment.not_found")


def test_check_in_on_another_day_is_422(hall: Hall) -> None:
    hall.book("im1", local(9, day=24), code="TOMORROW")
    err = assert_error(_check_in(hall, "TOMORROW"), 422, "appointment.wrong_day")
    assert err["message"]
    hall.book("im1", local(9, day=22), code="YESTERDAY")
    assert_error(_check_in(hall, "YESTERDAY"), 422, "appointment.wrong_day")
    assert hall.scalar("SELECT count(*) FROM tickets") == 0


def test_check_in_too_early_is_422_then_opens(hall: Hall) -> None:
    # im1 opens check-in 60 minutes before the slot; it is 09:00
    hall.book("im1", local(10, 30), code="EARLY")
    assert_error(_check_in(hall, "EARLY"), 422, "appointment.too_early")
    hall.clock.set(local(9, 29))
    assert_error(_check_in(hall, "EARLY"), 422, "appointment.too_early")
    hall.clock.set(local(9, 30))
    resp = _check_in(hall, "EARLY")
    assert resp.status_code == 201
    assert resp.get_json()["status"] == "waiting"


def test_check_in_before_the_slot_is_refused_where_early_check_in_is_forbidden(hall: Hall) -> None:
    hall.book("im3", local(9, 30), code="IM3")
    assert_error(_check_in(hall, "IM3"), 422, "appointment.too_early")
    hall.clock.set(local(9, 30))
    assert _check_in(hall, "IM3").status_code == 201


def test_check_in_at_the_wrong_service_is_422(hall: Hall) -> None:
    hall.book("im1", local(9), code="IM1-CODE")
    resp = _check_in(hall, "IM1-CODE", service_id="im2")
    assert_error(resp, 422, "appointment.wrong_service")
    assert hall.scalar("SELECT count(*) FROM tickets") == 0
    # naming the right service is fine
    ok = _check_in(hall, "IM1-CODE", service_id="im1")
    assert ok.status_code == 201 and ok.get_json()["service_id"] == "im1"


def test_checked_in_appointment_carries_its_priority_and_name(hall: Hall) -> None:
    hall.book("im1", local(9), code="PRIO", priority="elderly", patient_name="欧阳小明")
    t = _check_in(hall, "PRIO").get_json()
    assert t["priority"] == "elderly"
    detail = hall.ticket(t["id"])
    assert detail["masked_name"] == "欧阳*明"
    assert dt.datetime.fromisoformat(detail["appointment_at"]) == local(9)


def test_appointment_before_walk_ins_of_its_slot(hall: Hall) -> None:
    walk_in = hall.issue("im1")
    hall.book("im1", local(9), code="FIRST")
    hall.clock.advance(minutes=5)
    appt = _check_in(hall, "FIRST").get_json()
    assert appt["people_ahead"] == 0  # im1: appointments first (预约永优先)
    assert hall.ticket(walk_in["id"])["people_ahead"] == 1
    hall.set_counter("room-1", "open")
    assert hall.call_next("room-1")["ticket"]["id"] == appt["id"]
