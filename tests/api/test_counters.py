"""GET /counters, POST /counters/{id}/state, POST /counters/{id}/call-next."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Hall, assert_error, assert_ticket_shape

ALL_COUNTERS = [
    "reg-1",
    "reg-2",
    "reg-3",
    "blood-1",
    "blood-2",
    "blood-3",
    "blood-4",
    "room-1",
    "room-2",
    "room-3",
    "us-1",
    "pharm-1",
    "pharm-2",
    "pharm-3",
]


def test_counters_list_every_counter_with_services_and_state(hall: Hall) -> None:
    resp = hall.get("/counters", hall.staff)
    assert resp.status_code == 200
    counters = resp.get_json()["counters"]
    assert [c["id"] for c in counters] == ALL_COUNTERS
    by_id = {c["id"]: c for c in counters}
    assert all(c["state"] == "closed" for c in counters)
    assert by_id["reg-3"]["services"] == ["reg", "pharmacy"]
    assert by_id["room-1"]["services"] == ["im1"]
    assert by_id["reg-1"]["name"] == {"zh": "1号窗口", "en": "Window 1"}
    assert by_id["reg-1"]["current_ticket"] is None


@pytest.mark.parametrize("state", ["open", "paused", "closed"])
def test_counter_state_change_is_reflected(hall: Hall, state: str) -> None:
    if state == "closed":
        hall.set_counter("blood-2", "open")
    body = hall.set_counter("blood-2", state)
    assert body["id"] == "blood-2" and body["state"] == state
    counters = hall.counters()
    assert counters["blood-2"]["state"] == state
    assert all(c["state"] == "closed" for cid, c in counters.items() if cid != "blood-2")
    open_counters = hall.services()["blood"]["open_counters"]
    assert open_counters == (["blood-2"] if state == "open" else [])


def test_state_change_reports_the_previous_state(hall: Hall) -> None:
    assert hall.set_counter("us-1", "open")["previous"] == "closed"
    assert hall.set_counter("us-1", "paused")["previous"] == "open"
    assert hall.set_counter("us-1", "closed")["previous"] == "paused"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"state": "broken"}, 400, "request.invalid"),
        ({"state": 1}, 400, "request.invalid"),
        ({}, 400, "request.invalid"),
    ],
)
def test_counter_state_errors(hall: Hall, body: dict[str, Any], status: int, code: str) -> None:
    assert_error(hall.post("/counters/reg-1/state", body, hall.staff), status, code)
    assert hall.counters()["reg-1"]["state"] == "closed"


def test_state_of_an_unknown_counter_is_404(hall: Hall) -> None:
    resp = hall.post("/counters/nope/state", {"state": "open"}, hall.staff)
    assert_error(resp, 404, "counter.not_found")


def test_call_next_calls_the_head_of_the_line(hall: Hall) -> None:
    a = hall.issue("reg")
    b = hall.issue("reg")
    hall.set_counter("reg-1", "open")
    body = hall.call_next("reg-1")
    assert body["counter_id"] == "reg-1"
    called = body["ticket"]
    assert_ticket_shape(called)
    assert called["id"] == a["id"] and called["status"] == "called"
    assert called["counter_id"] == "reg-1"
    assert body["finished"] is None
    assert hall.counters()["reg-1"]["current_ticket"]["id"] == a["id"]
    assert hall.ticket(b["id"])["people_ahead"] == 0
    # calling again finishes the current ticket and calls the next one
    again = hall.call_next("reg-1")
    assert again["ticket"]["id"] == b["id"]
    assert again["finished"]["id"] == a["id"] and again["finished"]["status"] == "done"
    assert hall.ticket(a["id"])["status"] == "done"


@pytest.mark.parametrize("state", ["closed", "paused"])
def test_call_next_on_a_counter_not_open_is_409(hall: Hall, state: str) -> None:
    t = hall.issue("reg")
    if state == "paused":
        hall.set_counter("reg-1", "paused")
    assert_error(hall.post("/counters/reg-1/call-next", None, hall.staff), 409, "counter.not_open")
    assert hall.ticket(t["id"])["status"] == "waiting"


def test_call_next_on_an_empty_queue_is_409(hall: Hall) -> None:
    hall.set_counter("pharm-1", "open")
    hall.issue("reg")  # another service's ticket does not count
    assert_error(hall.post("/counters/pharm-1/call-next", None, hall.staff), 409, "queue.empty")


def test_call_next_on_an_unknown_counter_is_404(hall: Hall) -> None:
    assert_error(hall.post("/counters/nope/call-next", None, hall.staff), 404, "counter.not_found")


def test_paused_counter_keeps_its_ticket_and_reopens(hall: Hall) -> None:
    t = hall.issue("us")
    hall.set_counter("us-1", "open")
    hall.call_next("us-1")
    hall.set_counter("us-1", "paused")
    current = hall.counters()["us-1"]["current_ticket"]
    assert current is not None and current["id"] == t["id"]
    assert hall.ticket(t["id"])["status"] == "called"
    hall.set_counter("us-1", "open")
    assert hall.act(t["id"], "finish")["status"] == "done"
    assert hall.counters()["us-1"]["current_ticket"] is None


def test_shared_counter_calls_from_both_services(hall: Hall) -> None:
    reg = hall.issue("reg")
    pharmacy = hall.issue("pharmacy")
    hall.set_counter("reg-3", "open")
    called = {hall.call_next("reg-3")["ticket"]["id"], hall.call_next("reg-3")["ticket"]["id"]}
    assert called == {reg["id"], pharmacy["id"]}


def test_room_with_door_cap_shows_who_waits_at_the_door(hall: Hall) -> None:
    tickets = [hall.issue("im1") for _ in range(4)]
    hall.set_counter("room-1", "open")
    assert hall.call_next("room-1")["ticket"]["id"] == tickets[0]["id"]
    snapshot = hall.get("/displays/room-1/snapshot", hall.staff).get_json()
    at_door = [n["id"] for n in snapshot["next"] if n["at_door"] == "room-1"]
    assert at_door == [tickets[1]["id"], tickets[2]["id"]]  # door_cap = 2
    assert hall.call_next("room-1")["ticket"]["id"] == tickets[1]["id"]
