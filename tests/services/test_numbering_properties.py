"""Ticket numbers under random days in the hall (Hypothesis state machine on SQLite).

Whatever happens - issue, call, no-show, return, cancel, transfer, finish, the clock running past
local midnight, the day reset - per (service, business day) the sequence numbers handed out are
1..n without gaps or repeats, restart at 1 after midnight and are never reused within a day;
and the state-change log holds exactly one "issue" row per ticket.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from queue_server import hall_of
from queue_server.domain.clock import ManualClock, day_start
from queue_server.domain.errors import QUEUE_EMPTY, RANGE_EXHAUSTED, QueueError
from queue_server.domain.tickets import Action, Status
from queue_server.persistence.engine import make_engine
from queue_server.persistence.migrate import upgrade
from queue_server.persistence.models import NumberCounter, Ticket, TicketEvent, TicketHistory
from queue_server.services import actions, day_reset, issuing
from queue_server.services.context import HallContext
from tests.conftest import MORNING, SHANGHAI, make_app

STAFF = "user:staff1"
SERVICES = ["reg", "blood", "pharmacy"]
PREFIX = {"reg": "A", "blood": "B", "pharmacy": "G"}
COUNTERS = ["reg-1", "reg-3", "blood-1", "pharm-1"]  # reg-3 serves reg and pharmacy
PRIORITIES = ["normal", "normal", "normal", "elderly", "military", "disabled", "green_channel"]
POSITIONS = ["front", "end", "issue_time"]


def fresh_hall(clock: ManualClock) -> tuple[HallContext, Path]:
    """The demo hall on a new SQLite file in a new temporary directory."""
    tmp = Path(tempfile.mkdtemp(prefix="numbering-"))
    url = f"sqlite:///{tmp / 'queue.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return hall_of(make_app(url, tmp, clock)), tmp


def check_numbering(ctx: HallContext, model: dict[tuple[str, dt.date], int]) -> None:
    """The invariants, read from the database (live tickets and history together)."""
    with ctx.db.session() as s:
        rows = [
            *s.execute(select(Ticket.id, Ticket.service_id, Ticket.business_day, Ticket.seq)),
            *s.execute(
                select(
                    TicketHistory.id,
                    TicketHistory.service_id,
                    TicketHistory.business_day,
                    TicketHistory.seq,
                )
            ),
        ]
        counters = {
            (c.service_id, c.business_day): c.last_seq for c in s.scalars(select(NumberCounter))
        }
        issue_rows = Counter(
            s.scalars(select(TicketEvent.ticket_id).where(TicketEvent.action == "issue"))
        )
    seqs: dict[tuple[str, dt.date], list[int]] = {}
    for _id, service, day, seq in rows:
        if seq is not None:  # tickets that came by transfer carry no sequence of their own
            seqs.setdefault((service, day), []).append(seq)
    # 1..n per service and day: unique, gap-free, starting at 1 every day
    assert {k: sorted(v) for k, v in seqs.items()} == {
        k: list(range(1, n + 1)) for k, n in model.items()
    }
    assert counters == model
    # one "issue" row per ticket, and no ticket id shared by two tickets
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), "a ticket id is used by two tickets"
    assert issue_rows == Counter(ids)


class NumberingMachine(RuleBasedStateMachine):
    """A hall day (or several) of random staff and patient actions."""

    with_reset = True

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(MORNING)
        self.ctx, self.tmp = fresh_hall(self.clock)
        self.model: dict[tuple[str, dt.date], int] = {}

    def teardown(self) -> None:
        self.ctx.db.dispose()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------ helpers

    def _ids(self, *states: Status) -> list[int]:
        with self.ctx.db.session() as s:
            return list(
                s.scalars(
                    select(Ticket.id)
                    .where(Ticket.status.in_([x.value for x in states]))
                    .order_by(Ticket.id)
                )
            )

    def _pick(self, pick: int, *states: Status) -> int | None:
        ids = self._ids(*states)
        return ids[pick % len(ids)] if ids else None

    # ------------------------------------------------------------ rules

    @initialize()
    def open_counters(self) -> None:
        for counter in COUNTERS:
            actions.set_counter_state(self.ctx, counter, "open", STAFF)

    @rule(
        service=st.sampled_from(SERVICES),
        priority=st.sampled_from(PRIORITIES),
        checked_in=st.booleans(),
        count=st.integers(1, 3),
    )
    def issue(self, service: str, priority: str, checked_in: bool, count: int) -> None:
        for _ in range(count):
            day = self.ctx.day()
            view, created = issuing.issue_ticket(
                self.ctx,
                service_id=service,
                actor=STAFF,
                by_device=False,
                priority=priority,
                checked_in=checked_in,
            )
            assert created
            n = self.model.get((service, day), 0) + 1
            assert view["number"] == f"{PREFIX[service]}{n:03d}"
            self.model[(service, day)] = n

    @rule(pick=st.integers(0, 1000))
    def check_in(self, pick: int) -> None:
        ticket = self._pick(pick, Status.REGISTERED)
        if ticket is not None:
            issuing.check_in(self.ctx, ticket, STAFF)

    @rule(counter=st.sampled_from(COUNTERS), times=st.integers(1, 2))
    def call_next(self, counter: str, times: int) -> None:
        for _ in range(times):
            try:
                actions.call_next(self.ctx, counter, STAFF)
            except QueueError as exc:
                assert exc.code == QUEUE_EMPTY

    @rule(pick=st.integers(0, 1000))
    def no_show(self, pick: int) -> None:
        ticket = self._pick(pick, Status.CALLED)
        if ticket is not None:
            actions.act(self.ctx, ticket, Action.NO_SHOW, STAFF)

    @rule(pick=st.integers(0, 1000))
    def come_back(self, pick: int) -> None:
        ticket = self._pick(pick, Status.NO_SHOW)
        if ticket is not None:
            actions.act(self.ctx, ticket, Action.RETURN, STAFF)

    @rule(pick=st.integers(0, 1000))
    def cancel(self, pick: int) -> None:
        ticket = self._pick(pick, Status.REGISTERED, Status.WAITING, Status.NO_SHOW)
        if ticket is not None:
            actions.act(self.ctx, ticket, Action.CANCEL, STAFF)

    @rule(pick=st.integers(0, 1000))
    def finish(self, pick: int) -> None:
        ticket = self._pick(pick, Status.CALLED, Status.SERVING)
        if ticket is not None:
            actions.act(self.ctx, ticket, Action.FINISH, STAFF)

    @rule(
        pick=st.integers(0, 1000),
        to=st.sampled_from(SERVICES),
        position=st.sampled_from(POSITIONS),
    )
    def transfer(self, pick: int, to: str, position: str) -> None:
        ticket = self._pick(pick, Status.WAITING, Status.CALLED, Status.NO_SHOW)
        if ticket is None:
            return
        with self.ctx.db.session() as s:
            t = s.get(Ticket, ticket)
            assert t is not None
            source = t.service_id
        if source == to:
            return
        moved = actions.transfer(self.ctx, ticket, to, position, STAFF)
        assert moved["ticket"]["number"] == moved["from"]["number"]

    @rule(minutes=st.integers(1, 240))
    def wait(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)
        self._background_reset()

    @rule(seconds=st.integers(1, 900))
    def to_just_before_midnight(self, seconds: int) -> None:
        tomorrow = self.ctx.day() + dt.timedelta(days=1)
        target = day_start(tomorrow, self.ctx.site.timezone) - dt.timedelta(seconds=seconds)
        if target > self.clock.now():
            self.clock.set(target)
            self._background_reset()

    @precondition(lambda self: self.with_reset)
    @rule()
    def reset_day(self) -> None:
        """An extra run (the API's or the CLI's reset): idempotent."""
        self._reset()

    def _background_reset(self) -> None:
        # The server runs the reset every day_reset_interval_s (a minute or so): whenever the
        # clock has moved on, it has run.
        if self.with_reset:
            self._reset()

    def _reset(self) -> None:
        today = self.ctx.day()
        day_reset.reset_day(self.ctx)
        with self.ctx.db.session() as s:
            days = set(s.scalars(select(Ticket.business_day)))
        assert days <= {today}  # nothing of an earlier day is left live

    # ------------------------------------------------------------ the invariant

    @invariant()
    def numbering_holds(self) -> None:
        check_numbering(self.ctx, self.model)


class NumberingWithoutReset(NumberingMachine):
    """The same, the clock still crossing midnight, but the day reset never run."""

    with_reset = False


MACHINE_SETTINGS = settings(
    max_examples=30,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure reproduces on any machine
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_numbering_invariants_across_midnight() -> None:
    run_state_machine_as_test(NumberingWithoutReset, settings=MACHINE_SETTINGS)


def test_numbering_invariants_with_day_reset() -> None:
    run_state_machine_as_test(NumberingMachine, settings=MACHINE_SETTINGS)


# ---------------------------------------------------------------- the same, spelled out


@pytest.fixture
def hall() -> Iterator[tuple[HallContext, ManualClock]]:
    clock = ManualClock(MORNING)
    ctx, tmp = fresh_hall(clock)
    yield ctx, clock
    ctx.db.dispose()
    shutil.rmtree(tmp, ignore_errors=True)


def issue(ctx: HallContext, service: str = "reg") -> dict[str, Any]:
    return issuing.issue_ticket(ctx, service_id=service, actor=STAFF, by_device=False)[0]


def test_numbers_restart_at_local_midnight(hall: tuple[HallContext, ManualClock]) -> None:
    ctx, clock = hall
    clock.set(dt.datetime(2026, 11, 23, 23, 59, 59, tzinfo=SHANGHAI))
    assert [issue(ctx)["number"] for _ in range(2)] == ["A001", "A002"]
    clock.advance(seconds=1)  # 00:00:00 local: 16:00 UTC
    assert issue(ctx)["number"] == "A001"
    assert issue(ctx, "blood")["number"] == "B001"


def test_numbers_continue_after_a_reset_within_the_day(
    hall: tuple[HallContext, ManualClock],
) -> None:
    ctx, clock = hall
    issue(ctx)
    clock.set(dt.datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI))
    assert issue(ctx)["number"] == "A001"
    assert day_reset.reset_day(ctx) == 1
    assert issue(ctx)["number"] == "A002"
    assert day_reset.reset_day(ctx) == 0  # nothing of an earlier day left: idempotent
    assert issue(ctx)["number"] == "A003"


def test_range_exhausted_and_back_next_day(hall: tuple[HallContext, ManualClock]) -> None:
    # im1 hands out C001-C060 a day. The 61st is refused and uses nothing up.
    ctx, clock = hall
    numbers = [issue(ctx, "im1")["number"] for _ in range(60)]
    assert numbers[0] == "C001" and numbers[-1] == "C060" and len(set(numbers)) == 60
    for _ in range(2):
        with pytest.raises(QueueError) as info:
            issue(ctx, "im1")
        assert info.value.code == RANGE_EXHAUSTED
    with ctx.db.session() as s:
        row = s.get(NumberCounter, ("im1", dt.date(2026, 11, 23)))
        assert row is not None and row.last_seq == 60
    clock.set(dt.datetime(2026, 11, 24, 7, 30, tzinfo=SHANGHAI))
    assert issue(ctx, "im1")["number"] == "C001"


def test_ticket_ids_are_not_reused_after_the_day_reset(
    hall: tuple[HallContext, ManualClock],
) -> None:
    ctx, clock = hall
    first = issue(ctx)
    clock.set(dt.datetime(2026, 11, 24, 0, 0, 1, tzinfo=SHANGHAI))
    assert day_reset.reset_day(ctx) == 1  # the nightly reset, before the first ticket of the day
    second = issue(ctx)
    assert second["id"] != first["id"]
    with ctx.db.session() as s:
        issues = Counter(
            s.scalars(select(TicketEvent.ticket_id).where(TicketEvent.action == "issue"))
        )
    assert set(issues.values()) == {1}
    clock.set(dt.datetime(2026, 11, 25, 0, 0, 1, tzinfo=SHANGHAI))
    assert day_reset.reset_day(ctx) == 1  # the second night's reset must work too
