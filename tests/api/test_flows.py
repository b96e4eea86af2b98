"""Whole patient flows over HTTP, each on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.api.conftest import Hall, assert_error, assert_ticket_shape, follow_token, local


def _follow(hall: Hall, ticket: dict[str, Any]) -> dict[str, Any]:
    resp = hall.get(f"/follow/{follow_token(ticket)}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def test_issue_call_recall_start_finish(any_hall: Hall) -> None:
    h = any_hall
    t = h.issue("reg", headers=h.logins.kiosk)
    other = h.issue("reg", headers=h.logins.kiosk)
    assert (t["number"], other["number"]) == ("A001", "A002")
    assert _follow(h, t)["status"] == "waiting"
    h.set_counter("reg-1", "open")

    called = h.call_next("reg-1")["ticket"]
    assert called["id"] == t["id"] and called["status"] == "called"
    follow = _follow(h, t)
    assert follow["status"] == "called"
    assert follow["counter"]["id"] == "reg-1"

    h.clock.advance(seconds=20)
    recalled = h.act(t["id"], "recall")
    assert recalled["status"] == "called"
    assert recalled["version"] > called["version"]
    started = h.act(t["id"], "start")
    assert started["status"] == "serving"
    h.clock.advance(minutes=2)
    done = h.act(t["id"], "finish")
    assert_ticket_shape(done)
    assert done["status"] == "done"
    assert _follow(h, t)["status"] == "done"
    assert h.counters()["reg-1"]["current_ticket"] is None

    actions = [(e["action"], e["counter_id"]) for e in h.ticket(t["id"])["history"]]
    assert actions[-4:] == [
        ("call", "reg-1"),
        ("recall", "reg-1"),
        ("start", "reg-1"),
        ("finish", "reg-1"),
    ]
    # the next call gets the other patient
    assert h.call_next("reg-1")["ticket"]["id"] == other["id"]


def test_no_show_then_return_by_the_recall_rule(any_hall: Hall) -> None:
    h = any_hall
    tickets = []
    for _ in range(5):
        tickets.append(h.issue("reg"))
        h.clock.advance(minutes=1)
    h.set_counter("reg-1", "open")
    first = tickets[0]
    assert h.call_next("reg-1")["ticket"]["id"] == first["id"]
    missed = h.act(first["id"], "no-show")
    assert missed["status"] == "no_show"
    assert missed["no_show_count"] == 1
    assert h.counters()["reg-1"]["current_ticket"] is None
    assert _follow(h, first)["status"] == "no_show"
    snap = h.get("/displays/hall/snapshot", h.logins.display).get_json()
    assert [m["number"] for m in snap["missed"]] == ["A001"]

    back = h.act(first["id"], "return")
    assert back["status"] == "waiting"
    # reg: recall rule after_n with n = 3 -> behind three of the four who wait
    assert back["people_ahead"] == 3
    called = [h.call_next("reg-1")["ticket"]["number"] for _ in range(5)]
    assert called == ["A002", "A003", "A004", "A001", "A005"]

    history = h.ticket(first["id"])["history"]
    # called again, then finished by the next call-next at the same counter
    actions = [e["action"] for e in history]
    assert actions[-5:] == ["call", "no_show", "return", "call", "finish"]


def test_second_no_show_is_not_called_automatically(any_hall: Hall) -> None:
    h = any_hall
    t = h.issue("reg")
    h.set_counter("reg-1", "open")
    for _ in range(2):
        h.call_next("reg-1")
        h.act(t["id"], "no-show")
        back = h.act(t["id"], "return")
        assert back["status"] == "waiting"
    assert back["no_show_count"] == 2
    assert back["auto_call"] is False
    assert_error(h.post("/counters/reg-1/call-next", None, h.staff), 409, "queue.empty")
    # staff can still call it by hand
    resp = h.post(f"/tickets/{t['id']}/call", {"counter_id": "reg-1"}, h.staff)
    assert resp.status_code == 200 and resp.get_json()["ticket"]["status"] == "called"


def test_send_for_tests_then_return(any_hall: Hall) -> None:
    h = any_hall
    patient = h.issue("im2")
    later = []
    for _ in range(6):
        h.clock.advance(minutes=1)
        later.append(h.issue("im2"))
    h.set_counter("room-2", "open")
    assert h.call_next("room-2")["ticket"]["id"] == patient["id"]
    h.act(patient["id"], "start")
    away = h.act(patient["id"], "send-for-tests")
    assert away["status"] == "on_leave"
    assert _follow(h, patient)["status"] == "on_leave"
    # the visit goes to the blood draw meanwhile (a new ticket of its own)
    h.clock.advance(minutes=20)
    back = h.act(patient["id"], "return")
    assert back["status"] == "waiting"
    assert back["visit_id"] == patient["visit_id"]
    assert back["number"] == patient["number"]
    # im2: two wait at the door (door cap 2); recall rule after_n, n = 3, behind 3 more
    assert back["people_ahead"] == 5
    assert h.ticket(later[0]["id"])["people_ahead"] == 0
    assert h.ticket(later[5]["id"])["people_ahead"] == 6
    history = [e["action"] for e in h.ticket(patient["id"])["history"]]
    assert history[-2:] == ["send_for_tests", "return"]


@pytest.mark.parametrize(
    ("position", "ahead"),
    [("front", 0), ("end", 3), ("issue_time", 1)],
)
def test_transfer_keeps_visit_and_number(any_hall: Hall, position: str, ahead: int) -> None:
    h = any_hall
    h.issue("pharmacy")  # G001, issued 09:00
    h.clock.advance(minutes=1)
    referred = h.issue("reg")  # A001, issued 09:01: transferred to the pharmacy
    h.clock.advance(minutes=1)
    h.issue("pharmacy")  # G002
    h.issue("pharmacy")  # G003
    h.clock.advance(minutes=1)

    resp = h.post(
        f"/tickets/{referred['id']}/transfer",
        {"service_id": "pharmacy", "position": position},
        h.staff,
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    old, new = body["from"], body["ticket"]
    assert old["id"] == referred["id"] and old["status"] == "transferred"
    assert new["id"] != referred["id"]
    assert new["service_id"] == "pharmacy"
    assert new["status"] == "waiting"
    assert new["number"] == referred["number"] == "A001"
    assert new["visit_id"] == referred["visit_id"]
    assert new["people_ahead"] == ahead
    # one visit, one follow link: it now shows the pharmacy ticket
    assert new["follow_url"] == referred["follow_url"]
    follow = _follow(h, referred)
    assert follow["service"]["id"] == "pharmacy" and follow["people_ahead"] == ahead
    assert h.services()["reg"]["waiting"] == 0
    assert h.services()["pharmacy"]["waiting"] == 4
    h.set_counter("pharm-1", "open")
    order = [h.call_next("pharm-1")["ticket"]["number"] for _ in range(4)]
    assert order.index("A001") == ahead


def test_transfer_of_a_called_ticket_frees_the_counter(any_hall: Hall) -> None:
    h = any_hall
    t = h.issue("im1")
    h.set_counter("room-1", "open")
    h.call_next("room-1")
    new = h.post(f"/tickets/{t['id']}/transfer", {"service_id": "us"}, h.staff).get_json()
    assert new["ticket"]["service_id"] == "us"
    assert h.counters()["room-1"]["current_ticket"] is None
    assert h.ticket(t["id"])["status"] == "transferred"


def test_blood_ticket_waits_registered_until_check_in(any_hall: Hall) -> None:
    h = any_hall
    reg = h.issue("blood", checked_in=False)
    assert reg["status"] == "registered"
    assert reg["people_ahead"] is None
    assert h.services()["blood"]["waiting"] == 0
    walk_in = h.issue("blood", headers=h.logins.kiosk)  # a kiosk ticket is checked in
    assert walk_in["status"] == "waiting"
    assert h.services()["blood"]["waiting"] == 1
    h.set_counter("blood-1", "open")
    assert h.call_next("blood-1")["ticket"]["id"] == walk_in["id"]
    assert_error(h.post("/counters/blood-1/call-next", None, h.staff), 409, "queue.empty")

    resp = h.post(f"/tickets/{reg['id']}/check-in", None, h.logins.kiosk)
    assert resp.status_code == 200
    checked = resp.get_json()
    assert checked["status"] == "waiting"
    assert checked["people_ahead"] == 0
    assert h.services()["blood"]["waiting"] == 1
    assert h.call_next("blood-1")["ticket"]["id"] == reg["id"]
    # twice is refused
    assert_error(
        h.post(f"/tickets/{reg['id']}/check-in", None, h.staff), 409, "ticket.invalid_transition"
    )
    actions = [(e["action"], e["actor"]) for e in h.ticket(reg["id"])["history"]]
    assert actions[:2] == [("issue", "user:staff1"), ("check_in", "device:kiosk-1")]


def test_appointment_check_in_on_time_and_again(any_hall: Hall) -> None:
    h = any_hall
    appt = h.book("im1", local(9, 30), code="A-0930", patient_name="张小三")
    h.clock.set(local(9, 10))
    first = h.post("/tickets", {"appointment_code": "A-0930"}, h.logins.kiosk)
    assert first.status_code == 201
    t = first.get_json()
    assert_ticket_shape(t)
    assert t["service_id"] == "im1"
    assert t["number"] == "C001"
    assert t["status"] == "waiting"
    assert t["late"] is False
    assert dt.datetime.fromisoformat(t["appointment_at"]) == local(9, 30)
    # a second tap (another kiosk, the desk) returns the same ticket, not a new one
    h.clock.advance(minutes=2)
    for headers in (h.device("kiosk", "kiosk-2"), h.staff):
        again = h.post("/tickets", {"appointment_code": "A-0930"}, headers)
        assert again.status_code == 200
        assert again.get_json()["id"] == t["id"]
        assert again.get_json()["number"] == "C001"
    assert h.scalar("SELECT count(*) FROM tickets") == 1
    assert appt["ticket_id"] is None


def test_late_appointment_goes_after_n_on_time_patients(any_hall: Hall) -> None:
    h = any_hall
    h.book("im1", local(9), code="LATE")
    walk_ins = []
    for _ in range(5):
        walk_ins.append(h.issue("im1"))
        h.clock.advance(minutes=1)
    h.clock.set(local(9, 45))  # im1: late after 30 minutes; late rule after_n, n = 3
    resp = h.post("/tickets", {"appointment_code": "LATE"}, h.logins.kiosk)
    assert resp.status_code == 201
    late = resp.get_json()
    assert late["late"] is True
    assert late["people_ahead"] == 3
    history = h.ticket(late["id"])["history"]
    assert history[-1]["action"] == "check_in"
    assert (history[-1]["details"] or {}).get("late") is True


def test_on_time_appointment_is_not_late(any_hall: Hall) -> None:
    h = any_hall
    h.book("im1", local(9), code="ONTIME")
    h.issue("im1")
    h.clock.set(local(9, 29))
    t = h.post("/tickets", {"appointment_code": "ONTIME"}, h.logins.kiosk).get_json()
    assert t["late"] is False
    assert t["people_ahead"] == 0


def test_counter_states_over_a_shift(any_hall: Hall) -> None:
    h = any_hall
    h.issue("pharmacy")
    h.issue("pharmacy")
    assert_error(h.post("/counters/pharm-2/call-next", None, h.staff), 409, "counter.not_open")
    h.set_counter("pharm-2", "open")
    assert h.counters()["pharm-2"]["state"] == "open"
    assert h.services()["pharmacy"]["open_counters"] == ["pharm-2"]
    first = h.call_next("pharm-2")["ticket"]
    h.set_counter("pharm-2", "paused")
    assert h.counters()["pharm-2"]["state"] == "paused"
    assert h.services()["pharmacy"]["open_counters"] == []
    assert_error(h.post("/counters/pharm-2/call-next", None, h.staff), 409, "counter.not_open")
    assert h.ticket(first["id"])["status"] == "called"  # paused: keeps its patient
    h.set_counter("pharm-2", "open")
    h.call_next("pharm-2")
    h.set_counter("pharm-2", "closed")
    assert h.counters()["pharm-2"]["state"] == "closed"
    assert_error(h.post("/counters/pharm-2/call-next", None, h.staff), 409, "counter.not_open")


def test_follow_shows_public_status_without_any_name(any_hall: Hall) -> None:
    h = any_hall
    h.issue("reg", patient_name="赵钱孙")
    t = h.issue("reg", patient_name="张小三")
    follow = _follow(h, t)
    assert follow["number"] == "A002"
    assert follow["status"] == "waiting"
    assert follow["people_ahead"] == 1
    assert "estimated_wait_s" in follow
    assert follow["service"]["id"] == "reg"
    text = h.get(f"/follow/{follow_token(t)}").get_data(as_text=True)
    for part in ("张", "小三", "*三", "赵", "masked_name", "patient"):
        assert part not in text
    assert_error(h.get("/follow/not-a-real-token"), 404, "request.not_found")


def test_reset_day_moves_yesterday_out_and_restarts_numbering(any_hall: Hall) -> None:
    h = any_hall
    done = h.issue("reg")
    waiting = h.issue("reg")
    h.issue("pharmacy")
    h.set_counter("reg-1", "open")
    h.call_next("reg-1")
    h.act(done["id"], "finish")
    assert h.post("/admin/reset-day", None, h.logins.admin).get_json() == {"moved": 0}

    h.clock.set(local(0, 5, day=24))  # 00:05 the next day in Shanghai (16:05 UTC the 23rd)
    h.relogin()
    resp = h.post("/admin/reset-day", None, h.logins.admin)
    assert resp.status_code == 200
    assert resp.get_json() == {"moved": 3}
    for old in (done, waiting):
        assert_error(h.get(f"/tickets/{old['id']}", h.staff), 404, "ticket.not_found")
        assert_error(h.post(f"/tickets/{old['id']}/cancel", None, h.staff), 404, "ticket.not_found")
    assert h.services()["reg"]["waiting"] == 0
    assert h.counters()["reg-1"]["current_ticket"] is None
    assert_error(h.get(f"/follow/{follow_token(waiting)}"), 404, "request.not_found")
    # history keeps them, with the outcome
    outcomes = dict(h.rows("SELECT number, outcome FROM tickets_history WHERE service_id = 'reg'"))
    assert outcomes == {"A001": "served", "A002": "removed_by_reset"}
    # a second reset has nothing left to move
    assert h.post("/admin/reset-day", None, h.logins.admin).get_json() == {"moved": 0}
    fresh = h.issue("reg")
    assert fresh["number"] == "A001"
    assert fresh["people_ahead"] == 0
    assert h.issue("pharmacy")["number"] == "G001"


def test_ticket_ids_are_never_reused_after_a_reset(any_hall: Hall) -> None:
    """Regression: SQLite reused ids once reset-day emptied the table (no AUTOINCREMENT), so
    GET /tickets/{old id} showed today's ticket with yesterday's history and the next reset
    failed on tickets_history.id."""
    h = any_hall
    yesterday = h.issue("reg")
    h.clock.set(local(0, 5, day=24))
    h.relogin()
    assert h.post("/admin/reset-day", None, h.logins.admin).get_json() == {"moved": 1}
    today = h.issue("reg")
    assert today["id"] != yesterday["id"]
    assert_error(h.get(f"/tickets/{yesterday['id']}", h.staff), 404, "ticket.not_found")
    history = h.ticket(today["id"])["history"]
    assert all(e["action"] != "reset" for e in history)
    assert dt.datetime.fromisoformat(history[0]["at"]) == h.clock.now()
    # the day after, the reset moves today's ticket as well
    h.clock.set(local(0, 5, day=25))
    h.relogin()
    h.app.config["PROPAGATE_EXCEPTIONS"] = False
    resp = h.post("/admin/reset-day", None, h.logins.admin)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json() == {"moved": 1}
