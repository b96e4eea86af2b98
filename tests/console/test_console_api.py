"""The console's endpoints over HTTP, on SQLite and PostgreSQL: the queue read model, reorder,
door release / leave and priority review — each audited in ticket_events, each refused with
ticket.changed when the ticket moved on meanwhile, each reaching /staff consoles at once."""

from __future__ import annotations

import json
import threading
from typing import Any

from queue_server import socketio_of
from tests.api.conftest import Hall, assert_error


def queue(hall: Hall, sid: str) -> dict[str, Any]:
    resp = hall.get(f"/services/{sid}/queue", hall.staff)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def numbers(rows: list[dict[str, Any]]) -> list[str]:
    return [r["number"] for r in rows]


def audit(hall: Hall, ticket_id: int, action: str) -> list[tuple[Any, ...]]:
    rows = hall.rows(
        "SELECT actor, from_status, to_status, counter_id, details FROM ticket_events "
        "WHERE ticket_id = :t AND action = :a ORDER BY id",
        t=ticket_id,
        a=action,
    )
    return [(a, f, t, c, d if isinstance(d, dict) else json.loads(d)) for a, f, t, c, d in rows]


def staff_user_id(hall: Hall) -> int:
    return hall.scalar("SELECT id FROM users WHERE username = 'staff1'")


def line_of(hall: Hall, sid: str, n: int, **body: Any) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        out.append(hall.issue(sid, **body))
        hall.clock.advance(minutes=1)
    return out


# ------------------------------------------------------------------ the queue read model


def test_queue_lists_the_line_in_calling_order_with_waits_and_sla(any_hall: Hall) -> None:
    hall = any_hall
    a = hall.issue("reg", patient_name="张小三")
    hall.clock.advance(minutes=1)
    b = hall.issue("reg", hall.logins.kiosk, priority="elderly")
    hall.clock.advance(minutes=1)
    c = hall.issue("reg")
    q = queue(hall, "reg")
    # The priority patient first (ratio 2:1), then arrival order: the same as the screens.
    assert numbers(q["waiting"]) == [b["number"], a["number"], c["number"]]
    assert [r["position"] for r in q["waiting"]] == [0, 1, 2]
    snap = hall.get("/displays/hall/snapshot", hall.staff).get_json()
    assert [t["number"] for t in snap["next"] if t["service_id"] == "reg"] == numbers(q["waiting"])
    first = q["waiting"][1]
    assert first["masked_name"] == "张*三"
    assert "张小三" not in json.dumps(q, ensure_ascii=False)
    elderly = q["waiting"][0]
    assert elderly["priority"] == "elderly" and elderly["needs_review"] is True
    assert not any(r["sla_breach"] for r in q["waiting"])
    assert q["service"]["target_wait_minutes"] == 10
    # 11 minutes later the first two have waited past the 10-minute target, the last has not.
    hall.clock.advance(minutes=10)
    q = queue(hall, "reg")
    breach = {r["number"]: r["sla_breach"] for r in q["waiting"]}
    assert breach == {a["number"]: True, b["number"]: True, c["number"]: False}
    assert q["sla_breaches"] == 2
    assert {r["number"]: r["waited_min"] for r in q["waiting"]}[a["number"]] == 12


def test_queue_shows_missed_on_leave_at_counters_and_doors(hall: Hall) -> None:
    hall.set_counter("reg-1", "open")
    hall.set_counter("room-1", "open")
    t1, t2, t3 = line_of(hall, "reg", 3)
    hall.act(hall.call_next("reg-1")["ticket"]["id"], "no-show")
    called = hall.call_next("reg-1")["ticket"]
    q = queue(hall, "reg")
    assert numbers(q["missed"]) == [t1["number"]]
    assert numbers(q["at_counters"]) == [t2["number"]] and called["id"] == t2["id"]
    assert numbers(q["waiting"]) == [t3["number"]]
    hall.act(t2["id"], "send-for-tests")
    assert numbers(queue(hall, "reg")["on_leave"]) == [t2["number"]]
    # im1 room has a door cap of 2: after a call two wait at the door.
    im = line_of(hall, "im1", 4)
    hall.call_next("room-1")
    q = queue(hall, "im1")
    door = next(c for c in q["counters"] if c["id"] == "room-1")
    assert door["door_cap"] == 2 and door["door_free"] == 0
    assert door["at_door"] == [im[1]["number"], im[2]["number"]]
    assert [r["at_door"] for r in q["waiting"]] == ["room-1", "room-1", None]


def test_queue_of_unknown_service_is_404(hall: Hall) -> None:
    assert_error(hall.get("/services/nope/queue", hall.staff), 404, "service.not_found")


# ------------------------------------------------------------------ reorder


def test_reorder_moves_before_a_ticket_and_is_audited(any_hall: Hall) -> None:
    hall = any_hall
    t = line_of(hall, "reg", 4)
    body = {"before_ticket_id": t[1]["id"], "reason": "行动不便 wheelchair", "expected_version": 2}
    resp = hall.post(f"/tickets/{t[3]['id']}/reorder", body, hall.staff)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    moved = resp.get_json()
    assert moved["version"] == t[3]["version"] + 1 and moved["status"] == "waiting"
    assert numbers(queue(hall, "reg")["waiting"]) == [
        t[0]["number"],
        t[3]["number"],
        t[1]["number"],
        t[2]["number"],
    ]
    [(actor, before, after, _, details)] = audit(hall, t[3]["id"], "reorder")
    assert actor == "user:staff1" and before == after == "waiting"
    assert details["reason"] == "行动不便 wheelchair"
    assert details["staff_user_id"] == staff_user_id(hall)
    assert details["before_ticket_id"] == t[1]["id"]
    assert details["from_key"] != details["to_key"]
    # And the counter now calls in that order.
    hall.set_counter("reg-1", "open")
    called = [hall.call_next("reg-1")["ticket"]["number"] for _ in range(4)]
    assert called == [t[0]["number"], t[3]["number"], t[1]["number"], t[2]["number"]]


def test_reorder_to_front_and_end(hall: Hall) -> None:
    t = line_of(hall, "reg", 3)
    hall.act(t[2]["id"], "reorder", to="front", reason="urgent")
    hall.act(t[0]["id"], "reorder", to="end", reason="asked to wait")
    assert numbers(queue(hall, "reg")["waiting"]) == [
        t[2]["number"],
        t[1]["number"],
        t[0]["number"],
    ]


def test_reorder_refusals(hall: Hall) -> None:
    t = line_of(hall, "reg", 3)
    p = hall.issue("reg", priority="elderly")
    url = f"/tickets/{t[2]['id']}/reorder"
    assert_error(hall.post(url, {"to": "front"}, hall.staff), 400, "request.invalid")
    assert_error(
        hall.post(url, {"to": "front", "reason": "  "}, hall.staff), 400, "request.invalid"
    )
    err = assert_error(
        hall.post(url, {"before_ticket_id": p["id"], "reason": "x"}, hall.staff),
        400,
        "request.invalid",
    )
    assert err["details"]["target_class"] == "elderly"
    err = assert_error(
        hall.post(url, {"to": "front", "reason": "x", "expected_version": 1}, hall.staff),
        409,
        "ticket.changed",
    )
    assert err["details"] == {"version": 2, "status": "waiting"}
    hall.set_counter("reg-1", "open")
    hall.post(f"/tickets/{t[0]['id']}/call", {"counter_id": "reg-1"}, hall.staff)
    err = assert_error(
        hall.post(f"/tickets/{t[0]['id']}/reorder", {"to": "end", "reason": "x"}, hall.staff),
        409,
        "ticket.invalid_transition",
    )
    assert err["details"]["status"] == "called"
    assert_error(
        hall.post("/tickets/999999/reorder", {"to": "end", "reason": "x"}, hall.staff),
        404,
        "ticket.not_found",
    )
    # Nothing was logged for the refusals.
    assert audit(hall, t[2]["id"], "reorder") == []


# ------------------------------------------------------------------ doors


def test_door_release_beyond_cap_then_leave(any_hall: Hall) -> None:
    hall = any_hall
    hall.set_counter("room-1", "open")
    t = line_of(hall, "im1", 5)
    hall.call_next("room-1")  # calls t0, pre-calls t1, t2 (cap 2)
    resp = hall.post(
        "/counters/room-1/door-release", {"reason": "医生要求 doctor asked"}, hall.staff
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["ticket"]["id"] == t[3]["id"] and body["at_door"] == 3
    door = next(c for c in queue(hall, "im1")["counters"] if c["id"] == "room-1")
    assert door["at_door_ids"] == [t[1]["id"], t[2]["id"], t[3]["id"]]
    [(actor, _, _, counter, details)] = audit(hall, t[3]["id"], "precall")
    assert (actor, counter) == ("user:staff1", "room-1")
    assert details["manual"] is True and details["reason"] == "医生要求 doctor asked"
    assert details["at_door_before"] == 2 and details["door_cap"] == 2
    # Send t1 back to the line: the door keeps t2, t3; t1 waits first in line again.
    v = hall.ticket(t[1]["id"])["version"]
    resp = hall.post(
        f"/tickets/{t[1]['id']}/door-leave",
        {"reason": "去洗手间 toilet", "expected_version": v},
        hall.staff,
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["version"] == v + 1
    q = queue(hall, "im1")
    door = next(c for c in q["counters"] if c["id"] == "room-1")
    assert door["at_door_ids"] == [t[2]["id"], t[3]["id"]]
    [(_, _, _, counter, details)] = audit(hall, t[1]["id"], "door_leave")
    assert counter == "room-1" and details["door"] == "room-1"
    # The door is called in its order, then the line.
    hall.act(t[0]["id"], "finish")
    assert hall.call_next("room-1")["ticket"]["id"] == t[2]["id"]
    # The top-up pre-called t1 again (first in line); t4 is in the line, not at a door.
    assert _door_ids(hall) == [t[3]["id"], t[1]["id"]]
    err = assert_error(
        hall.post(f"/tickets/{t[4]['id']}/door-leave", None, hall.staff),
        409,
        "ticket.invalid_transition",
    )
    assert err["details"] == {"status": "waiting", "action": "door_leave"}


def _door_ids(hall: Hall) -> list[int]:
    return next(c for c in queue(hall, "im1")["counters"] if c["id"] == "room-1")["at_door_ids"]


def test_door_release_of_a_named_ticket_and_refusals(hall: Hall) -> None:
    t = line_of(hall, "im1", 3)
    assert_error(
        hall.post("/counters/room-1/door-release", None, hall.staff), 409, "counter.not_open"
    )
    hall.set_counter("room-1", "paused")  # a paused room keeps its door
    resp = hall.post("/counters/room-1/door-release", {"ticket_id": t[2]["id"]}, hall.staff)
    assert resp.status_code == 200
    assert _door_ids(hall) == [t[2]["id"]]
    err = assert_error(
        hall.post("/counters/room-1/door-release", {"ticket_id": t[2]["id"]}, hall.staff),
        400,
        "request.invalid",
    )
    assert err["details"]["at_door"] == "room-1"
    other = hall.issue("reg")
    assert_error(
        hall.post("/counters/room-1/door-release", {"ticket_id": other["id"]}, hall.staff),
        409,
        "counter.service_not_served",
    )
    assert_error(
        hall.post("/counters/nope/door-release", None, hall.staff), 404, "counter.not_found"
    )
    hall.set_counter("room-2", "open")
    assert_error(hall.post("/counters/room-2/door-release", None, hall.staff), 409, "queue.empty")
    assert_error(
        hall.post("/counters/room-1/door-release", {"ticket_id": "x"}, hall.staff),
        400,
        "request.invalid",
    )


# ------------------------------------------------------------------ priority review


def test_confirm_and_revoke_self_declared_priorities(any_hall: Hall) -> None:
    hall = any_hall
    kept = hall.issue("reg", hall.logins.kiosk, priority="elderly")
    dropped = hall.issue("reg", hall.logins.kiosk, priority="military")
    assert kept["priority_confirmed"] is False
    resp = hall.post(
        f"/tickets/{kept['id']}/confirm-priority",
        {"confirm": True, "expected_version": kept["version"]},
        hall.staff,
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert (resp.get_json()["priority"], resp.get_json()["priority_confirmed"]) == ("elderly", True)
    # Revoking needs a reason.
    assert_error(
        hall.post(f"/tickets/{dropped['id']}/confirm-priority", {"confirm": False}, hall.staff),
        400,
        "request.invalid",
    )
    resp = hall.post(
        f"/tickets/{dropped['id']}/confirm-priority",
        {"confirm": False, "reason": "无军官证 no military ID"},
        hall.staff,
    )
    assert resp.status_code == 200
    assert resp.get_json()["priority"] == "normal"
    [(actor, _, _, _, details)] = audit(hall, dropped["id"], "priority_review")
    assert actor == "user:staff1"
    assert details == {
        "staff_user_id": staff_user_id(hall),
        "reason": "无军官证 no military ID",
        "confirm": False,
        "priority_before": "military",
        "priority": "normal",
    }
    q = {r["id"]: r for r in queue(hall, "reg")["waiting"]}
    assert not q[kept["id"]]["needs_review"] and not q[dropped["id"]]["needs_review"]
    # Reviewed once: a second review is refused, as is a stale version.
    assert_error(
        hall.post(f"/tickets/{kept['id']}/confirm-priority", {"confirm": True}, hall.staff),
        409,
        "ticket.invalid_transition",
    )
    fresh = hall.issue("reg", hall.logins.kiosk, priority="disabled")
    assert_error(
        hall.post(
            f"/tickets/{fresh['id']}/confirm-priority",
            {"confirm": True, "expected_version": fresh["version"] - 1},
            hall.staff,
        ),
        409,
        "ticket.changed",
    )
    assert_error(
        hall.post(f"/tickets/{fresh['id']}/confirm-priority", {"confirm": "yes"}, hall.staff),
        400,
        "request.invalid",
    )


def test_staff_walk_in_with_priority_needs_no_review(hall: Hall) -> None:
    t = hall.issue("blood", priority="green_channel", patient_name="李四")
    assert t["priority"] == "green_channel" and t["priority_confirmed"] is True
    row = next(r for r in queue(hall, "blood")["waiting"] if r["id"] == t["id"])
    assert row["needs_review"] is False and row["masked_name"] == "李*"


# ------------------------------------------------------------------ versions and live events


def test_a_stale_action_is_refused_not_applied(hall: Hall) -> None:
    """Two consoles hold version v of a called ticket; the first finishes it, the second's
    no-show with v is refused with ticket.changed and the ticket stays done."""
    hall.set_counter("reg-1", "open")
    hall.issue("reg")
    called = hall.call_next("reg-1")["ticket"]
    v = called["version"]
    assert hall.act(called["id"], "finish", expected_version=v)["status"] == "done"
    err = assert_error(
        hall.post(f"/tickets/{called['id']}/no-show", {"expected_version": v}, hall.staff),
        409,
        "ticket.changed",
    )
    assert err["details"]["status"] == "done"
    assert hall.ticket(called["id"])["status"] == "done"
    resp = hall.post(f"/tickets/{called['id']}/recall", None, {**hall.staff, "If-Match": f'"{v}"'})
    assert_error(resp, 409, "ticket.changed")


def test_desk_changes_reach_staff_consoles_and_screens(hall: Hall) -> None:
    sio = socketio_of(hall.app).test_client(
        hall.app,
        namespace="/staff",
        auth={"token": hall.staff["Authorization"].removeprefix("Bearer "), "services": ["im1"]},
        flask_test_client=hall.client,
    )
    screen = socketio_of(hall.app).test_client(
        hall.app,
        namespace="/display",
        auth={"token": hall.logins.display["Authorization"].removeprefix("Bearer ")},
        flask_test_client=hall.client,
    )
    screen_im = socketio_of(hall.app).test_client(
        hall.app,
        namespace="/display",
        auth={"token": hall.device("display", "im-zone")["Authorization"].removeprefix("Bearer ")},
        flask_test_client=hall.client,
    )
    sio.get_received("/staff")
    screen.get_received("/display")
    screen_im.get_received("/display")
    hall.set_counter("room-1", "open")
    sio.get_received("/staff")
    screen_im.get_received("/display")
    t = line_of(hall, "im1", 2)
    hall.act(t[1]["id"], "reorder", before_ticket_id=t[0]["id"], reason="frail")
    hall.post("/counters/room-1/door-release", None, hall.staff)
    got = [(e["name"], e["args"][0]) for e in sio.get_received("/staff")]
    changed = [p for n, p in got if n == "ticket.changed"]
    assert [p["ticket"]["id"] for p in changed] == [t[1]["id"], t[1]["id"]]
    assert all(set(p["ticket"]) >= {"number", "status", "masked_name"} for p in changed)
    versions = [p["version"] for n, p in got if n in ("ticket.changed", "queue.changed")]
    assert versions == sorted(versions)
    assert {n for n, _ in got} >= {"ticket.changed", "queue.changed"}
    on_screen = [e["name"] for e in screen_im.get_received("/display")]
    assert "ticket.changed" in on_screen and "queue.changed" in on_screen
    assert screen.get_received("/display") == []  # the hall screen does not show im1


def test_two_staff_pressing_call_next_together_never_share_a_ticket(any_hall: Hall) -> None:
    """Two staff on the same counter and two on another counter of the same service press
    "call next" at once, over and over: every press gets its own ticket."""
    hall = any_hall
    for counter in ("reg-1", "reg-2"):
        hall.set_counter(counter, "open")
    ids = [hall.issue("reg")["id"] for _ in range(24)]
    presses = ["reg-1", "reg-1", "reg-2", "reg-2"]  # two people at each counter
    start = threading.Barrier(len(presses))
    got: list[list[int]] = [[] for _ in presses]
    errors: list[str] = []

    def press(i: int) -> None:
        client = hall.app.test_client()
        start.wait(timeout=30)
        while True:
            resp = client.post(f"/api/v1/counters/{presses[i]}/call-next", headers=hall.staff)
            body = resp.get_json()
            if resp.status_code == 409 and body["error"]["code"] == "queue.empty":
                return
            if resp.status_code != 200:
                errors.append(f"{presses[i]}: {resp.status_code} {body}")
                return
            got[i].append(body["ticket"]["id"])

    threads = [threading.Thread(target=press, args=(i,)) for i in range(len(presses))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    called = [tid for per in got for tid in per]
    assert sorted(called) == sorted(ids), "a ticket was called twice or never"
    calls = hall.rows("SELECT ticket_id FROM ticket_events WHERE action = 'call'")
    assert sorted(r[0] for r in calls) == sorted(ids)
