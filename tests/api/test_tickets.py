"""POST /tickets (shape, validation, priorities, idempotency, numbering), GET /tickets/{id},
state changes and their errors, optimistic concurrency (expected_version / If-Match)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import API, Hall, assert_error, assert_ticket_shape, site_with

# ------------------------------------------------------------------ issuing


def test_kiosk_issues_a_ticket_with_the_promised_shape(hall: Hall) -> None:
    resp = hall.post("/tickets", {"service_id": "reg"}, hall.logins.kiosk)
    assert resp.status_code == 201
    t = resp.get_json()
    assert_ticket_shape(t)
    assert t["number"] == "A001"
    assert t["service_id"] == "reg"
    assert t["status"] == "waiting"
    assert t["priority"] == "normal"
    assert t["people_ahead"] == 0
    assert t["estimated_wait_s"] is None  # no counter open yet
    assert dt.datetime.fromisoformat(t["issued_at"]) == hall.clock.now()
    assert "/follow/" in t["follow_url"]


def test_numbers_run_per_service_and_people_ahead_counts_the_line(hall: Hall) -> None:
    a1, a2, a3 = (hall.issue("reg") for _ in range(3))
    g1 = hall.issue("pharmacy")
    assert [a1["number"], a2["number"], a3["number"]] == ["A001", "A002", "A003"]
    assert [a1["people_ahead"], a2["people_ahead"], a3["people_ahead"]] == [0, 1, 2]
    assert g1["number"] == "G001" and g1["people_ahead"] == 0
    assert len({a1["id"], a2["id"], a3["id"], g1["id"]}) == 4
    assert len({a1["follow_url"], a2["follow_url"], a3["follow_url"]}) == 3


def test_estimated_wait_grows_with_people_ahead_once_a_counter_is_open(hall: Hall) -> None:
    hall.set_counter("reg-1", "open")
    first = hall.issue("reg")
    second = hall.issue("reg")
    third = hall.issue("reg")
    assert first["estimated_wait_s"] == 0
    assert 0 < second["estimated_wait_s"] < third["estimated_wait_s"]


def test_staff_may_set_any_priority_and_it_is_called_first(hall: Hall) -> None:
    normal = hall.issue("reg")
    green = hall.issue("reg", priority="green_channel")
    assert green["priority"] == "green_channel"
    assert green["people_ahead"] == 0
    assert hall.ticket(normal["id"])["people_ahead"] == 1
    hall.set_counter("reg-1", "open")
    assert hall.call_next("reg-1")["ticket"]["id"] == green["id"]


def test_kiosk_may_self_declare_elderly_priority(hall: Hall) -> None:
    t = hall.issue("reg", headers=hall.logins.kiosk, priority="elderly")
    assert t["priority"] == "elderly"


def test_kiosk_asking_for_green_channel_is_403_priority_not_allowed(hall: Hall) -> None:
    resp = hall.post(
        "/tickets", {"service_id": "reg", "priority": "green_channel"}, hall.logins.kiosk
    )
    assert_error(resp, 403, "priority.not_allowed")
    assert hall.scalar("SELECT count(*) FROM tickets") == 0


@pytest.mark.parametrize("who", ["staff", "kiosk"])
def test_unknown_priority_is_400(hall: Hall, who: str) -> None:
    resp = hall.post(
        "/tickets", {"service_id": "reg", "priority": "vip"}, getattr(hall.logins, who)
    )
    assert_error(resp, 400, "priority.unknown")


def test_unknown_service_is_404(hall: Hall) -> None:
    resp = hall.post("/tickets", {"service_id": "dentist"}, hall.logins.kiosk)
    assert_error(resp, 404, "service.not_found")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"service_id": 5},
        {"service_id": ["reg"]},
        {"service_id": "reg", "priority": 1},
        {"service_id": "reg", "language": "fr"},
        {"service_id": "reg", "language": 7},
        {"service_id": "reg", "checked_in": "no"},
        {"appointment_code": 123},
    ],
)
def test_wrong_or_missing_fields_are_400(hall: Hall, body: dict[str, Any]) -> None:
    assert_error(hall.post("/tickets", body, hall.staff), 400, "request.invalid")


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ('{"service_id": "reg"', "application/json"),  # not JSON
        ('["reg"]', "application/json"),  # not an object
        ('"reg"', "application/json"),
        ("null", "application/json"),
        ("42", "application/json"),
        ("service_id=reg", "application/x-www-form-urlencoded"),  # not JSON at all
        ('{"service_id": "reg"}', "text/plain"),
    ],
)
def test_bad_json_or_non_object_body_is_400(hall: Hall, data: str, content_type: str) -> None:
    resp = hall.client.post(
        API + "/tickets", data=data, content_type=content_type, headers=hall.staff
    )
    assert_error(resp, 400, "request.invalid")
    assert hall.scalar("SELECT count(*) FROM tickets") == 0


def test_a_kiosk_ticket_is_always_checked_in(hall: Hall) -> None:
    resp = hall.post("/tickets", {"service_id": "blood", "checked_in": False}, hall.logins.kiosk)
    assert_error(resp, 400, "request.invalid")


def test_kiosk_cannot_attach_a_patient_name(hall: Hall) -> None:
    t = hall.issue("reg", headers=hall.logins.kiosk, patient_name="张小三")
    assert hall.ticket(t["id"])["masked_name"] is None


def test_number_range_exhausted_is_409(hall_factory: Any, tmp_path: Path) -> None:
    site = site_with(
        tmp_path,
        'prefix = "A"\nkind = "window"\nnumber_range = [1, 999]',
        'prefix = "A"\nkind = "window"\nnumber_range = [1, 2]',
    )
    h = hall_factory(site)
    assert [h.issue("reg")["number"] for _ in range(2)] == ["A001", "A002"]
    resp = h.post("/tickets", {"service_id": "reg"}, h.logins.kiosk)
    assert_error(resp, 409, "numbering.range_exhausted")
    assert_error(
        h.post("/tickets", {"service_id": "reg"}, h.staff), 409, "numbering.range_exhausted"
    )
    assert h.scalar("SELECT count(*) FROM tickets WHERE service_id = 'reg'") == 2
    # other services are not affected
    assert h.issue("pharmacy")["number"] == "G001"


# ------------------------------------------------------------------ idempotency


def test_same_key_same_body_returns_the_same_ticket_once(hall: Hall) -> None:
    headers = hall.logins.kiosk | {"Idempotency-Key": "tap-1"}
    first = hall.post("/tickets", {"service_id": "reg"}, headers)
    second = hall.post("/tickets", {"service_id": "reg"}, headers)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.get_json()["id"] == first.get_json()["id"]
    assert second.get_json()["number"] == "A001"
    assert hall.scalar("SELECT count(*) FROM tickets") == 1
    # the next ticket of the service is A002: the replay used no number
    assert hall.issue("reg")["number"] == "A002"


def test_same_key_different_body_is_409_idempotency_conflict(hall: Hall) -> None:
    headers = hall.logins.kiosk | {"Idempotency-Key": "tap-2"}
    assert hall.post("/tickets", {"service_id": "reg"}, headers).status_code == 201
    for body in (
        {"service_id": "pharmacy"},
        {"service_id": "reg", "priority": "elderly"},
        {"service_id": "reg", "language": "en"},
    ):
        assert_error(hall.post("/tickets", body, headers), 409, "request.idempotency_conflict")
    assert hall.scalar("SELECT count(*) FROM tickets") == 1


def test_same_key_for_another_patient_is_a_conflict(hall: Hall) -> None:
    headers = hall.staff | {"Idempotency-Key": "desk-1"}
    first = hall.post("/tickets", {"service_id": "reg", "patient_name": "张小三"}, headers)
    assert first.status_code == 201
    second = hall.post("/tickets", {"service_id": "reg", "patient_name": "李小四"}, headers)
    assert_error(second, 409, "request.idempotency_conflict")


def test_different_keys_give_different_tickets(hall: Hall) -> None:
    a = hall.post("/tickets", {"service_id": "reg"}, hall.logins.kiosk | {"Idempotency-Key": "a"})
    b = hall.post("/tickets", {"service_id": "reg"}, hall.logins.kiosk | {"Idempotency-Key": "b"})
    assert a.status_code == b.status_code == 201
    assert a.get_json()["id"] != b.get_json()["id"]
    assert hall.scalar("SELECT count(*) FROM tickets") == 2


def test_keys_are_per_caller(hall: Hall) -> None:
    kiosk2 = hall.device("kiosk", "kiosk-2")
    key = {"Idempotency-Key": "same-key"}
    a = hall.post("/tickets", {"service_id": "reg"}, hall.logins.kiosk | key)
    b = hall.post("/tickets", {"service_id": "reg"}, kiosk2 | key)
    c = hall.post("/tickets", {"service_id": "reg"}, hall.staff | key)
    assert a.status_code == b.status_code == c.status_code == 201
    assert len({a.get_json()["id"], b.get_json()["id"], c.get_json()["id"]}) == 3
    # and each caller's replay finds its own ticket
    again = hall.post("/tickets", {"service_id": "reg"}, kiosk2 | key)
    assert again.status_code == 200 and again.get_json()["id"] == b.get_json()["id"]


@pytest.mark.parametrize("key", ["", "k" * 129])
def test_idempotency_key_length_is_checked(hall: Hall, key: str) -> None:
    resp = hall.post(
        "/tickets", {"service_id": "reg"}, hall.logins.kiosk | {"Idempotency-Key": key}
    )
    assert_error(resp, 400, "request.invalid")


def test_a_refused_request_does_not_burn_its_key(hall: Hall) -> None:
    headers = hall.logins.kiosk | {"Idempotency-Key": "retry-me"}
    assert_error(hall.post("/tickets", {"service_id": "nope"}, headers), 404, "service.not_found")
    assert hall.post("/tickets", {"service_id": "reg"}, headers).status_code == 201


# ------------------------------------------------------------------ ticket detail and history


def test_ticket_detail_has_history_with_actor_and_counter(hall: Hall) -> None:
    t = hall.issue("reg", headers=hall.logins.kiosk)
    hall.set_counter("reg-2", "open")
    assert hall.call_next("reg-2")["ticket"]["id"] == t["id"]
    hall.clock.advance(seconds=30)
    hall.act(t["id"], "recall")
    hall.clock.advance(seconds=30)
    hall.act(t["id"], "start")
    hall.clock.advance(minutes=2)
    hall.act(t["id"], "finish")
    detail = hall.ticket(t["id"])
    assert_ticket_shape(detail)
    assert detail["status"] == "done"
    history = detail["history"]
    assert history[0]["action"] == "issue"
    assert history[0]["actor"] == "device:kiosk-1"
    assert history[0]["from"] is None
    steps = [(e["action"], e["from"], e["to"], e["actor"], e["counter_id"]) for e in history]
    assert steps[-4:] == [
        ("call", "waiting", "called", "user:staff1", "reg-2"),
        ("recall", "called", "called", "user:staff1", "reg-2"),
        ("start", "called", "serving", "user:staff1", "reg-2"),
        ("finish", "serving", "done", "user:staff1", "reg-2"),
    ]
    # consecutive: each change starts where the previous one ended
    for before, after in itertools.pairwise(history):
        assert after["from"] == before["to"]
    times = [dt.datetime.fromisoformat(e["at"]) for e in history]
    assert times == sorted(times)
    assert times[-1] - times[-4] == dt.timedelta(minutes=3)


# ------------------------------------------------------------------ state changes and errors


def _called(hall: Hall, counter: str = "reg-1") -> dict[str, Any]:
    t = hall.issue("reg")
    hall.set_counter(counter, "open")
    called = hall.call_next(counter)["ticket"]
    assert called["id"] == t["id"]
    return called


@pytest.mark.parametrize(
    "verb", ["finish", "start", "recall", "no-show", "send-for-tests", "return"]
)
def test_invalid_transition_on_a_waiting_ticket_is_409(hall: Hall, verb: str) -> None:
    t = hall.issue("reg")
    err = assert_error(
        hall.post(f"/tickets/{t['id']}/{verb}", None, hall.staff), 409, "ticket.invalid_transition"
    )
    assert err["message"]
    assert hall.ticket(t["id"])["status"] == "waiting"


def test_finished_ticket_accepts_nothing_more(hall: Hall) -> None:
    t = _called(hall)
    hall.act(t["id"], "finish")
    for verb in ("finish", "start", "recall", "no-show", "cancel", "return", "send-for-tests"):
        assert_error(
            hall.post(f"/tickets/{t['id']}/{verb}", None, hall.staff),
            409,
            "ticket.invalid_transition",
        )
    resp = hall.post(f"/tickets/{t['id']}/transfer", {"service_id": "pharmacy"}, hall.staff)
    assert_error(resp, 409, "ticket.invalid_transition")


def test_allowed_actions_follow_the_state(hall: Hall) -> None:
    t = hall.issue("reg")
    assert {"call", "cancel", "transfer"} <= set(t["allowed_actions"])
    assert not {"finish", "start", "recall"} & set(t["allowed_actions"])
    called = _called_after(hall, t)
    assert {"recall", "start", "finish", "cancel"} <= set(called["allowed_actions"])
    assert "call" not in called["allowed_actions"]
    done = hall.act(t["id"], "finish")
    assert done["allowed_actions"] == []


def _called_after(hall: Hall, t: dict[str, Any]) -> dict[str, Any]:
    hall.set_counter("reg-1", "open")
    called = hall.call_next("reg-1")["ticket"]
    assert called["id"] == t["id"]
    return called


def test_cancel_a_waiting_ticket_takes_it_out_of_the_line(hall: Hall) -> None:
    a = hall.issue("reg")
    b = hall.issue("reg")
    assert hall.act(a["id"], "cancel")["status"] == "cancelled"
    assert hall.ticket(b["id"])["people_ahead"] == 0
    assert hall.services()["reg"]["waiting"] == 1


def test_expected_version_mismatch_is_409_ticket_changed(hall: Hall) -> None:
    t = _called(hall)
    version = t["version"]
    assert isinstance(version, int)
    stale = version - 1
    err = assert_error(
        hall.post(f"/tickets/{t['id']}/finish", {"expected_version": stale}, hall.staff),
        409,
        "ticket.changed",
    )
    assert err.get("details", {}).get("version") == version
    assert hall.ticket(t["id"])["status"] == "called"
    done = hall.post(f"/tickets/{t['id']}/finish", {"expected_version": version}, hall.staff)
    assert done.status_code == 200
    assert done.get_json()["status"] == "done"
    assert done.get_json()["version"] > version


@pytest.mark.parametrize("form", ["{v}", '"{v}"', 'W/"{v}"'])
def test_if_match_header_carries_the_expected_version(hall: Hall, form: str) -> None:
    t = _called(hall)
    version = t["version"]
    stale = {"If-Match": form.format(v=version + 5)}
    assert_error(
        hall.post(f"/tickets/{t['id']}/start", None, hall.staff | stale), 409, "ticket.changed"
    )
    fresh = {"If-Match": form.format(v=version)}
    resp = hall.post(f"/tickets/{t['id']}/start", None, hall.staff | fresh)
    assert resp.status_code == 200 and resp.get_json()["status"] == "serving"


def test_if_match_on_transfer(hall: Hall) -> None:
    t = hall.issue("reg")
    resp = hall.post(
        f"/tickets/{t['id']}/transfer",
        {"service_id": "pharmacy"},
        hall.staff | {"If-Match": str(t["version"] + 1)},
    )
    assert_error(resp, 409, "ticket.changed")
    assert hall.ticket(t["id"])["status"] == "waiting"


@pytest.mark.parametrize("bad", [{"expected_version": "3"}, {"expected_version": True}])
def test_expected_version_must_be_an_integer(hall: Hall, bad: dict[str, Any]) -> None:
    t = _called(hall)
    assert_error(hall.post(f"/tickets/{t['id']}/finish", bad, hall.staff), 400, "request.invalid")


def test_if_match_must_be_a_version(hall: Hall) -> None:
    t = _called(hall)
    resp = hall.post(f"/tickets/{t['id']}/finish", None, hall.staff | {"If-Match": "abc"})
    assert_error(resp, 400, "request.invalid")


def test_action_with_unknown_counter_is_404(hall: Hall) -> None:
    t = _called(hall)
    resp = hall.post(f"/tickets/{t['id']}/recall", {"counter_id": "nope"}, hall.staff)
    assert_error(resp, 404, "counter.not_found")


def test_transfer_to_the_same_service_is_409(hall: Hall) -> None:
    t = hall.issue("reg")
    resp = hall.post(f"/tickets/{t['id']}/transfer", {"service_id": "reg"}, hall.staff)
    assert_error(resp, 409, "transfer.same_service")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"service_id": "nope"}, 404, "service.not_found"),
        ({"service_id": "pharmacy", "position": "middle"}, 400, "request.invalid"),
        ({"position": "end"}, 400, "request.invalid"),
        ({"service_id": 3}, 400, "request.invalid"),
    ],
)
def test_transfer_errors(hall: Hall, body: dict[str, Any], status: int, code: str) -> None:
    t = hall.issue("reg")
    assert_error(hall.post(f"/tickets/{t['id']}/transfer", body, hall.staff), status, code)
    assert hall.ticket(t["id"])["status"] == "waiting"


def test_check_in_of_a_waiting_ticket_is_an_invalid_transition(hall: Hall) -> None:
    t = hall.issue("reg")
    resp = hall.post(f"/tickets/{t['id']}/check-in", None, hall.logins.kiosk)
    assert_error(resp, 409, "ticket.invalid_transition")


def test_call_a_given_ticket(hall: Hall) -> None:
    a = hall.issue("reg")
    b = hall.issue("reg")
    hall.set_counter("reg-1", "open")
    resp = hall.post(f"/tickets/{b['id']}/call", {"counter_id": "reg-1"}, hall.staff)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["counter_id"] == "reg-1"
    assert body["ticket"]["id"] == b["id"] and body["ticket"]["status"] == "called"
    assert hall.ticket(a["id"])["people_ahead"] == 0


@pytest.mark.parametrize(
    ("counter", "state", "status", "code"),
    [
        ("pharm-1", "open", 409, "counter.service_not_served"),
        ("reg-1", "closed", 409, "counter.not_open"),
        ("nope", None, 404, "counter.not_found"),
    ],
)
def test_call_a_given_ticket_errors(
    hall: Hall, counter: str, state: str | None, status: int, code: str
) -> None:
    t = hall.issue("reg")
    if state == "open":
        hall.set_counter(counter, "open")
    resp = hall.post(f"/tickets/{t['id']}/call", {"counter_id": counter}, hall.staff)
    assert_error(resp, status, code)
    assert hall.ticket(t["id"])["status"] == "waiting"
