"""Input the API must refuse cleanly (4xx with an error code), never with a server error."""

from __future__ import annotations

from typing import Any

import pytest

from queue_server.services import views
from tests.api.conftest import Hall, assert_error, local


def _no_server_error(hall: Hall) -> None:
    # let the app answer 500 itself instead of re-raising into the test
    hall.app.config["PROPAGATE_EXCEPTIONS"] = False


LONG = {
    "device id": ("/devices", "admin", {"kind": "kiosk", "id": "k" * 40}),
    "patient name": ("/tickets", "staff", {"service_id": "reg", "patient_name": "x" * 80}),
    "appointment code": (
        "/appointments",
        "staff",
        {"service_id": "im1", "slot_start": local(10).isoformat(), "code": "c" * 80},
    ),
}


@pytest.mark.parametrize("case", list(LONG))
def test_overlong_text_is_not_a_server_error(
    any_hall: Hall, request: pytest.FixtureRequest, case: str
) -> None:
    _no_server_error(any_hall)
    path, who, body = LONG[case]
    resp = any_hall.post(path, body, getattr(any_hall.logins, who))
    assert resp.status_code < 500, resp.get_data(as_text=True)
    if resp.status_code >= 400:
        assert_error(resp, 400, "request.invalid")


@pytest.mark.parametrize("verb", ["", "/finish"])
def test_huge_ticket_id_is_not_found(hall: Hall, verb: str) -> None:
    _no_server_error(hall)
    path = f"/tickets/{2**64}{verb}"
    resp = hall.get(path, hall.staff) if not verb else hall.post(path, None, hall.staff)
    assert_error(resp, 404, "ticket.not_found")


def test_internal_error_is_not_reported_as_an_invalid_request(
    hall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: Any) -> Any:
        raise RuntimeError("simulated fault")

    monkeypatch.setattr(views, "services_overview", boom)
    _no_server_error(hall)
    resp = hall.get("/services")
    assert resp.status_code == 500
    err = resp.get_json()["error"]
    assert set(err) >= {"code", "message"}
    assert err["code"] != "request.invalid"
    assert "simulated fault" not in resp.get_data(as_text=True)


def test_an_internal_error_still_answers_json(hall: Hall, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any) -> Any:
        raise RuntimeError("simulated fault")

    monkeypatch.setattr(views, "services_overview", boom)
    _no_server_error(hall)
    resp = hall.get("/services")
    assert resp.status_code == 500
    assert resp.is_json
    assert set(resp.get_json()) == {"error"}
    assert "simulated fault" not in resp.get_data(as_text=True)


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "application/json"}, {}],
)
def test_empty_body_on_a_post_that_needs_fields_is_400(hall: Hall, headers: dict[str, str]) -> None:
    resp = hall.client.post("/api/v1/tickets", data=b"", headers=hall.staff | headers)
    assert_error(resp, 400, "request.invalid")


def test_empty_body_is_fine_where_nothing_is_needed(hall: Hall) -> None:
    t = hall.issue("reg")
    hall.set_counter("reg-1", "open")
    hall.call_next("reg-1")
    resp = hall.client.post(
        f"/api/v1/tickets/{t['id']}/recall",
        data=b"",
        headers=hall.staff | {"Content-Type": "application/json"},
    )
    assert resp.status_code == 200


def test_json_null_fields_mean_absent(hall: Hall) -> None:
    t = hall.post(
        "/tickets",
        {"service_id": "reg", "priority": None, "language": None, "appointment_code": None},
        hall.staff,
    )
    assert t.status_code == 201
    assert t.get_json()["priority"] == "normal"
