"""The server's print worker on the demo hall's virtual printers, through the REST API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from queue_server import socketio_of
from queue_server.printing import jobs, worker
from queue_server.printing.worker import PrintService
from tests.api.conftest import Hall, assert_error
from tests.printing.helpers import pngs, wait_for

P1, P2 = "kiosk-1-printer", "kiosk-2-printer"


@pytest.fixture
def service(app: Flask) -> PrintService:
    return app.extensions["hall_printing"]


def folder(app: Flask, kiosk: str = "kiosk-1") -> Path:
    return Path(app.instance_path) / "printouts" / kiosk


def set_status(app: Flask, word: str | None, kiosk: str = "kiosk-1") -> None:
    path = folder(app, kiosk) / "STATUS"
    if word is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(word + "\n", encoding="utf-8")


def take(hall: Hall, key: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = dict(hall.logins.kiosk)
    if key:
        headers["Idempotency-Key"] = key
    resp = hall.post("/tickets", {"service_id": "reg"}, headers)
    return resp.status_code, resp.get_json()


def job(hall: Hall, job_id: int, who: dict[str, str] | None = None) -> dict[str, Any]:
    resp = hall.get(f"/print-jobs/{job_id}", who or hall.staff)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def last_bin(app: Flask, kiosk: str = "kiosk-1") -> bytes:
    return sorted(folder(app, kiosk).glob("*.bin"))[-1].read_bytes()


def test_kiosk_ticket_prints_a_png(hall: Hall, app: Flask, service: PrintService) -> None:
    status, t = take(hall)
    assert status == 201
    assert t["print"] == {
        "job_id": t["print"]["job_id"],
        "status": "queued",
        "error_code": None,
        "printer_id": P1,
    }
    assert service.step(P1) is True
    assert len(pngs(folder(app))) == 1
    assert t["number"].encode() in last_bin(app)
    mine = job(hall, t["print"]["job_id"], hall.logins.kiosk)
    assert (mine["status"], mine["attempts"], mine["error_code"]) == ("printed", 1, None)
    printers = {p["id"]: p for p in hall.get("/printers", hall.staff).get_json()["printers"]}
    assert printers[P1]["state"] == "online" and printers[P1]["ready"] is True
    assert printers[P1]["last_job"]["id"] == mine["id"] and printers[P1]["queued"] == 0
    assert printers[P2]["state"] == "unknown"  # never asked yet
    health = hall.get("/health").get_json()["printers"]
    assert health["configured"] == 2 and health["ready"] == 1 and health["problems"] == []


def test_an_unchanged_status_is_stored_once_per_window_and_a_change_at_once(
    hall: Hall, app: Flask, service: PrintService, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[str] = []
    real = jobs.record_status

    def counting(ctx: Any, printer_id: str, **reading: Any) -> Any:
        writes.append(reading["state"])
        return real(ctx, printer_id, **reading)

    monkeypatch.setattr(jobs, "record_status", counting)
    for _ in range(3):  # each job reads the status before and after printing
        take(hall)
        assert service.step(P1)
    assert writes == ["online"]
    set_status(app, "paper_end")
    _, t = take(hall)
    service.step(P1)
    assert writes == ["online", "paper_end"]
    assert job(hall, t["print"]["job_id"])["error_code"] == "printer.paper_end"
    printers = {p["id"]: p for p in hall.get("/printers", hall.staff).get_json()["printers"]}
    assert printers[P1]["state"] == "paper_end"
    set_status(app, None)
    monkeypatch.setattr(worker, "STATUS_REWRITE_S", 0.0)  # no window: every reading is written
    take(hall)
    assert service.step(P1)
    assert writes == ["online", "paper_end", "online", "online"]


def test_staff_tickets_and_replays_do_not_print_twice(hall: Hall, service: PrintService) -> None:
    assert hall.issue("reg")["print"] is None  # staff at a desk: no slip
    status, first = take(hall, key="tap-7")
    status2, again = take(hall, key="tap-7")
    assert (status, status2) == (201, 200)
    assert again["id"] == first["id"] and again["print"]["job_id"] == first["print"]["job_id"]
    assert hall.scalar("SELECT count(*) FROM print_jobs") == 1


def test_paper_end_fails_the_job_keeps_the_ticket_and_reprint_keeps_the_number(
    hall: Hall, app: Flask, service: PrintService
) -> None:
    socketio = socketio_of(app)
    kiosk_token = hall.logins.kiosk["Authorization"].removeprefix("Bearer ")
    kiosk = socketio.test_client(app, namespace="/kiosk", auth={"token": kiosk_token})
    assert kiosk.is_connected("/kiosk")
    kiosk.get_received("/kiosk")
    set_status(app, "paper_end")
    _, t = take(hall)
    service.step(P1)
    failed = job(hall, t["print"]["job_id"])
    assert (failed["status"], failed["error_code"]) == ("failed", "printer.paper_end")
    assert pngs(folder(app)) == []
    assert hall.ticket(t["id"])["status"] == "waiting"  # the ticket exists all the same
    _, t2 = take(hall)  # a second job on the empty printer: the state change is not re-sent
    service.step(P1)
    events = [(m["name"], m["args"][0]) for m in kiosk.get_received("/kiosk")]
    printer_events = [a for n, a in events if n == "printer.status"]
    assert [(a["state"], a["ready"]) for a in printer_events] == [("paper_end", False)]
    job_events = [
        (a["job_id"], a["status"], a["error_code"]) for n, a in events if n == "print.status"
    ]
    assert (t["print"]["job_id"], "printing", None) in job_events
    assert (t["print"]["job_id"], "failed", "printer.paper_end") in job_events
    assert hall.get("/health").get_json()["printers"]["problems"] == [
        {"id": P1, "state": "paper_end", "code": "printer.paper_end"}
    ]
    # paper reloaded: the kiosk reprints its own ticket, staff retries the other
    set_status(app, None)
    resp = hall.post(f"/tickets/{t['id']}/reprint", None, hall.logins.kiosk)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    reprint = resp.get_json()
    assert reprint["reprint_of"] == t["print"]["job_id"] and reprint["printer_id"] == P1
    assert service.step(P1)
    assert job(hall, reprint["id"])["status"] == "printed"
    data = last_bin(app)
    assert t["number"].encode() in data and b"REPRINT" in data
    resp = hall.post(f"/print-jobs/{t2['print']['job_id']}/retry", None, hall.staff)
    assert resp.status_code == 200 and resp.get_json()["status"] == "queued"
    assert service.step(P1)
    assert job(hall, t2["print"]["job_id"])["status"] == "printed"
    assert t2["number"].encode() in last_bin(app)
    assert len(pngs(folder(app))) == 2
    events = [(m["name"], m["args"][0]) for m in kiosk.get_received("/kiosk")]
    assert [a["state"] for n, a in events if n == "printer.status"] == ["online"]
    kiosk.disconnect("/kiosk")


def test_move_a_failed_job_to_another_printer(
    hall: Hall, app: Flask, service: PrintService
) -> None:
    set_status(app, "cover_open")
    _, t = take(hall)
    service.step(P1)
    job_id = t["print"]["job_id"]
    assert job(hall, job_id)["error_code"] == "printer.cover_open"
    assert_error(
        hall.post(f"/print-jobs/{job_id}/move", {"printer_id": "nowhere"}, hall.staff),
        404,
        "print.printer_unknown",
    )
    assert_error(hall.post(f"/print-jobs/{job_id}/move", {}, hall.staff), 400, "request.invalid")
    resp = hall.post(f"/print-jobs/{job_id}/move", {"printer_id": P2}, hall.staff)
    assert resp.status_code == 200 and resp.get_json()["printer_id"] == P2
    assert service.step(P2)
    assert job(hall, job_id)["status"] == "printed"
    assert t["number"].encode() in last_bin(app, "kiosk-2")
    assert_error(
        hall.post(f"/print-jobs/{job_id}/move", {"printer_id": P1}, hall.staff),
        409,
        "print.not_movable",
    )
    assert_error(
        hall.post(f"/print-jobs/{job_id}/retry", None, hall.staff), 409, "print.not_retryable"
    )


def test_api_errors(hall: Hall) -> None:
    assert_error(hall.get("/print-jobs/999", hall.staff), 404, "print.job_not_found")
    assert_error(hall.get("/printers/nowhere", hall.staff), 404, "print.printer_unknown")
    assert_error(hall.get(f"/printers/{P2}", hall.logins.kiosk), 403, "auth.forbidden")
    assert hall.get(f"/printers/{P1}", hall.logins.kiosk).status_code == 200
    other = hall.device("kiosk", "kiosk-2")
    _, t = take(hall)
    assert_error(hall.get(f"/print-jobs/{t['print']['job_id']}", other), 403, "auth.forbidden")
    assert_error(hall.post(f"/tickets/{t['id']}/reprint", None, other), 403, "auth.forbidden")
    assert_error(hall.post("/tickets/12345/reprint", None, hall.staff), 409, "print.ticket_closed")


def test_the_background_loop_prints_what_a_kiosk_issues(
    hall: Hall, app: Flask, service: PrintService
) -> None:
    service.start()
    try:
        numbers = [take(hall)[1]["number"] for _ in range(3)]
        wait_for(lambda: len(pngs(folder(app))) == 3, message="three PNG files")
        printed = b"".join(p.read_bytes() for p in sorted(folder(app).glob("*.bin")))
        assert all(n.encode() in printed for n in numbers)
    finally:
        service.stop()


def test_agent_protocol_in_process(hall: Hall, app: Flask, service: PrintService) -> None:
    """/agent: who may join, the job hand-out, the result recorded once, status reports."""
    import base64

    from queue_server.services import accounts

    sio = socketio_of(app)
    token = accounts.add_device(hall.ctx, "agent", "kiosk-1-agent")
    kiosk_token = hall.logins.kiosk["Authorization"].removeprefix("Bearer ")
    other_agent = hall.logins.agent["Authorization"].removeprefix("Bearer ")  # agent-1: no kiosk
    for auth in (
        {"token": "nope"},
        {"token": kiosk_token},
        {"token": other_agent},
        {"token": token, "printers": [P2]},
    ):
        refused = sio.test_client(app, namespace="/agent", auth=auth)
        assert not refused.is_connected("/agent"), auth
    agent = sio.test_client(app, namespace="/agent", auth={"token": token, "printers": [P1]})
    assert agent.is_connected("/agent")
    config = [m["args"][0] for m in agent.get_received("/agent") if m["name"] == "agent.config"]
    assert config == [{"agent_id": "kiosk-1-agent", "printers": [P1], "models": {P1: "generic-80"}}]
    _, t = take(hall)
    assert service.step(P1)
    handed = [m["args"][0] for m in agent.get_received("/agent") if m["name"] == "print.job"]
    assert [h["job_id"] for h in handed] == [t["print"]["job_id"]]
    assert t["number"].encode() in base64.b64decode(handed[0]["data"])
    assert pngs(folder(app)) == []  # the agent prints, not the server
    assert job(hall, t["print"]["job_id"])["status"] == "printing"
    assert not service.step(P1)  # one job at a time per printer
    result = {"job_id": t["print"]["job_id"], "ok": True, "sent": True}
    ack = agent.emit("print.result", result, namespace="/agent", callback=True)
    assert ack == {"ok": True, "recorded": True}
    again = agent.emit("print.result", result, namespace="/agent", callback=True)
    assert again == {"ok": True, "recorded": False}  # the resend after a reconnect: once
    assert job(hall, t["print"]["job_id"])["status"] == "printed"
    report = {"printer_id": P1, "state": "cover_open", "code": "printer.cover_open"}
    ack = agent.emit("printer.status", report, namespace="/agent", callback=True)
    assert ack == {"ok": True, "changed": True}
    assert hall.get(f"/printers/{P1}", hall.staff).get_json()["state"] == "cover_open"
    bad = agent.emit(
        "printer.status", {**report, "printer_id": P2}, namespace="/agent", callback=True
    )
    assert bad["error"]["code"] == "print.printer_unknown"
    agent.disconnect("/agent")
    assert service.agent_for(P1) is None
    # still assigned to the agent for the grace period: the worker leaves the job queued
    _, t2 = take(hall)
    assert not service.step(P1)
    assert job(hall, t2["print"]["job_id"])["status"] == "queued"
    hall.clock.advance(seconds=service.policy.agent_grace_s + 1)
    assert service.step(P1)
    assert job(hall, t2["print"]["job_id"])["status"] == "printed"
    assert len(pngs(folder(app))) == 1


def test_lab_slips_and_test_pages_print_and_clear_names_are_refused(
    hall: Hall, app: Flask, service: PrintService
) -> None:
    from queue_server.domain.errors import QueueError
    from queue_server.printing.jobs import enqueue_print

    lab = {
        "hospital_zh": "示范人民医院",
        "patient_masked": "张*",
        "specimen_id": "S20261123001",
        "barcode": "S20261123001",
        "report_time": "2026-11-23T10:00:00+08:00",
        "lines": [
            {
                "code": "GLU",
                "name": "葡萄糖",
                "value": "7.9",
                "unit": "mmol/L",
                "reference_range": "3.9-6.1",
                "flag": "H",
            }
        ],
        "printed_at": "2026-11-23T10:05:00+08:00",
    }

    def work(s: Any) -> list[int]:
        a = enqueue_print(
            hall.ctx, s, printer_id=P1, document="lab_slip", payload=lab, source="kiosk-1"
        )
        b = enqueue_print(
            hall.ctx, s, printer_id=P1, document="test_page", payload={}, source="user:staff1"
        )
        return [a["id"], b["id"]]

    ids = hall.ctx.db.run(work)
    assert service.step(P1) and service.step(P1)
    assert [job(hall, i)["status"] for i in ids] == ["printed", "printed"]
    assert len(pngs(folder(app))) == 2
    with pytest.raises(QueueError) as err:
        hall.ctx.db.run(
            lambda s: enqueue_print(
                hall.ctx,
                s,
                printer_id=P1,
                document="lab_slip",
                payload={**lab, "patient_name": "张三"},
                source="kiosk-1",
            )
        )
    assert err.value.code == "request.invalid"
