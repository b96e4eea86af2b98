"""The demo's sample lab reports: seeded through the HL7 ingest path, usable at the kiosk,
idempotent across demo restarts."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from queue_server.domain.errors import QueueError
from queue_server.lab import errors as le
from queue_server.lab.demo import seed_demo_reports, summary_lines
from tests.lab.conftest import Lab

KIOSK = "kiosk-1"
ACTOR = "device:kiosk-1"


def _by_panel(seeded: list[dict]) -> dict[str, dict]:
    return {s["panel"]: s for s in seeded}


def test_seeds_a_final_and_a_preliminary_report_for_today(lab: Lab) -> None:
    seeded = _by_panel(seed_demo_reports(lab.service))
    assert set(seeded) == {"血常规", "肝功能"}
    day = lab.service.ctx.day()
    rows = lab.sql("SELECT specimen_id, status, source FROM lab_reports ORDER BY specimen_id")
    assert [tuple(r) for r in rows] == [
        (f"DEMO{day:%y%m%d}01", "final", "hl7"),
        (f"DEMO{day:%y%m%d}02", "preliminary", "hl7"),
    ]
    cbc, lft = seeded["血常规"], seeded["肝功能"]
    assert (cbc["status"], lft["status"]) == ("final", "preliminary")
    assert cbc["patient_masked"] == "王*明" and lft["patient_masked"] == "陈*怡"
    assert cbc["check_kind"] == "birth_date" and cbc["check"] == "1985-03-14"

    view = lab.service.lookup(cbc["receipt_token"], cbc["check"], KIOSK, ACTOR)
    assert view["status"] == "final" and view["printable"] is True
    lines = view["preview"]["lines"]
    assert [(x["code"], x["unit"], x["flag"]) for x in lines][:2] == [
        ("WBC", "10^9/L", "H"),
        ("RBC", "10^12/L", ""),
    ]

    view = lab.service.lookup(lft["receipt_token"], lft["check"], KIOSK, ACTOR)
    assert view["status"] == "preliminary" and view["printable"] is False
    ready = dt.datetime.fromisoformat(view["expected_ready_at"])
    expected = lab.service.now() + dt.timedelta(
        minutes=lab.service.config.ready_minutes("LFT") - 20  # drawn 20 minutes ago
    )
    assert ready == expected and view["minutes_left"] > 0

    with pytest.raises(QueueError) as err:
        lab.service.lookup(cbc["receipt_token"], "1985-03-15", KIOSK, ACTOR)
    assert err.value.code == le.CHECK_FAILED


def test_second_seeding_reuses_the_reports_and_reissues_tokens(lab: Lab) -> None:
    first = _by_panel(seed_demo_reports(lab.service))
    cbc = first["血常规"]
    resp = lab.post(
        "/lab/print", {"token": cbc["receipt_token"], "check": cbc["check"]}, lab.kiosk1
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    lab.clock.advance(minutes=30)

    second = _by_panel(seed_demo_reports(lab.service))
    assert len(lab.sql("SELECT id FROM lab_reports")) == 2
    assert {p: s["report_id"] for p, s in second.items()} == {
        p: s["report_id"] for p, s in first.items()
    }
    assert len(lab.sql("SELECT id FROM lab_results")) == 7  # 5 CBC + 2 LFT, not doubled
    with pytest.raises(QueueError) as err:  # the earlier run's receipt no longer works
        lab.service.lookup(cbc["receipt_token"], cbc["check"], KIOSK, ACTOR)
    assert err.value.code == le.TOKEN_UNKNOWN
    new = second["血常规"]
    view = lab.service.lookup(new["receipt_token"], new["check"], KIOSK, ACTOR)
    assert view["status"] == "final" and view["printable"] is True  # printable again
    assert second["肝功能"]["status"] == "preliminary"


def test_phone_last4_site_and_summary_lines(lab: Lab) -> None:
    config = dataclasses.replace(lab.service.config, second_check="phone_last4")
    service = dataclasses.replace(lab.service, config=config)
    seeded = seed_demo_reports(service)
    lft = _by_panel(seeded)["肝功能"]
    assert lft["check_kind"] == "phone_last4" and lft["check"] == "2468"
    assert service.lookup(lft["receipt_token"], "2468", KIOSK, ACTOR)["status"] == "preliminary"

    lines = summary_lines(service.ctx.site, "http://127.0.0.1:8000", seeded)
    assert lines[0] == "  lab-report kiosk samples (http://127.0.0.1:8000/kiosk/kiosk-1/lab):"
    assert any(lft["receipt_token"] in line and "phone last 4 2468" in line for line in lines)
    assert any("preliminary, expected at" in line for line in lines)
    assert summary_lines(service.ctx.site, "http://x", []) == []
