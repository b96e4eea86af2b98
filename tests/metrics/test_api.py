"""The metrics API over HTTP: who may call it, ratings rules, exports that parse back masked."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from queue_server.metrics import queries
from tests.api.conftest import Hall, assert_error, follow_token, local

METRICS = (
    "/metrics/live",
    "/metrics/summary?by=counter",
    "/metrics/load",
    "/metrics/staffing?service_id=blood",
    "/metrics/wait-log",
    "/metrics/export?kind=summary&format=csv",
)


def _served(hall: Hall, name: str | None = None) -> dict[str, Any]:
    """A blood ticket issued, called at blood-1, started and finished (10 minutes later)."""
    hall.set_counter("blood-1", "open")
    body = {"patient_name": name} if name else {}
    t = hall.issue("blood", **body)
    hall.clock.advance(minutes=6)
    resp = hall.post(f"/tickets/{t['id']}/call", {"counter_id": "blood-1"}, hall.staff)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    hall.clock.advance(minutes=1)
    hall.act(t["id"], "start")
    hall.clock.advance(minutes=3)
    hall.act(t["id"], "finish")
    return t


@pytest.mark.parametrize("path", METRICS)
def test_only_managers_and_admins_read_metrics(hall: Hall, path: str) -> None:
    for who in (hall.logins.manager, hall.logins.admin):
        assert hall.get(path, who).status_code == 200, path
    assert_error(hall.get(path), 401, "auth.required")
    for who in (hall.logins.staff, hall.logins.kiosk, hall.logins.display):
        assert_error(hall.get(path, who), 403, "auth.forbidden")


def test_public_load_needs_no_login_and_carries_no_ticket_data(hall: Hall) -> None:
    _served(hall, "张三丰")
    resp = hall.get("/load")
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert "B001" not in text and "张" not in text and "blood-1" not in text
    assert {s["service_id"] for s in resp.get_json()["services"]} >= {"blood", "reg"}


def test_bad_queries_are_400(hall: Hall) -> None:
    m = hall.logins.manager
    assert_error(hall.get("/metrics/summary?from=yesterday", m), 400, "request.invalid")
    assert_error(
        hall.get("/metrics/summary?from=2026-11-23&to=2026-11-01", m), 400, "request.invalid"
    )
    assert_error(hall.get("/metrics/summary?by=moon", m), 400, "request.invalid")
    assert_error(hall.get("/metrics/load?service_id=nope", m), 400, "request.invalid")
    assert_error(hall.get("/metrics/staffing", m), 400, "request.invalid")
    assert_error(hall.get("/metrics/wait-log?limit=0", m), 400, "request.invalid")
    assert_error(hall.get("/metrics/export?kind=all&format=csv", m), 400, "request.invalid")
    assert_error(hall.get("/metrics/export?kind=load&format=pdf", m), 400, "request.invalid")


def test_rating_rules(hall: Hall) -> None:
    hall.set_counter("blood-1", "open")
    t = hall.issue("blood")
    token = follow_token(t)
    assert hall.get(f"/follow/{token}/rating").get_json() == {
        "can_rate": False,
        "rated": False,
        "score": None,
        "served": False,
    }
    assert_error(hall.post(f"/follow/{token}/rating", {"score": 5}), 409, "rating.not_served")
    hall.post(f"/tickets/{t['id']}/call", {"counter_id": "blood-1"}, hall.staff)
    hall.act(t["id"], "finish")
    for bad in (0, 6, "5", True, 4.5, None):
        assert_error(hall.post(f"/follow/{token}/rating", {"score": bad}), 400, "request.invalid")
    assert hall.get(f"/follow/{token}/rating").get_json()["can_rate"] is True
    resp = hall.post(f"/follow/{token}/rating", {"score": 4})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.get_json()["counter_id"] == "blood-1"
    assert_error(hall.post(f"/follow/{token}/rating", {"score": 5}), 409, "rating.already_given")
    assert hall.get(f"/follow/{token}/rating").get_json()["score"] == 4
    assert_error(hall.post("/follow/not-a-token/rating", {"score": 3}), 404, "request.not_found")
    # The kiosk rates with the ticket's follow token (read from its QR code); once per visit.
    other = _served(hall)
    body = {"follow_token": follow_token(other), "score": 2}
    assert_error(hall.post("/ratings", body, hall.staff), 403, "auth.forbidden")
    assert hall.post("/ratings", body, hall.logins.kiosk).status_code == 201
    assert_error(hall.post("/ratings", body, hall.logins.kiosk), 409, "rating.already_given")
    rows = hall.rows("SELECT score, source, staff, counter_id FROM ratings ORDER BY id")
    assert rows == [(4, "phone", "user:staff1", "blood-1"), (2, "kiosk", "user:staff1", "blood-1")]
    summary = hall.get("/metrics/summary?by=staff", hall.logins.manager).get_json()
    assert summary["total"]["rating"] == {"n": 2, "mean": 3.0}


def _wait_log_csv(hall: Hall) -> list[dict[str, str]]:
    resp = hall.get("/metrics/export?kind=wait-log&format=csv", hall.logins.manager)
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))


def test_exports_parse_back_and_carry_no_names(hall: Hall) -> None:
    t = _served(hall, "张三丰")
    hall.issue("reg", patient_name="欧阳明月")
    rows = _wait_log_csv(hall)
    assert [r["number"] for r in rows] == [t["number"], "A001"]
    served = rows[0]
    assert (served["outcome"], served["wait_s"], served["service_s"]) == ("served", "360", "180")
    assert tuple(rows[0]) == queries.EXPORT_COLUMNS
    for fmt in ("csv", "xlsx"):
        for kind in ("summary", "load", "wait-log", "staffing"):
            extra = "&service_id=blood" if kind == "staffing" else ""
            resp = hall.get(f"/metrics/export?kind={kind}&format={fmt}{extra}", hall.logins.manager)
            assert resp.status_code == 200, (kind, fmt, resp.get_data(as_text=True)[:300])
            if fmt == "csv":
                text = resp.data.decode("utf-8-sig")
                cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
            else:
                wb = load_workbook(io.BytesIO(resp.data), read_only=True)
                cells = [
                    str(c)
                    for ws in wb.worksheets
                    for row in ws.iter_rows(values_only=True)
                    for c in row
                    if c is not None
                ]
            joined = " ".join(cells)
            for name in ("张", "三丰", "欧阳", "明月", "*"):
                assert name not in joined, (kind, fmt, name)
            if kind == "wait-log":
                assert t["number"] in cells and "A001" in cells
            if kind == "summary":
                assert "血" in joined or "Blood" in joined  # service labels, not patients


def test_summary_xlsx_matches_the_json(hall: Hall) -> None:
    _served(hall)
    m = hall.logins.manager
    report = hall.get("/metrics/summary?by=service", m).get_json()
    resp = hall.get("/metrics/export?kind=summary&format=xlsx&by=service", m)
    ws = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    values = list(ws.iter_rows(values_only=True))
    header = values[0]
    blood = next(dict(zip(header, v, strict=True)) for v in values[1:] if v[0] == "blood")
    group = next(g for g in report["groups"] if g["key"] == "blood")
    assert blood["arrivals"] == group["arrivals"] == 1
    assert blood["wait_mean_s"] == group["wait"]["mean_s"] == 360
    assert blood["service_level"] == 1  # 6 min within 15


def test_live_counts_and_advice(hall: Hall) -> None:
    hall.set_counter("blood-1", "open")
    hall.issue("blood")
    hall.clock.advance(minutes=20)
    hall.issue("blood")
    live = hall.get("/metrics/live", hall.logins.manager).get_json()
    blood = next(s for s in live["services"] if s["service_id"] == "blood")
    assert (blood["waiting"], blood["longest_wait_s"], blood["open_counters"]) == (2, 1200, 1.0)
    assert blood["arrivals"] == 2 and blood["arrivals_last_30min"] == 2
    # No history: the forecast is the last half hour's rate (2 per 30 min -> 1 per bucket).
    assert blood["advice_next_15min"]["arrivals"] == 1.0
    assert blood["advice_next_15min"]["agents"] == 1
    assert live["business_day"] == local(9).date().isoformat()


def test_dashboard_pages(hall: Hall) -> None:
    _served(hall)
    assert hall.client.get("/dashboard").status_code == 401
    assert hall.client.get("/dashboard", headers=hall.logins.staff).status_code == 403
    resp = hall.client.get("/dashboard", headers=hall.logins.manager)
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "<svg" in page and "运营看板" in page and "Staffing plan" in page
    assert "cdn" not in page.lower() and "http://" not in page.replace('xmlns="http://', "")
    live = hall.client.get("/dashboard/live", headers=hall.logins.manager)
    assert live.status_code == 200 and 'id="live-table"' in live.get_data(as_text=True)
    public = hall.client.get("/load")
    assert public.status_code == 200 and "错峰就诊" in public.get_data(as_text=True)
