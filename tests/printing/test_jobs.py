"""The print-job state machine and its leases, on SQLite and PostgreSQL (no printer needed)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from queue_server import hall_of
from queue_server.domain.clock import ManualClock
from queue_server.domain.errors import QueueError
from queue_server.printing import errors as pe
from queue_server.printing import jobs
from queue_server.services.accounts import Principal
from queue_server.services.context import HallContext
from queue_server.services.day_reset import reset_day
from queue_server.services.issuing import issue_ticket

P1, P2 = "kiosk-1-printer", "kiosk-2-printer"
KIOSK = Principal("device", "kiosk-1", "kiosk")


def issue(ctx: HallContext, app: Flask, key: str | None = None) -> dict[str, Any]:
    """A ticket from kiosk-1, through the same hook the REST endpoint uses."""
    from queue_server.printing.api import ticket_print_hook

    with app.test_request_context("/api/v1/tickets", base_url="http://hall.example:8000"):
        view, _ = issue_ticket(
            ctx,
            service_id="reg",
            actor=KIOSK.actor,
            by_device=True,
            idempotency_key=key,
            extra=ticket_print_hook(ctx, KIOSK),
        )
    return view


@pytest.fixture
def ctx(any_app: Flask) -> HallContext:
    return hall_of(any_app)


def claim(ctx: HallContext, owner: str = "worker:a", printer: str = P1) -> jobs.Claim | None:
    got, _ = jobs.claim(ctx, printer, owner, 30.0)
    return got


def test_issue_queues_a_slip_without_patient_data(ctx: HallContext, any_app: Flask) -> None:
    t = issue(ctx, any_app)
    job = jobs.get_job(ctx, t["print"]["job_id"])
    assert job["status"] == "queued" and job["document"] == "ticket"
    assert job["ticket_id"] == t["id"] and job["source"] == "kiosk-1" and job["printer_id"] == P1
    got = claim(ctx)
    assert got is not None
    p = got.payload
    assert p["number"] == t["number"] and p["service_zh"] == "挂号收费"
    assert p["follow_url"] == "http://hall.example:8000" + t["follow_url"]
    assert not {"patient_name", "masked_name", "name"} & set(p)


def test_happy_path_and_one_owner_per_printer(ctx: HallContext, any_app: Flask) -> None:
    a, b = issue(ctx, any_app), issue(ctx, any_app)
    first = claim(ctx, "worker:a")
    assert first is not None and first.id == a["print"]["job_id"] and first.attempts == 1
    # the printer is owned and busy: neither another owner nor the same one gets a second job
    assert claim(ctx, "worker:b") is None
    assert claim(ctx, "worker:a") is None
    assert jobs.get_job(ctx, first.id)["status"] == "printing"
    assert jobs.mark_sent(ctx, first.id, "worker:a", 30.0)
    assert not jobs.mark_sent(ctx, first.id, "worker:b", 30.0)
    view, events = jobs.finish(ctx, first.id, "worker:a", ok=True)
    assert view is not None and view["status"] == "printed" and view["printed_at"]
    assert {(e.namespace, e.room) for e in events} == {
        ("/staff", "staff"),
        ("/kiosk", "kiosk:kiosk-1"),
    }
    assert all(e.payload["status"] == "printed" for e in events)
    second = claim(ctx, "worker:b")  # released: anyone may take the next one
    assert second is not None and second.id == b["print"]["job_id"]


def test_a_late_result_is_ignored(ctx: HallContext, any_app: Flask, clock: ManualClock) -> None:
    issue(ctx, any_app)
    got = claim(ctx, "worker:a")
    assert got is not None
    clock.advance(seconds=31)  # the lease ran out before a byte was sent
    again = claim(ctx, "worker:b")
    assert again is not None and again.id == got.id and again.attempts == 2
    view, _ = jobs.finish(ctx, got.id, "worker:a", ok=True)
    assert view is None
    assert jobs.get_job(ctx, got.id)["status"] == "printing"


def test_expired_after_sending_fails_interrupted_and_is_not_reprinted(
    ctx: HallContext, any_app: Flask, clock: ManualClock
) -> None:
    t = issue(ctx, any_app)
    got = claim(ctx, "worker:dead")
    assert got is not None and jobs.mark_sent(ctx, got.id, "worker:dead", 30.0)
    clock.advance(seconds=31)
    assert claim(ctx, "worker:new") is None  # nothing else queued; the sent job is not retaken
    job = jobs.get_job(ctx, got.id)
    assert (job["status"], job["error_code"]) == ("failed", pe.INTERRUPTED)
    # a person decides: reprint gives a new job with the same number
    view, _ = jobs.reprint(ctx, t["id"], actor="user:staff1")
    again = claim(ctx, "worker:new")
    assert again is not None and again.id == view["id"]
    assert again.payload["number"] == t["number"] and again.payload["reprint"] is True
    assert jobs.get_job(ctx, view["id"])["reprint_of"] == got.id


def test_transient_failure_before_sending_is_retried_then_fails(
    ctx: HallContext, any_app: Flask, clock: ManualClock
) -> None:
    issue(ctx, any_app)
    policy = jobs.Policy(max_attempts=3, backoff_s=(1.0, 3.0))
    for attempt in (1, 2):
        got = claim(ctx)
        assert got is not None and got.attempts == attempt
        view, _ = jobs.finish(
            ctx, got.id, "worker:a", ok=False, code="printer.offline", sent=False, policy=policy
        )
        assert view is not None and view["status"] == "queued"
        assert claim(ctx) is None  # backing off
        clock.advance(seconds=policy.backoff(attempt) + 0.1)
    got = claim(ctx)
    assert got is not None and got.attempts == 3
    view, _ = jobs.finish(
        ctx, got.id, "worker:a", ok=False, code="printer.offline", sent=False, policy=policy
    )
    assert view is not None and (view["status"], view["error_code"]) == (
        "failed",
        "printer.offline",
    )


@pytest.mark.parametrize(
    ("code", "sent"), [("printer.paper_end", False), ("printer.io_error", True)]
)
def test_needs_a_person_or_maybe_printed_fails_at_once(
    ctx: HallContext, any_app: Flask, code: str, sent: bool
) -> None:
    issue(ctx, any_app)
    got = claim(ctx)
    assert got is not None
    view, _ = jobs.finish(ctx, got.id, "worker:a", ok=False, code=code, sent=sent)
    assert view is not None and (view["status"], view["error_code"]) == ("failed", code)


def test_retry_and_move(ctx: HallContext, any_app: Flask) -> None:
    t = issue(ctx, any_app)
    job_id = t["print"]["job_id"]
    with pytest.raises(QueueError) as err:
        jobs.retry(ctx, job_id)
    assert err.value.code == pe.NOT_RETRYABLE
    got = claim(ctx)
    assert got is not None
    jobs.finish(ctx, job_id, "worker:a", ok=False, code="printer.cover_open", sent=False)
    view, _ = jobs.retry(ctx, job_id)
    assert (view["status"], view["error_code"], view["attempts"]) == ("queued", None, 0)
    moved, events = jobs.move(ctx, job_id, P2)
    assert moved["printer_id"] == P2 and moved["status"] == "queued"
    assert ("/kiosk", "kiosk:kiosk-2") in {(e.namespace, e.room) for e in events}
    assert claim(ctx, printer=P1) is None
    got = claim(ctx, printer=P2)
    assert got is not None and got.payload["number"] == t["number"]
    with pytest.raises(QueueError) as err:
        jobs.move(ctx, job_id, P1)
    assert err.value.code == pe.NOT_MOVABLE
    with pytest.raises(QueueError) as err:
        jobs.move(ctx, job_id, "nowhere")
    assert err.value.code == pe.PRINTER_UNKNOWN


def test_kiosk_reprint_rules(ctx: HallContext, any_app: Flask, clock: ManualClock) -> None:
    mine = issue(ctx, any_app)
    staff_ticket, _ = issue_ticket(ctx, service_id="reg", actor="user:staff1", by_device=False)
    with pytest.raises(QueueError) as err:
        jobs.reprint(ctx, staff_ticket["id"], actor="device:kiosk-1", kiosk_id="kiosk-1")
    assert err.value.code == "auth.forbidden"
    with pytest.raises(QueueError) as err:  # staff must say where a never-printed ticket goes
        jobs.reprint(ctx, staff_ticket["id"], actor="user:staff1")
    assert err.value.code == pe.PRINTER_REQUIRED
    view, _ = jobs.reprint(ctx, staff_ticket["id"], actor="user:staff1", printer_id=P2)
    assert view["printer_id"] == P2
    with pytest.raises(QueueError) as err:
        jobs.reprint(ctx, mine["id"], actor="device:kiosk-1", kiosk_id="kiosk-1", printer_id=P2)
    assert err.value.code == "auth.forbidden"
    policy = jobs.Policy(kiosk_reprint_window_s=600, kiosk_reprint_limit=3)
    for _ in range(2):
        jobs.reprint(ctx, mine["id"], actor="device:kiosk-1", kiosk_id="kiosk-1", policy=policy)
    with pytest.raises(QueueError) as err:
        jobs.reprint(ctx, mine["id"], actor="device:kiosk-1", kiosk_id="kiosk-1", policy=policy)
    assert err.value.code == pe.REPRINT_WINDOW
    other = issue(ctx, any_app)
    clock.advance(seconds=601)
    with pytest.raises(QueueError) as err:
        jobs.reprint(ctx, other["id"], actor="device:kiosk-1", kiosk_id="kiosk-1", policy=policy)
    assert err.value.code == pe.REPRINT_WINDOW


def test_idempotent_replay_does_not_queue_twice(ctx: HallContext, any_app: Flask) -> None:
    first = issue(ctx, any_app, key="tap-1")
    again = issue(ctx, any_app, key="tap-1")
    assert again["id"] == first["id"] and again["print"] == first["print"]
    count = ctx.db.run(lambda s: s.execute(text("SELECT count(*) FROM print_jobs")).scalar())
    assert count == 1


def test_jobs_survive_the_day_reset_and_a_closed_ticket_does_not_print(
    ctx: HallContext, any_app: Flask, clock: ManualClock
) -> None:
    printed = issue(ctx, any_app)
    got = claim(ctx)
    assert got is not None
    jobs.finish(ctx, got.id, "worker:a", ok=True)
    waiting = issue(ctx, any_app)
    clock.advance(days=1)
    assert reset_day(ctx) == 2
    # the rows stay, and still name their (now historic) tickets by id
    assert jobs.get_job(ctx, printed["print"]["job_id"])["status"] == "printed"
    assert claim(ctx) is None
    stale = jobs.get_job(ctx, waiting["print"]["job_id"])
    assert (stale["status"], stale["error_code"]) == ("failed", pe.TICKET_CLOSED)
    assert stale["ticket_id"] == waiting["id"]
    history = ctx.db.run(
        lambda s: s.execute(
            text("SELECT number FROM tickets_history WHERE id = :i"), {"i": waiting["id"]}
        ).scalar()
    )
    assert history == waiting["number"]
    for act in (
        lambda: jobs.retry(ctx, stale["id"]),
        lambda: jobs.reprint(ctx, waiting["id"], actor="user:s"),
    ):
        with pytest.raises(QueueError) as err:
            act()
        assert err.value.code == pe.TICKET_CLOSED


def test_concurrent_claims_give_each_job_one_owner(ctx: HallContext, any_app: Flask) -> None:
    """Two workers race on one printer: each job is claimed once, never two at a time."""
    made = [issue(ctx, any_app)["print"]["job_id"] for _ in range(6)]
    owners: Counter[int] = Counter()
    in_flight = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            idle = 0
            while idle < 200:
                got = claim(ctx, name)
                if got is None:
                    idle += 1
                    continue
                with lock:
                    owners[got.id] += 1
                    assert not in_flight, (in_flight, got.id)  # no second job at a time
                    in_flight.append(got.id)
                assert jobs.mark_sent(ctx, got.id, name, 30.0)
                with lock:  # before the finish commits, no one else can claim
                    in_flight.remove(got.id)
                view, _ = jobs.finish(ctx, got.id, name, ok=True)
                assert view is not None
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"worker:{n}",)) for n in "ab"]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors, errors
    assert sorted(owners) == sorted(made) and set(owners.values()) == {1}
    assert {jobs.get_job(ctx, j)["status"] for j in made} == {"printed"}


def test_an_agent_keeps_its_printer_until_its_lease_runs_out(
    ctx: HallContext, any_app: Flask, clock: ManualClock
) -> None:
    issue(ctx, any_app)
    assert jobs.take_printer(ctx, P1, "agent:kiosk-1-agent", 60.0)
    assert claim(ctx, "worker:a") is None
    assert jobs.owner_of(ctx, P1) == "agent:kiosk-1-agent"
    clock.advance(seconds=61)
    got = claim(ctx, "worker:a")
    assert got is not None
    assert not jobs.take_printer(ctx, P1, "agent:kiosk-1-agent", 60.0)  # mid-job: wait
    jobs.finish(ctx, got.id, "worker:a", ok=True)
    assert jobs.take_printer(ctx, P1, "agent:kiosk-1-agent", 60.0)


def test_status_changes_are_recorded_once(ctx: HallContext) -> None:
    changed, events = jobs.record_status(ctx, P1, state="online", code="printer.online", ready=True)
    assert changed and {e.room for e in events} == {"staff", "kiosk:kiosk-1"}
    changed, events = jobs.record_status(ctx, P1, state="online", code="printer.online", ready=True)
    assert not changed and not events
    changed, events = jobs.record_status(
        ctx, P1, state="paper_end", code="printer.paper_end", ready=False
    )
    assert changed and events[0].payload == {
        "printer_id": P1,
        "state": "paper_end",
        "code": "printer.paper_end",
        "ready": False,
        "since": events[0].payload["since"],
    }
    health = jobs.health_summary(ctx)
    assert health["problems"] == [{"id": P1, "state": "paper_end", "code": "printer.paper_end"}]
