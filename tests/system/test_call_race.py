"""Two counters of one service pressing "call next" at the same moment.

``call_next`` locks the service's ``service_state`` row, so two calls on one service take
turns: no ticket may be called twice, none may be lost, and with door caps (诊间候诊上限) no
ticket may be pre-called to two doors. Run with threads sharing one HallContext (one server
process) and with separate OS processes (several server processes), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from queue_server.domain.errors import INVALID_TRANSITION, QueueError
from queue_server.domain.tickets import Action
from queue_server.persistence.models import CounterState
from queue_server.services import actions, issuing, lines
from queue_server.services.setup import ensure_state_rows
from queue_server.site import DEMO_SITE
from tests.conftest import MORNING
from tests.system.helpers import checks, pg, workers
from tests.system.helpers.procs import ProcessPool, run_threads

TICKETS = 50
STAFF = "user:staff1"
CALL_TIME = (MORNING + dt.timedelta(hours=1)).isoformat()

#: Two ultrasound rooms with a door cap of 2, added to the demo hall.
DOOR_COUNTERS = """
[[counters]]
id = "us-door-a"
name_zh = "B超2室"
name_en = "Ultrasound 2"
kind = "room"
services = ["us"]
door_cap = 2

[[counters]]
id = "us-door-b"
name_zh = "B超3室"
name_en = "Ultrasound 3"
kind = "room"
services = ["us"]
door_cap = 2
"""
DOOR_CAP = 2


def door_site(tmp_path: Path) -> str:
    path = tmp_path / "site-doors.toml"
    path.write_text(DEMO_SITE.read_text(encoding="utf-8") + DOOR_COUNTERS, encoding="utf-8")
    return str(path)


def prepare_line(
    db_url: str, site_file: str | None, counters: list[str], service: str, count: int = TICKETS
) -> list[int]:
    """Open ``counters`` and queue ``count`` walk-ins a second apart; returns their ids."""
    ctx = workers.hall_context(db_url, site_file, MORNING.isoformat())
    try:
        ensure_state_rows(ctx)
        for counter in counters:
            actions.set_counter_state(ctx, counter, "open", STAFF)
        ids = []
        for _ in range(count):
            view, _ = issuing.issue_ticket(ctx, service_id=service, actor=STAFF, by_device=False)
            ids.append(view["id"])
            ctx.clock.advance(seconds=1)  # type: ignore[attr-defined]
        return ids
    finally:
        ctx.db.dispose()


def pool(mode: str, process_pool: ProcessPool) -> ProcessPool | None:
    return process_pool if mode == "processes" else None


def race(
    pool: ProcessPool | None,
    db_url: str,
    site_file: str | None,
    counters: list[str],
    rounds: int,
) -> dict[str, list[int | None]]:
    """Both counters press "call next" once per round, at the same moment; returns the results."""
    per_worker = [{"counter_id": c} for c in counters]
    if pool is not None:
        results = pool.run(
            workers.call_in_rounds,
            len(counters),
            per_worker=per_worker,
            db_url=db_url,
            site_file=site_file,
            at=CALL_TIME,
            rounds=rounds,
        )
    else:
        ctx = workers.hall_context(db_url, site_file, CALL_TIME)
        try:
            results = run_threads(
                workers.call_in_rounds, len(counters), per_worker=per_worker, ctx=ctx, rounds=rounds
            )
        finally:
            ctx.db.dispose()
    return dict(zip(counters, results, strict=True))


def check_called_once(
    db_url: str, ids: list[int], presses: dict[str, list[int | None]]
) -> dict[str, Any]:
    """Every ticket called exactly once, by the counter that says it called it.

    A press that found ``queue.empty`` still finished the counter's current patient
    (finish_on_call_next), so a counter whose last press was empty holds no ticket.
    """
    called = {c: [t for t in per if t is not None] for c, per in presses.items()}
    everything = [tid for per in called.values() for tid in per]
    assert sorted(everything) == sorted(ids), "a ticket was called twice or never"
    caller = {tid: counter for counter, per in called.items() for tid in per}
    holds = {c: per[-1] if per else None for c, per in presses.items()}
    snap = checks.snapshot(db_url)
    tickets = {t.id: t for t in snap["tickets"]}
    calls = [e for e in snap["events"] if e.action == "call"]
    assert Counter(e.ticket_id for e in calls) == Counter(ids)
    for e in calls:
        assert e.counter_id == caller[e.ticket_id]
    for tid in ids:
        t = tickets[tid]
        assert t.call_count == 1
        assert t.counter_id == caller[tid]
        assert t.precalled_counter is None
    finishes = Counter(e.ticket_id for e in snap["events"] if e.action == "finish")
    held = {tid for tid in holds.values() if tid is not None}
    assert {tid for tid in ids if tickets[tid].status == "called"} == held
    assert {tid for tid in ids if tickets[tid].status == "done"} == set(ids) - held
    assert finishes == Counter(set(ids) - held)
    db = workers.hall_context(db_url).db
    try:
        with db.session() as s:
            for counter, tid in holds.items():
                assert s.get(CounterState, counter).current_ticket_id == tid
    finally:
        db.dispose()
    return snap


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_two_counters_never_call_one_ticket_twice(
    database_url: str, mode: str, process_pool: ProcessPool
) -> None:
    counters = ["reg-1", "reg-2"]
    ids = prepare_line(database_url, None, counters, "reg")
    rounds = TICKETS // 2
    presses = race(pool(mode, process_pool), database_url, None, counters, rounds)
    assert all(None not in per for per in presses.values()), presses
    snap = check_called_once(database_url, ids, presses)
    # Each round the two counters took the next two of the line, one each.
    for r in range(rounds):
        assert {per[r] for per in presses.values()} == set(ids[2 * r : 2 * r + 2]), r
    # The calls took turns on the service lock: in commit order they follow the line exactly.
    number = {t.id: t.number for t in snap["tickets"]}
    in_order = [number[e.ticket_id] for e in snap["events"] if e.action == "call"]
    assert in_order == checks.numbers("A", TICKETS)


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_door_caps_never_precall_a_ticket_to_two_doors(
    database_url: str, mode: str, tmp_path: Path, process_pool: ProcessPool
) -> None:
    counters = ["us-door-a", "us-door-b"]
    site_file = door_site(tmp_path)
    ids = prepare_line(database_url, site_file, counters, "us")
    # A few rounds more than 50 / 2: at the end one door may still hold tickets the other
    # cannot take (they wait at the first door), so the last presses find queue.empty.
    presses = race(pool(mode, process_pool), database_url, site_file, counters, TICKETS // 2 + 5)
    for per in presses.values():  # once empty, a counter stays empty (nobody new arrives)
        first_empty = per.index(None)
        assert first_empty > 0 and set(per[first_empty:]) == {None}, per
    snap = check_called_once(database_url, ids, presses)

    # Replay the log: each door holds at most DOOR_CAP, a ticket waits at one door at most,
    # and a ticket pre-called to a door is called by that door's counter.
    door: dict[int, str] = {}
    done: set[int] = set()
    precalls: Counter[int] = Counter()
    for e in snap["events"]:
        if e.action == "precall":
            precalls[e.ticket_id] += 1
            assert e.ticket_id not in door, f"ticket {e.ticket_id} pre-called to two doors"
            assert e.ticket_id not in done, f"ticket {e.ticket_id} pre-called after its call"
            door[e.ticket_id] = e.counter_id
            assert sum(1 for c in door.values() if c == e.counter_id) <= DOOR_CAP
        elif e.action == "call":
            at = door.pop(e.ticket_id, None)
            assert at in (None, e.counter_id), f"ticket {e.ticket_id} at {at}, called by another"
            done.add(e.ticket_id)
    assert not door, f"pre-called but never called: {door}"
    assert set(precalls.values()) <= {1}
    assert precalls, "no ticket was pre-called: the door cap was not exercised"


#: Staff actions on one given ticket; each locks the ticket row first, then service_state.
MANUAL = {
    "call_ticket": lambda ctx, tid: actions.call_ticket(ctx, tid, "reg-2", STAFF)["ticket"],
    "cancel": lambda ctx, tid: actions.act(ctx, tid, Action.CANCEL, STAFF),
    "transfer": lambda ctx, tid: actions.transfer(ctx, tid, "pharmacy", "end", STAFF)["from"],
}
#: The head ticket's final status whichever of the two goes first.
MANUAL_END = {"call_ticket": "called", "cancel": "cancelled", "transfer": "transferred"}


@pytest.mark.postgres
@pytest.mark.parametrize("manual", list(MANUAL))
def test_staff_action_and_call_next_on_one_ticket_do_not_deadlock(
    postgres_url: str, manual: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A staff action on the head ticket (window 2 calls it by hand, or cancels or transfers
    it) while window 1 presses "call next", which picks the same ticket.

    The interleaving is forced: the staff action takes its first lock (the service row: every
    path locks counters, then services, then tickets), then waits until "call next" waits for
    a lock, then goes on to the ticket. Either may win; neither may deadlock (each deadlock
    freezes both consoles for PostgreSQL's deadlock_timeout, 1 s by default, before one is
    rerun).
    """
    url, name = pg.tagged(postgres_url)
    ids = prepare_line(url, None, ["reg-1", "reg-2"], "reg", count=3)
    head = ids[0]
    ctx = workers.hall_context(url, None, CALL_TIME)
    holds_ticket = threading.Event()
    next_done = threading.Event()
    lock_services = lines.lock_services

    def lock_services_then_wait(s: Any, service_ids: Any) -> Any:
        rows = lock_services(s, service_ids)
        if threading.current_thread().name == "manual" and not holds_ticket.is_set():
            holds_ticket.set()
            pg.wait_for_lock_wait(postgres_url, name, next_done)
        return rows

    monkeypatch.setattr(lines, "lock_services", lock_services_then_wait)
    monkeypatch.setattr(actions, "lock_services", lock_services_then_wait)

    def staff() -> dict[str, Any] | str:
        try:
            return MANUAL[manual](ctx, head)
        except QueueError as exc:
            return exc.code

    def press() -> int:
        assert holds_ticket.wait(30)
        try:
            return actions.call_next(ctx, "reg-1", STAFF)["ticket"]["id"]
        finally:
            next_done.set()

    try:
        with pg.retried_conflicts() as conflicts:
            got = pg.run_named_threads({"manual": staff, "next": press})
    finally:
        ctx.db.dispose()
    # Correct either way: "call next" called the head or, if the staff action went first,
    # the ticket after it; the head was called at most once and ends as the action leaves it.
    snap = checks.snapshot(postgres_url)
    tickets = {t.id: t for t in snap["tickets"]}
    calls = Counter(e.ticket_id for e in snap["events"] if e.action == "call")
    assert got["next"] in (head, ids[1]), got
    assert tickets[head].status == MANUAL_END[manual], got
    if manual == "call_ticket":
        assert calls[head] == 1
        if got["next"] == head:  # called already: the manual call is refused
            assert got["manual"] == INVALID_TRANSITION
        else:
            assert got["manual"]["id"] == head
    else:
        assert calls[head] == (1 if got["next"] == head else 0)
    pg.assert_no_deadlock(conflicts)
