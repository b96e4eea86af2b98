"""GET /health, GET /services, and the error shape of unknown paths and methods."""

from __future__ import annotations

import datetime as dt

from tests.api.conftest import API, Hall, assert_error


def test_health_reports_ok_with_database_and_printers(hall: Hall) -> None:
    resp = hall.get("/health")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["database"]["dialect"] == "sqlite"
    # the demo hall configures two kiosk printers
    assert body["printers"]["configured"] == 2
    assert body["business_day"] == "2026-11-23"
    assert dt.datetime.fromisoformat(body["time"]) == hall.clock.now()


def test_health_business_day_follows_the_site_timezone(hall: Hall) -> None:
    # 23:59 in Shanghai is still the 23rd; 00:01 is the 24th (UTC is still the 23rd then)
    hall.clock.set(dt.datetime(2026, 11, 23, 15, 59, tzinfo=dt.UTC))
    assert hall.get("/health").get_json()["business_day"] == "2026-11-23"
    hall.clock.set(dt.datetime(2026, 11, 23, 16, 1, tzinfo=dt.UTC))
    assert hall.get("/health").get_json()["business_day"] == "2026-11-24"


def test_services_lists_every_configured_service_with_counts(hall: Hall) -> None:
    resp = hall.get("/services")
    assert resp.status_code == 200
    services = resp.get_json()["services"]
    assert [s["id"] for s in services] == ["reg", "blood", "im1", "im2", "im3", "us", "pharmacy"]
    by_id = {s["id"]: s for s in services}
    reg = by_id["reg"]
    assert reg["name"] == {"zh": "挂号收费", "en": "Registration & Payment"}
    assert reg["prefix"] == "A"
    assert reg["waiting"] == 0
    assert reg["open_counters"] == []  # every counter starts closed
    assert reg["estimated_wait_s"] is None  # nobody serves: no estimate
    assert by_id["blood"]["prefix"] == "B"
    assert by_id["pharmacy"]["prefix"] == "G"


def test_services_waiting_open_counters_and_estimate_move_with_the_hall(hall: Hall) -> None:
    for _ in range(3):
        hall.issue("reg")
    hall.set_counter("reg-1", "open")
    hall.set_counter("reg-3", "open")  # serves reg and pharmacy
    reg = hall.services()["reg"]
    assert reg["waiting"] == 3
    assert sorted(reg["open_counters"]) == ["reg-1", "reg-3"]
    assert isinstance(reg["estimated_wait_s"], int) and reg["estimated_wait_s"] > 0
    assert hall.services()["pharmacy"]["open_counters"] == ["reg-3"]
    hall.call_next("reg-1")
    assert hall.services()["reg"]["waiting"] == 2


def test_unknown_api_path_is_a_json_404(hall: Hall) -> None:
    assert_error(hall.get("/no-such-thing"), 404, "request.not_found")


def test_wrong_method_is_a_json_405(hall: Hall) -> None:
    resp = hall.client.delete(API + "/services")
    assert resp.status_code == 405
    assert_error(resp, 405, "request.method_not_allowed")


def test_unknown_ticket_is_404(hall: Hall) -> None:
    assert_error(hall.get("/tickets/987654", hall.staff), 404, "ticket.not_found")
    assert_error(hall.post("/tickets/987654/finish", None, hall.staff), 404, "ticket.not_found")
