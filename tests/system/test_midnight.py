"""The business day ends at the site's local midnight (Asia/Shanghai), with kiosks busy.

Numbers restart at A001 at local midnight, yesterday's tickets move to ``tickets_history``
(DOMAIN.md §2 Numbering, §5 "compute the business day in the site's timezone and test
midnight"). Issuing threads run in lockstep rounds: the test moves the ManualClock between
rounds, never while a ticket is being issued, so the run is the same every time while the
threads of one round still race each other and the day reset. Two PostgreSQL-only tests force
one interleaving of the reset and "call next" to show that they deadlock.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from queue_server import hall_of
from queue_server.domain.clock import ManualClock
from queue_server.domain.tickets import Action
from queue_server.persistence.models import CounterState, Ticket
from queue_server.services import actions, day_reset, issuing
from queue_server.services.day_reset import reset_day
from queue_server.services.setup import ensure_state_rows
from tests.conftest import create_logins, make_app
from tests.system.helpers import checks, pg, workers
from tests.system.helpers.procs import run_thread_rounds

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
OLD_DAY = dt.date(2026, 11, 23)
NEW_DAY = dt.date(2026, 11, 24)
ISSUERS = 4
PER_ROUND = 5  # tickets each issuer takes per round
STAFF = "user:staff1"


def local(day: dt.date, h: int, m: int, s: int, ms: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, h, m, s, ms * 1000, tzinfo=SHANGHAI)


#: The clock of each round: three before local midnight, four after it.
ROUNDS = [
    local(OLD_DAY, 23, 59, 58),
    local(OLD_DAY, 23, 59, 59),
    local(OLD_DAY, 23, 59, 59, 900),
    local(NEW_DAY, 0, 0, 0),
    local(NEW_DAY, 0, 0, 0, 100),
    local(NEW_DAY, 0, 0, 1),
    local(NEW_DAY, 0, 0, 2),
]
FIRST_NEW_ROUND = 3
#: Rounds in which two more threads run the day reset (as the server's loop and a
#: ``queue-server reset-day`` would) while the issuers take numbers.
RESET_ROUNDS = (3, 5)
RESETTERS = 2


def all_tickets(snap: dict[str, Any]) -> list[Any]:
    return snap["tickets"] + snap["history"]


def test_midnight_rollover_while_issuing(database_url: str) -> None:
    ctx = workers.hall_context(database_url)
    clock = ManualClock(ROUNDS[0])
    ctx.clock = clock
    ensure_state_rows(ctx)
    actions.set_counter_state(ctx, "reg-1", "open", STAFF)

    def ticket_id(number: str, day: dt.date) -> int:
        with ctx.db.session() as s:
            return s.scalars(
                select(Ticket.id).where(Ticket.number == number, Ticket.business_day == day)
            ).one()

    def staff_before_midnight() -> None:
        # A001 is served (finished by the next call), A002 stays called, A003 is cancelled.
        assert actions.call_next(ctx, "reg-1", STAFF)["ticket"]["number"] == "A001"
        assert actions.call_next(ctx, "reg-1", STAFF)["ticket"]["number"] == "A002"
        actions.act(ctx, ticket_id("A003", OLD_DAY), Action.CANCEL, STAFF)

    def at(moment: dt.datetime, then: Any = None) -> Any:
        def setup() -> None:
            if then is not None:
                then()
            clock.set(moment)

        return setup

    before = [at(m) for m in ROUNDS]
    before[1] = at(ROUNDS[1], staff_before_midnight)

    def round_work(index: int, r: int) -> Any:
        if index >= ISSUERS:  # a day-reset thread
            return reset_day(ctx) if r in RESET_ROUNDS else None
        out = []
        for _ in range(PER_ROUND):
            view, created = issuing.issue_ticket(
                ctx, service_id="reg", actor="device:kiosk-1", by_device=True
            )
            assert created
            out.append((view["id"], view["number"], dt.datetime.fromisoformat(view["issued_at"])))
        return out

    try:
        results = run_thread_rounds(round_work, ISSUERS + RESETTERS, before)
    finally:
        ctx.db.dispose()

    # Two resets ran at 00:00:00.000 next to the first new-day tickets: one moved the old day,
    # the other found nothing left; later, both were no-ops.
    old_count = FIRST_NEW_ROUND * ISSUERS * PER_ROUND
    new_count = (len(ROUNDS) - FIRST_NEW_ROUND) * ISSUERS * PER_ROUND
    moved = [sorted(results[ISSUERS + i][r] for i in range(RESETTERS)) for r in RESET_ROUNDS]
    assert moved == [[0, old_count], [0, 0]]

    # What each kiosk was told: the clock of its round, numbers that only grow within a day.
    issued = {r: [t for w in range(ISSUERS) for t in results[w][r]] for r in range(len(ROUNDS))}
    for r, moment in enumerate(ROUNDS):
        assert {when for _, _, when in issued[r]} == {moment}
    for first, last in ((0, FIRST_NEW_ROUND), (FIRST_NEW_ROUND, len(ROUNDS))):
        in_order = [sorted(int(num[1:]) for _, num, _ in issued[r]) for r in range(first, last)]
        flat = [seq for batch in in_order for seq in batch]
        assert flat == list(range(1, len(flat) + 1)), "a later round got a smaller number"
    assert sorted(num for _, num, _ in issued[FIRST_NEW_ROUND]) == checks.numbers(
        "A", ISSUERS * PER_ROUND
    )

    check_database(database_url, old_count, new_count)


def check_database(db_url: str, old_count: int, new_count: int) -> None:
    snap = checks.snapshot(db_url)
    tickets = all_tickets(snap)
    for t in tickets:  # the business day is the local date of the issue moment
        assert t.business_day == t.issued_at.astimezone(SHANGHAI).date(), t.number
    old = [t for t in tickets if t.business_day == OLD_DAY]
    new = [t for t in tickets if t.business_day == NEW_DAY]
    assert len(old) + len(new) == len(tickets)
    checks.assert_gap_free(old, "A", old_count, OLD_DAY)
    checks.assert_gap_free(new, "A", new_count, NEW_DAY)
    assert snap["counters"] == {("reg", OLD_DAY): old_count, ("reg", NEW_DAY): new_count}
    visit_day = {v.id: v.business_day for v in snap["visits"]}
    assert all(visit_day[t.visit_id] == t.business_day for t in tickets)

    # Yesterday moved to history; today stayed live and untouched.
    assert {t.id for t in snap["history"]} == {t.id for t in old}
    assert {t.id for t in snap["tickets"]} == {t.id for t in new}
    assert {t.status for t in snap["tickets"]} == {"waiting"}
    outcomes = {t.number: t.outcome for t in snap["history"]}
    assert outcomes.pop("A001") == "served"
    assert outcomes.pop("A003") == "cancelled"
    assert set(outcomes.values()) == {"removed_by_reset"}  # waiting ones, and A002 (called)
    for t in snap["history"]:
        if t.outcome == "removed_by_reset":
            assert t.status == "closed_by_reset"
        assert t.closed_at == ROUNDS[FIRST_NEW_ROUND]
    reset_events = [e for e in snap["events"] if e.action == "reset"]
    assert sorted(e.ticket_id for e in reset_events) == sorted(
        t.id for t in snap["history"] if t.outcome == "removed_by_reset"
    )
    assert {e.business_day for e in reset_events} == {OLD_DAY}
    new_ids = {t.id for t in new}
    assert {e.action for e in snap["events"] if e.ticket_id in new_ids} == {"issue", "check_in"}
    db = workers.hall_context(db_url).db
    try:
        with db.session() as s:
            assert s.get(CounterState, "reg-1").current_ticket_id is None  # A002 left with its day
    finally:
        db.dispose()


def test_sixteen_utc_is_midnight_in_shanghai(database_url: str, tmp_path: Path) -> None:
    """The UTC date and the business day differ for eight hours a day, both ways."""
    clock = ManualClock(dt.datetime(2026, 11, 23, 15, 59, 59, 999000, tzinfo=UTC))
    app = make_app(database_url, tmp_path, clock)
    ctx = hall_of(app)
    try:
        kiosk = create_logins(ctx).kiosk
        client: FlaskClient = app.test_client()

        def take() -> dict[str, Any]:
            r = client.post("/api/v1/tickets", json={"service_id": "reg"}, headers=kiosk)
            assert r.status_code == 201, r.get_json()
            return r.get_json()

        def business_day() -> str:
            return client.get("/api/v1/health").get_json()["business_day"]

        steps = [
            # (UTC moment, business day, number)
            (dt.datetime(2026, 11, 23, 15, 59, 59, 999000, tzinfo=UTC), "2026-11-23", "A001"),
            (dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC), "2026-11-24", "A001"),
            (dt.datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC), "2026-11-24", "A002"),
            (dt.datetime(2026, 11, 24, 0, 0, tzinfo=UTC), "2026-11-24", "A003"),  # UTC day turns
            (dt.datetime(2026, 11, 24, 15, 59, 59, tzinfo=UTC), "2026-11-24", "A004"),
            (dt.datetime(2026, 11, 24, 16, 0, tzinfo=UTC), "2026-11-25", "A001"),
        ]
        issued = []
        for moment, day, number in steps:
            clock.set(moment)
            assert business_day() == day, moment
            ticket = take()
            assert ticket["number"] == number, moment
            assert dt.datetime.fromisoformat(ticket["issued_at"]) == moment
            issued.append(ticket["id"])

        snap = checks.snapshot(database_url)
        by_id = {t.id: t for t in snap["tickets"]}
        for (moment, day, _), tid in zip(steps, issued, strict=True):
            assert by_id[tid].issued_at == moment  # stored as UTC, read back aware
            assert by_id[tid].business_day.isoformat() == day
        assert snap["counters"] == {
            ("reg", dt.date(2026, 11, 23)): 1,
            ("reg", dt.date(2026, 11, 24)): 4,
            ("reg", dt.date(2026, 11, 25)): 1,
        }

        # At 16:00 UTC on the 24th the reset closes the 23rd and the 24th, not the 25th.
        assert reset_day(ctx) == 5
        snap = checks.snapshot(database_url)
        assert [t.id for t in snap["tickets"]] == [issued[-1]]
        assert sorted(t.id for t in snap["history"]) == sorted(issued[:-1])
        assert {t.outcome for t in snap["history"]} == {"removed_by_reset"}
    finally:
        ctx.db.dispose()


NIGHTS = 4


def test_call_next_racing_the_day_reset(database_url: str) -> None:
    """At midnight two counters press "call next" while the day reset runs, night after night.

    Each counter holds yesterday's patient; "call next" finishes that ticket and calls today's
    first, while the reset moves the same ticket to history and clears the counter. On
    PostgreSQL the two lock the counter row and the old ticket in opposite orders, so one of
    them may be chosen as a deadlock victim and rerun. Whichever way the race goes, nothing
    may fail, and the old ticket ends up in history exactly once: served if the call finished
    it first, removed_by_reset otherwise.
    """
    ctx = workers.hall_context(database_url)
    clock = ManualClock(local(OLD_DAY, 23, 59, 50))
    ctx.clock = clock
    ensure_state_rows(ctx)
    counters = ["reg-1", "reg-2"]
    for counter in counters:
        actions.set_counter_state(ctx, counter, "open", STAFF)
    held: list[dict[str, int]] = []  # per night: counter -> yesterday's ticket it holds

    def evening(night: int) -> Any:
        def setup() -> None:
            day = OLD_DAY + dt.timedelta(days=night)
            clock.set(local(day, 23, 59, 50))
            for _ in range(4):
                issuing.issue_ticket(ctx, service_id="reg", actor=STAFF, by_device=False)
            held.append({c: actions.call_next(ctx, c, STAFF)["ticket"]["id"] for c in counters})
            clock.set(local(day + dt.timedelta(days=1), 0, 0, 0))
            for _ in range(2):
                issuing.issue_ticket(ctx, service_id="reg", actor=STAFF, by_device=False)

        return setup

    def at_midnight(index: int, night: int) -> Any:
        if index == 0:
            return reset_day(ctx)
        return actions.call_next(ctx, counters[index - 1], STAFF)["ticket"]["id"]

    try:
        results = run_thread_rounds(at_midnight, 3, [evening(n) for n in range(NIGHTS)])
    finally:
        ctx.db.dispose()

    snap = checks.snapshot(database_url)
    live = {t.id: t for t in snap["tickets"]}
    history = {t.id: t for t in snap["history"]}
    assert not live.keys() & history.keys()
    last_day = OLD_DAY + dt.timedelta(days=NIGHTS)
    assert {t.business_day for t in live.values()} == {last_day}
    finished = {e.ticket_id for e in snap["events"] if e.action == "finish"}
    reset = Counter(e.ticket_id for e in snap["events"] if e.action == "reset")
    assert set(reset.values()) <= {1}
    for night in range(NIGHTS):
        today = OLD_DAY + dt.timedelta(days=night + 1)
        for i, counter in enumerate(counters):
            old = history[held[night][counter]]  # yesterday's patient left with yesterday
            if old.id in finished:
                assert (old.outcome, old.status) == ("served", "done")
                assert old.id not in reset
            else:
                assert (old.outcome, old.status) == ("removed_by_reset", "closed_by_reset")
            called = results[i + 1][night]  # today's first patients, one per counter
            ticket = live.get(called) or history[called]
            assert ticket.business_day == today
            assert ticket.counter_id == counter
        assert {results[i + 1][night] for i in range(2)} == {
            t.id
            for t in [*live.values(), *history.values()]
            if t.business_day == today and t.seq in (1, 2)
        }
        # The evening's 4 (2 held at the counters, 2 waiting) and, after the first night, the
        # 2 called at the last midnight (finished this evening).
        assert results[0][night] == (4 if night == 0 else 6)
    calls = Counter(e.ticket_id for e in snap["events"] if e.action == "call")
    assert set(calls.values()) == {1}


@pytest.mark.postgres
def test_day_reset_and_call_next_do_not_deadlock(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Window 1 presses "call next" at midnight, holding yesterday's patient, as the reset runs.

    The interleaving is forced: the reset takes yesterday's ticket rows, then waits until
    "call next" (holding the counter row) waits to finish one of them, then goes on to clear
    the counter. Either may go first; neither may deadlock.
    """
    url, name = pg.tagged(postgres_url)
    ctx = workers.hall_context(url)
    ctx.clock = ManualClock(local(OLD_DAY, 23, 59, 50))
    ensure_state_rows(ctx)
    actions.set_counter_state(ctx, "reg-1", "open", STAFF)
    for _ in range(2):
        issuing.issue_ticket(ctx, service_id="reg", actor=STAFF, by_device=False)
    yesterday = actions.call_next(ctx, "reg-1", STAFF)["ticket"]["id"]
    ctx.clock.set(local(NEW_DAY, 0, 0, 0))  # type: ignore[attr-defined]
    today = issuing.issue_ticket(ctx, service_id="reg", actor=STAFF, by_device=False)[0]["id"]

    holds_tickets = threading.Event()
    next_done = threading.Event()
    log_change = day_reset.log_change

    def log_change_late(*args: Any, **kwargs: Any) -> None:
        if threading.current_thread().name == "reset" and not holds_tickets.is_set():
            holds_tickets.set()
            pg.wait_for_lock_wait(postgres_url, name, next_done)
        log_change(*args, **kwargs)

    monkeypatch.setattr(day_reset, "log_change", log_change_late)

    def press() -> int:
        assert holds_tickets.wait(30)
        try:
            return actions.call_next(ctx, "reg-1", STAFF)["ticket"]["id"]
        finally:
            next_done.set()

    try:
        with pg.retried_conflicts() as conflicts:
            got = pg.run_named_threads({"reset": lambda: reset_day(ctx), "next": press})
    finally:
        ctx.db.dispose()
    # Correct either way: both of yesterday's tickets moved, today's first was called.
    assert got == {"reset": 2, "next": today}
    snap = checks.snapshot(postgres_url)
    old = {t.id: t for t in snap["history"]}[yesterday]
    assert old.outcome in ("served", "removed_by_reset")
    assert [t.id for t in snap["tickets"]] == [today]
    pg.assert_no_deadlock(conflicts)
